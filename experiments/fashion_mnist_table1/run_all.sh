#!/usr/bin/env bash
# Trains and scores every (method, seed) of the Fashion-MNIST reproduction.
#
#   experiments/fashion_mnist_table1/run_all.sh [RUNS_DIR] [SEEDS] [METHODS]
#
# Defaults: RUNS_DIR=runs/fashion_mnist_table1, SEEDS="0 1 2",
# METHODS="gan ssgan ssgan_sbn ssgan_ms ssgan_la". Each run uses
# configs/fashion_mnist_<method>.py:repro (width 16, 1000 G steps, FD-FMNIST
# on 2k samples every 250 steps) and is then scored on 10k samples against
# the test split (eval/step_1000.json) and probed (linear probe on D's block
# features, 10k train / 5k test images, and rotation accuracy:
# eval/probe_step_1000.json). Runs are seed-major, so a partial
# sweep already has every method. Finished runs are skipped and unfinished
# ones resume from their checkpoints: rerun the same command after a stop.
# Per-run wall times go to RUNS_DIR/times.csv.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-runs/fashion_mnist_table1}"
seeds="${2:-0 1 2}"
methods="${3:-gan ssgan ssgan_sbn ssgan_ms ssgan_la}"
python="${PYTHON:-python}"
mkdir -p "$runs"
[[ -f "$runs/times.csv" ]] || echo "method,seed,train_s,eval_s,probe_s" >"$runs/times.csv"
for seed in $seeds; do
  for method in $methods; do
    workdir="$runs/${method}_seed${seed}"
    if [[ -f "$workdir/eval/probe_step_1000.json" ]]; then
      echo "skip $workdir (done)"
      continue
    fi
    echo "=== $method seed $seed -> $workdir"
    t0=$(date +%s)
    "$python" -m ssgan_jax.main \
      --config "configs/fashion_mnist_${method}.py:repro" \
      --config.seed="$seed" --workdir "$workdir"
    t1=$(date +%s)
    "$python" -m ssgan_jax.evaluate --workdir "$workdir" \
      --num_samples 10000 >/dev/null
    t2=$(date +%s)
    "$python" -m ssgan_jax.evaluate --workdir "$workdir" --probe \
      --probe_train_limit 10000 --probe_test_limit 5000 >/dev/null
    t3=$(date +%s)
    echo "$method,$seed,$((t1 - t0)),$((t2 - t1)),$((t3 - t2))" \
      >>"$runs/times.csv"
  done
done
