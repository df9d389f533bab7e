#!/usr/bin/env bash
# One row of the default-recipe sweep: every candidate gets the same wall
# budget on the same idle 2-core machine (config.train_minutes; the loop's
# FD-FMNIST evaluations on 5,000 samples count against it), then 10,000
# samples of its last checkpoint are scored with our evaluator.
#
#   experiments/2026-12-01_default_recipe/run.sh <candidate> [runs_dir]
#   experiments/2026-12-01_default_recipe/run.sh mimicry [runs_dir] TORCH_PYTHON
#
# Run from the repository root, one run at a time (never two trainings on
# the 2 cores at once). `python` is the env with ssgan_jax installed.
set -euo pipefail
name="$1"
runs="${2:-runs/default_recipe}"
minutes="${MINUTES:-19}"
mkdir -p "$runs"
w="$runs/$name"

# Every candidate: the default config, a wall budget instead of a step count.
common=(
  --config configs/fashion_mnist_ssgan.py
  --config.train_minutes="$minutes"
  --config.total_steps=1000000
  --config.checkpoint_every_steps=500
)

case "$name" in
  mimicry)
    # torch-mimicry's SSGAN-32 (its recipe; width 32 as ours), then our
    # evaluator on every snapshot.
    "${3:?the torch-mimicry env python}" benchmarks/mimicry_fmnist.py \
      --out "$w" --minutes "$((minutes + 1))"
    mkdir -p "$w/scores"
    for f in "$w"/*.npz; do
      python -m ssgan_jax.evaluate --images "$f" \
        > "$w/scores/$(basename "$f" .npz).json"
    done
    exit 0
    ;;
  peer_recipe_ema)
    # torch-mimicry's SSGAN-32 recipe (hinge, batch 64, n_dis 2, z 128,
    # Adam 2e-4 (0, 0.9), rotation on a quarter of the images) + our EMA.
    over=(
      --config.loss.name=hinge --config.batch_size=64 --config.disc_iters=2
      --config.model.z_dim=128 --config.ssl.rotation.fraction=0.25
      --config.eval.every_steps=250
    )
    ;;
  ndis1_ttur_ema995)
    # More G steps per minute: n_dis 1, D at twice G's learning rate, and a
    # shorter EMA (decay 0.995 from step 250).
    over=(
      --config.loss.name=hinge --config.batch_size=64 --config.disc_iters=1
      --config.model.z_dim=128 --config.ssl.rotation.fraction=0.25
      --config.optimizer.d.learning_rate=4e-4
      --config.ema.decay=0.995 --config.ema.start_step=250
      --config.eval.every_steps=400
    )
    ;;
  lr2x)
    # Round 2 (after the threaded convolutions): the default with both
    # learning rates doubled (G 4e-4, D 8e-4) for the short budget.
    over=(
      --config.optimizer.g.learning_rate=4e-4
      --config.optimizer.d.learning_rate=8e-4
    )
    ;;
  lr3x)
    # Round 2: three times the default's learning rates (G 6e-4, D 1.2e-3).
    over=(
      --config.optimizer.g.learning_rate=6e-4
      --config.optimizer.d.learning_rate=1.2e-3
    )
    ;;
  batch32)
    # Round 2: the default at batch 32 (more, cheaper steps per minute).
    over=(--config.batch_size=32)
    ;;
  lr2x_batch32)
    # Round 2: both of the above.
    over=(
      --config.batch_size=32
      --config.optimizer.g.learning_rate=4e-4
      --config.optimizer.d.learning_rate=8e-4
    )
    ;;
  ndis2)
    # Round 3 (levers for recall): the default's rates with two D steps per
    # G step (a better-trained D, half the G steps per minute).
    over=(--config.disc_iters=2)
    ;;
  ndis2_decay1400)
    # Round 3: ndis2 with 1,400 G steps (to fit 20 minutes with its
    # evaluations) and both rates decayed linearly to 0 over the last quarter.
    over=(
      --config.disc_iters=2 --config.total_steps=1400 --config.train_minutes=0
      --config.optimizer.g.schedule=linear_decay
      --config.optimizer.d.schedule=linear_decay
    )
    ;;
  ndis2_b48)
    # Round 4: ndis2 (the recall lever) at batch 48, ~4/3 the G steps per
    # minute, to fit the 20 minutes with room for its evaluations.
    over=(--config.disc_iters=2 --config.batch_size=48)
    ;;
  ndis1_d2x)
    # Round 4: a stronger D at n_dis 1's speed: D at 4x G's rate (2.4e-3).
    over=(--config.optimizer.d.learning_rate=2.4e-3)
    ;;
  ndis2_b48_ema)
    # Round 5: ndis2_b48 with an EMA of G (decay 0.995, a ~200-step
    # horizon, from step 1,000) sampled with standing statistics; the live
    # weights of the same checkpoints are scored too (--weights live), so
    # the EMA's effect is a paired comparison within one run.
    over=(
      --config.disc_iters=2 --config.batch_size=48
      --config.ema.decay=0.995 --config.ema.start_step=1000
      --config.ema.bn_stats=standing
    )
    ;;
  ndis2_b48_ema_seed1)
    # Round 5: ndis2_b48_ema with another seed (initial weights, data
    # order, codes), for the seed-to-seed spread.
    over=(
      --config.disc_iters=2 --config.batch_size=48
      --config.ema.decay=0.995 --config.ema.start_step=1000
      --config.ema.bn_stats=standing --config.seed=1
    )
    ;;
  ndis2_b48_ema998)
    # Round 6 (the class-balance lever): ndis2_b48_ema with a longer EMA
    # horizon (decay 0.998, ~500 steps, from step 1,000); paired with
    # ndis2_b48_ema (same seed, one variable changed).
    over=(
      --config.disc_iters=2 --config.batch_size=48
      --config.ema.decay=0.998 --config.ema.start_step=1000
      --config.ema.bn_stats=standing
    )
    ;;
  default)
    # The chosen default as README command 1 runs it (its own step count).
    python -m ssgan_jax.main --config configs/fashion_mnist_ssgan.py \
      --workdir "$w"
    python -m ssgan_jax.evaluate --workdir "$w" --num_samples 10000 \
      > "$w/final_eval.json"
    # The default keeps an EMA of G: its live G on the same checkpoint too.
    python -m ssgan_jax.evaluate --workdir "$w" --num_samples 10000 \
      --live_weights > "$w/final_eval_live.json"
    exit 0
    ;;
  *)
    echo "error: unknown candidate '$name'; known: mimicry" \
      "peer_recipe_ema ndis1_ttur_ema995 lr2x lr3x batch32 lr2x_batch32" \
      "ndis2 ndis2_decay1400 ndis2_b48 ndis1_d2x ndis2_b48_ema ndis2_b48_ema_seed1 ndis2_b48_ema998 default" >&2
    exit 2
    ;;
esac

python -m ssgan_jax.main "${common[@]}" "${over[@]}" --workdir "$w"
python -m ssgan_jax.evaluate --workdir "$w" --num_samples 10000 \
  > "$w/final_eval.json"
# An EMA run: its live G on the same checkpoint too (a paired comparison).
if grep -q -- "--config.ema.decay=0.[0-9]" <<< "${over[*]}"; then
  python -m ssgan_jax.evaluate --workdir "$w" --num_samples 10000 \
    --live_weights > "$w/final_eval_live.json"
fi
