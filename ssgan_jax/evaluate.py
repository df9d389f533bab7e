"""Scores a run's checkpoint, or a file of images, with FD-FMNIST and friends.

  python -m ssgan_jax.evaluate --workdir runs/fmnist_ssgan [--step 1800 | --best]
      [--num_samples 10000] [--batch_size 500] [--seed 0]
      [--reference fashion_mnist:test]
  python -m ssgan_jax.evaluate --workdir runs/cifar10_ssgan --evaluator inception
      [--inception_weights fid_inception.npz --reference_stats stats.npz]
  python -m ssgan_jax.evaluate --images samples.npz
      [--reference fashion_mnist:test]
  python -m ssgan_jax.evaluate --workdir runs/fmnist_ssgan --evaluator probe
      [--step 1800] [--batch_size 500] [--probe_train_limit N]
      [--probe_test_limit M]

A summary goes to stderr and the numbers as JSON to stdout (`--workdir`
also writes them to <workdir>/eval/step_<step>.json, or
inception_step_<step>.json). FD-FMNIST is measured in a committed
Fashion-MNIST classifier, not Inception: it is not FID. `--evaluator
inception` scores a run of any dataset with the FID Inception network and
reference statistics made for its dataset (docs/fid.md). The work is in
`ssgan_jax.evaluation.run`.

`--evaluator probe` (or `--probe`) measures D instead of G's samples (the paper's Tables 3-4): a
linear probe on each D block's average-pooled features (any labelled
dataset: fitted on dataset.split, scored on dataset.eval_split) and the
accuracy of D's head of each ssl task, written to <workdir>/eval/probe_step_<step>.json (work
in `ssgan_jax.evaluation.probe_run`; see docs/probe.md).
"""

import json
import sys

import jax
from absl import app
from absl import flags

from ssgan_jax import cli
from ssgan_jax import errors

_WORKDIR = flags.DEFINE_string(
  "workdir", None, "Training workdir to score (config.json, checkpoints/)."
)
_IMAGES = flags.DEFINE_string(
  "images",
  None,
  ".npz file whose 'images' array to score: uint8 0..255 or float in"
  " [-1, 1], [N, 32, 32, 1], [N, 28, 28, 1] or [N, 28, 28].",
)
_REFERENCE = flags.DEFINE_string(
  "reference",
  "fashion_mnist:test",
  "Real split to compare with: fashion_mnist:test or fashion_mnist:train.",
)
_STEP = flags.DEFINE_integer(
  "step", None, "--workdir: checkpoint step to score; default the newest."
)
_NUM_SAMPLES = flags.DEFINE_integer(
  "num_samples", 10_000, "--workdir: number of images to sample from G."
)
_BATCH_SIZE = flags.DEFINE_integer(
  "batch_size",
  500,
  "--workdir: latent codes per device call, a multiple of the device count;"
  " when not given, 500 rounded down to one.",
)
_SEED = flags.DEFINE_integer("seed", 0, "--workdir: seed of the latent codes.")
_BEST = flags.DEFINE_bool(
  "best",
  False,
  "--workdir: score the best checkpoint that periodic evaluation kept"
  " (best_checkpoint/, named in eval/best.json) instead of --step.",
)
_EVALUATOR = flags.DEFINE_string(
  "evaluator",
  None,
  "--workdir: fmnist (FD-FMNIST, offline; the default for Fashion-MNIST"
  " runs), inception (FID / IS / KID; the default for other runs) or probe"
  " (D's features, as --probe).",
)
_INCEPTION_WEIGHTS = flags.DEFINE_string(
  "inception_weights",
  None,
  "--evaluator inception: converted FID Inception .npz (docs/fid.md);"
  " default the run's eval.inception_weights.",
)
_REFERENCE_STATS = flags.DEFINE_string(
  "reference_stats",
  None,
  "--evaluator inception: reference statistics .npz (docs/fid.md);"
  " default the run's eval.reference_stats.",
)
_EMA_BN_STATS = cli.define_ema_bn_stats_flag()
_LIVE_WEIGHTS = cli.define_live_weights_flag()
_PROBE = flags.DEFINE_bool(
  "probe",
  False,
  "--workdir: instead of scoring samples, probe D's features (linear probe"
  " per block, ssl head accuracy); see docs/probe.md.",
)
_PROBE_TRAIN_LIMIT = flags.DEFINE_integer(
  "probe_train_limit",
  None,
  "--probe: fit on the first N train images only (default all; quick runs).",
)
_PROBE_TEST_LIMIT = flags.DEFINE_integer(
  "probe_test_limit",
  None,
  "--probe: score on the first N test images only (default all).",
)


def _given(flag) -> int | None:
  """The flag's value if it was on the command line, else None."""
  return flag.value if flags.FLAGS[flag.name].present else None


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {' '.join(argv[1:])} (see --help)")
  cli.quiet_library_logs()
  jax.config.update("jax_threefry_partitionable", True)
  from ssgan_jax.evaluation import run  # pylint: disable=g-import-not-at-top

  if _PROBE.value or _EVALUATOR.value == "probe":
    _probe()
    return
  limits = [
    f"--{f.name}"
    for f in (_PROBE_TRAIN_LIMIT, _PROBE_TEST_LIMIT)
    if _given(f) is not None
  ]
  if limits:
    verb = "applies" if len(limits) == 1 else "apply"
    cli.fail(f"{', '.join(limits)} only {verb} with --probe.")
  try:
    result = run.evaluate(
      workdir=_WORKDIR.value,
      images=_IMAGES.value,
      reference=_REFERENCE.value,
      step=_given(_STEP),
      num_samples=_given(_NUM_SAMPLES),
      batch_size=_given(_BATCH_SIZE),
      seed=_given(_SEED),
      best=_BEST.value,
      evaluator=_EVALUATOR.value,
      inception_weights=_INCEPTION_WEIGHTS.value,
      reference_stats=_REFERENCE_STATS.value,
      ema_bn_stats=_EMA_BN_STATS.value,
      live_weights=_LIVE_WEIGHTS.value,
    )
  except errors.UserError as e:
    cli.fail(str(e))
  print(run.summary(result), file=sys.stderr)
  print(json.dumps(result, indent=2, sort_keys=True))


def _probe():
  from ssgan_jax.evaluation import probe_run  # pylint: disable=g-import-not-at-top

  try:
    result = probe_run.evaluate(
      workdir=_WORKDIR.value,
      images=_IMAGES.value,
      step=_given(_STEP),
      batch_size=_given(_BATCH_SIZE),
      train_limit=_given(_PROBE_TRAIN_LIMIT),
      test_limit=_given(_PROBE_TEST_LIMIT),
      sampling_flags=tuple(
        f.name
        for f in (
          _NUM_SAMPLES,
          _SEED,
          _REFERENCE,
          _INCEPTION_WEIGHTS,
          _REFERENCE_STATS,
          _EMA_BN_STATS,
          _LIVE_WEIGHTS,
        )
        if _given(f) is not None
      )
      + (("evaluator",) if _EVALUATOR.value not in (None, "probe") else ()),
      best=_BEST.value,
    )
  except errors.UserError as e:
    cli.fail(str(e))
  print(probe_run.summary(result), file=sys.stderr)
  print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
