"""Samples of any saved run: a file of images, a grid, latent interpolations.

  python -m ssgan_jax.sample --workdir runs/cifar10_ssgan \
      [--step 50000 | --best] --num_samples 10000 --out samples.npz \
      [--grid grid.png] [--grid_size 64] \
      [--interpolate 8x10 --interpolate_out interp.png] [--seed 0]

Works for every dataset and method (nothing is scored here). `--out`
holds `images` [N, H, W, C] (uint8, or float32 in [-1, 1] with --dtype
float32), `labels` [N] for a Cond-GAN (one class after another with the
default --class_order cycle), and the checkpoint's `step` and the `seed`;
score it with `python -m ssgan_jax.evaluate --images` (Fashion-MNIST) or
`python -m ssgan_jax.evaluation.fid --images` (Inception FID). The same
--seed gives the same images as `python -m ssgan_jax.evaluate --workdir`.
What was written goes to stdout as JSON. The work is in
`ssgan_jax.sampling.sample_workdir`.
"""

import json
import sys

import jax
from absl import app
from absl import flags

from ssgan_jax import cli
from ssgan_jax import errors

_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir to sample.")
_STEP = flags.DEFINE_integer(
  "step", None, "Checkpoint step to sample; default the newest."
)
_BEST = flags.DEFINE_bool(
  "best",
  False,
  "Sample the best checkpoint that periodic evaluation kept"
  " (best_checkpoint/) instead of --step.",
)
_OUT = flags.DEFINE_string(
  "out", None, ".npz file for --num_samples images (key 'images')."
)
_NUM_SAMPLES = flags.DEFINE_integer(
  "num_samples", 10_000, "Images to write to --out."
)
_GRID = flags.DEFINE_string(
  "grid", None, ".png file for a grid of the first --grid_size samples."
)
_GRID_SIZE = flags.DEFINE_integer("grid_size", 64, "Images in --grid.")
_INTERPOLATE = flags.DEFINE_string(
  "interpolate",
  None,
  "ROWSxCOLUMNS: each row walks a straight line between two latent codes"
  " (a Cond-GAN row keeps one class); written to --interpolate_out.",
)
_INTERPOLATE_OUT = flags.DEFINE_string(
  "interpolate_out", None, ".png file for --interpolate."
)
_BATCH_SIZE = flags.DEFINE_integer(
  "batch_size",
  None,
  "Latent codes per device call, a multiple of the device count; default"
  " 500 rounded down to one.",
)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the latent codes.")
_CLASS_ORDER = flags.DEFINE_string(
  "class_order",
  "cycle",
  "Cond-GAN: 'cycle' (sample k draws class k mod K: balanced, and a grid"
  " column per class) or 'uniform' (random, as the evaluators draw).",
)
_DTYPE = flags.DEFINE_string(
  "dtype", "uint8", "Stored images: uint8 (0..255) or float32 ([-1, 1])."
)
_EMA_BN_STATS = cli.define_ema_bn_stats_flag()
_LIVE_WEIGHTS = cli.define_live_weights_flag()
flags.mark_flags_as_required(["workdir"])


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {' '.join(argv[1:])} (see --help)")
  cli.quiet_library_logs()
  jax.config.update("jax_threefry_partitionable", True)
  from ssgan_jax import sampling  # pylint: disable=g-import-not-at-top

  try:
    result = sampling.sample_workdir(
      _WORKDIR.value,
      out=_OUT.value,
      grid=_GRID.value,
      interpolate=_INTERPOLATE.value,
      interpolate_out=_INTERPOLATE_OUT.value,
      step=_STEP.value,
      best=_BEST.value,
      num_samples=_NUM_SAMPLES.value,
      grid_size=_GRID_SIZE.value,
      batch_size=_BATCH_SIZE.value,
      seed=_SEED.value,
      class_order=_CLASS_ORDER.value,
      dtype=_DTYPE.value,
      ema_bn_stats=_EMA_BN_STATS.value,
      live_weights=_LIVE_WEIGHTS.value,
    )
  except errors.UserError as e:
    cli.fail(str(e))
  files = ", ".join(result["files"].values())
  print(
    f"Sampled {result['workdir']} at step {result['step']}"
    f" ({result['checkpoint']}, G weights: {result['generator_weights']}):"
    f" {files}",
    file=sys.stderr,
  )
  print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
