#!/usr/bin/env bash
# The default job for 500 steps with every 3x3 layer on Winograd F(4x4) vs on
# XLA's own convolution (same seed, same data order): does Winograd's larger
# float32 rounding change what training reaches? Run from the repository root:
#   bash experiments/2026-12-02_conv_algorithms/run.sh RUNS_DIR [SEEDS]
# Each run writes RUNS_DIR/<conv>_s<seed>/ (eval/during_training/step_500.json,
# samples/). SEEDS defaults to "0 1": two seeds give the seed-to-seed spread
# that any difference between the algorithms has to be judged against.
# CONVS (default "xla winograd4") names the model.conv choices to run.
set -euo pipefail
runs=${1:?usage: run.sh RUNS_DIR [SEEDS]}
seeds=${2:-0 1}
for seed in $seeds; do for conv in ${CONVS:-xla winograd4}; do
  start=$(date +%s)
  python -m ssgan_jax.main --config configs/fashion_mnist_ssgan.py \
    --workdir "$runs/${conv}_s$seed" --config.model.conv="$conv" \
    --config.seed="$seed" \
    --config.total_steps=500 --config.eval.every_steps=500 \
    --config.checkpoint_every_steps=500
  echo "${conv}_s$seed wall_s $(( $(date +%s) - start ))" | tee -a "$runs/wall.txt"
done; done
