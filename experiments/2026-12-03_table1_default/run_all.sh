#!/usr/bin/env bash
# Table 1 at the default recipe (issue 19): every (method, seed) trains
# configs/fashion_mnist_<method>.py as the default job does (1,800 G steps,
# batch 48, n_dis 2, width 32, EMA of G), with FD-FMNIST on 5,000 samples
# every 300 steps instead of 600 (six points for the FD-vs-minutes plot;
# the same for every method), then scores its last checkpoint on 10,000
# samples and probes D's blocks (fitted on 10k train images, scored on 5k
# test images, and the rotation head's accuracy).
#
#   experiments/2026-12-03_table1_default/run_all.sh [RUNS_DIR] [SEEDS] [METHODS]
#
# VARIANT=forgetting runs configs/fashion_mnist_<method>.py:forgetting
# instead (4x the steps, FD-FMNIST and the probe of every D block at ten
# points: configs/common.py forgetting()) as <method>_forgetting_seed<seed>.
#
# Defaults: RUNS_DIR=runs/table1_default, SEEDS="0 1 2",
# METHODS="gan ssgan ssgan_sbn ssgan_ms ssgan_la cgan". Seed-major, so a
# partial sweep already has every method of the first seeds; the same seed
# gives every method the same initial weights and data order. Finished runs
# are skipped and a stopped one resumes from its checkpoint: rerun the same
# command. Run it alone on the machine (never two trainings at once).
# Each finished run's scores (small JSON files, no checkpoints) are copied
# to results/<method>_seed<seed>/ here, in the workdir's layout (config.json,
# eval/step_<N>.json, eval/during_training/, eval/probe_step_<N>.json, the
# last grid in samples/) plus wall.json, so that analyze.py reads either; with
# COMMIT=1 they are committed at once, so that a stopped session loses
# nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=experiments/2026-12-03_table1_default
runs="${1:-runs/table1_default}"
seeds="${2:-0 1 2}"
methods="${3:-gan ssgan ssgan_sbn ssgan_ms ssgan_la cgan}"
python="${PYTHON:-python}"
variant="${VARIANT:-}"
if [[ -n "$variant" && "$variant" != forgetting ]]; then
  echo "VARIANT must be empty or 'forgetting', not '$variant'" >&2
  exit 2
fi
if [[ -z "$variant" ]]; then
  extra=(--config.eval.every_steps=300)
else
  extra=()  # the variant sets its own evaluation schedule
fi
mkdir -p "$runs" "$here/results"
for seed in $seeds; do
  for method in $methods; do
    name="${method}${variant:+_$variant}_seed${seed}"
    workdir="$runs/$name"
    out="$here/results/$name"
    if compgen -G "$out/eval/probe_step_*.json" >/dev/null; then
      echo "skip $name (done)"
      continue
    fi
    echo "=== $name -> $workdir"
    t0=$(date +%s)
    "$python" -m ssgan_jax.main \
      --config "configs/fashion_mnist_${method}.py${variant:+:$variant}" \
      --config.seed="$seed" "${extra[@]}" \
      --workdir "$workdir"
    t1=$(date +%s)
    "$python" -m ssgan_jax.evaluate --workdir "$workdir" \
      --num_samples 10000 >/dev/null
    t2=$(date +%s)
    "$python" -m ssgan_jax.evaluate --workdir "$workdir" --probe \
      --probe_train_limit 10000 --probe_test_limit 5000 >/dev/null
    t3=$(date +%s)
    step=$(ls "$workdir/checkpoints" | grep -E "^[0-9]+$" | sort -n | tail -1)
    mkdir -p "$out/eval"
    cp "$workdir/config.json" "$out/"
    cp "$workdir/eval/step_$step.json" "$out/eval/"
    cp -r "$workdir/eval/during_training" "$out/eval/"
    if [[ -d "$workdir/eval/probe" ]]; then
      cp -r "$workdir/eval/probe" "$out/eval/"
    fi
    last=$(ls "$workdir/samples" | sort -V | tail -1)
    mkdir -p "$out/samples"
    cp "$workdir/samples/$last" "$out/samples/"
    # train_loop_s: the training clock of the last evaluation during
    # training (train_wall_s), which leaves out start-up and compiles.
    loop=$("$python" -c 'import json, sys
print(round(json.load(open(sys.argv[1]))["train_wall_s"]))' \
      "$workdir/eval/during_training/step_$step.json")
    printf '{"train_s": %d, "train_loop_s": %d, "eval_s": %d, "probe_s": %d, "commit": "%s"}\n' \
      $((t1 - t0)) "$loop" $((t2 - t1)) $((t3 - t2)) "$(git rev-parse --short HEAD)" \
      >"$out/wall.json"
    # Last: the probe's result marks the run done.
    cp "$workdir/eval/probe_step_$step.json" "$out/eval/"
    if [[ "${COMMIT:-0}" == 1 ]]; then
      { git add "$out" &&
        git commit -q -m "Issue 19: Table 1 at the default recipe, $name scores" \
          -- "$out"; } || echo "warning: could not commit $out" >&2
    fi
  done
done
