"""Evaluators by name, the metrics they report, and the eval block's checks.

  score = evaluators.make_scorer(config)  # reads weights / references now
  result = score(images)  # float images [N, H, W, C] in [-1, 1] -> dict
  evaluators.EVALUATORS.get("fmnist").metrics["fd_fmnist"]  # "min"

Each evaluator is one `Evaluator`: the metrics it reports with the
direction in which they improve (what `eval.metrics` may log and
`eval.best_metric` may keep the best checkpoint by), a cheap `check` of the
config (no file is read) and a `build` that reads its files (classifier,
Inception weights, reference statistics) and returns the scorer, so that a
run fails before it writes anything; `build` imports its heavy modules only
when called. A new evaluator is one `EVALUATORS.register(name,
Evaluator(...))`. Nothing here imports the config, sampling or workdir
modules, so config_lib can validate an `eval` block without importing the
evaluation back ends.
"""

import dataclasses
from collections.abc import Callable
from collections.abc import Mapping

import jax
import ml_collections
import numpy as np

from ssgan_jax import errors
from ssgan_jax import registry

Scorer = Callable[[np.ndarray], dict]


def _no_check(config: ml_collections.ConfigDict) -> None:
  del config


@dataclasses.dataclass(frozen=True)
class Evaluator:
  """One way of scoring G's samples (see the module docstring).

  Attributes:
    metrics: metric name -> "min" or "max", the better direction.
    build: config -> scorer; reads the evaluator's files.
    check: config -> None; one-line ConfigErrors from the config alone.
  """

  metrics: Mapping[str, str]
  build: Callable[[ml_collections.ConfigDict], Scorer]
  check: Callable[[ml_collections.ConfigDict], None] = _no_check


EVALUATORS: registry.Registry[Evaluator] = registry.Registry("evaluator")


def _check_fmnist_shape(config: ml_collections.ConfigDict) -> None:
  dc = config.dataset
  if dc.name != "fashion_mnist" or (dc.image_size, dc.channels) != (32, 1):
    raise errors.ConfigError(
      f"eval.evaluator='fmnist' scores 32x32x1 Fashion-MNIST images, but the"
      f" run makes {dc.image_size}x{dc.image_size}x{dc.channels}"
      f" {dc.name!r} images; set eval.evaluator='inception' (with"
      " eval.inception_weights and eval.reference_stats) or"
      " eval.every_steps=0."
    )


def _fmnist_scorer(config: ml_collections.ConfigDict) -> Scorer:
  """FD-FMNIST and friends in the committed classifier (offline)."""
  from ssgan_jax.evaluation import fmnist  # pylint: disable=g-import-not-at-top

  _check_fmnist_shape(config)
  split = fmnist.parse_reference(config.eval.reference)
  clf = fmnist.default_classifier()
  fmnist.reference_features(split, clf)  # fail now, not at the first eval

  def score(images: np.ndarray) -> dict:
    result = fmnist.evaluate_images(
      np.clip(images, -1.0, 1.0), reference_split=split, clf=clf
    )
    return {**result, "reference": config.eval.reference}

  return score


EVALUATORS.register(
  "fmnist",
  Evaluator(
    metrics={
      "fd_fmnist": "min",
      "kid_mean": "min",
      "coverage_tv": "min",
      "coverage_classes": "max",
      "min_class_fraction": "max",
      "is_fmnist": "max",
      "precision": "max",
      "recall": "max",
    },
    build=_fmnist_scorer,
    check=_check_fmnist_shape,
  ),
)


def _check_inception_files(config: ml_collections.ConfigDict) -> None:
  for field, what in (
    ("inception_weights", "the converted FID Inception .npz"),
    ("reference_stats", "the reference statistics .npz"),
  ):
    if not config.eval[field]:
      raise errors.ConfigError(
        f"eval.evaluator='inception' needs eval.{field} ({what}; see"
        " docs/fid.md), or set eval.every_steps=0."
      )


def _inception_scorer(config: ml_collections.ConfigDict) -> Scorer:
  """FID / IS (/ KID) with the FID Inception-v3 and cached reference stats."""
  from ssgan_jax.evaluation import fid  # pylint: disable=g-import-not-at-top
  from ssgan_jax.evaluation import inception  # pylint: disable=g-import-not-at-top

  _check_inception_files(config)
  ec = config.eval
  variables = inception.load_params(ec.inception_weights)
  stats = fid.load_stats(ec.reference_stats, variables)

  def score(images: np.ndarray) -> dict:
    result = fid.evaluate_images(np.clip(images, -1.0, 1.0), stats, variables)
    return {**result, "reference": ec.reference}

  return score


EVALUATORS.register(
  "inception",
  Evaluator(
    # kid_mean only when the reference statistics kept their features.
    metrics={"fid": "min", "inception_score": "max", "kid_mean": "min"},
    build=_inception_scorer,
    check=_check_inception_files,
  ),
)


def validate(config: ml_collections.ConfigDict) -> None:
  """One-line ConfigErrors for the `eval` block (cheap checks only)."""
  ec = config.eval
  if ec.every_steps == 0:
    return
  for field in ("every_steps", "num_samples", "batch_size"):
    value = ec[field]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
      raise errors.ConfigError(
        f"eval.{field}={value!r} must be a positive integer"
        + (" (0 turns evaluation off)." if field == "every_steps" else ".")
      )
  evaluator = EVALUATORS.get(ec.evaluator)
  evaluator.check(config)
  known = ", ".join(evaluator.metrics)
  unknown = [m for m in ec.metrics if m not in evaluator.metrics]
  if unknown:
    raise errors.ConfigError(
      f"eval.metrics has unknown metric(s) {unknown} for evaluator"
      f" {ec.evaluator!r}; choose from: {known}."
    )
  if ec.best_metric and ec.best_metric not in evaluator.metrics:
    raise errors.ConfigError(
      f"unknown eval.best_metric {ec.best_metric!r}; evaluator"
      f" {ec.evaluator!r} reports: {known}, or '' to keep no best checkpoint."
    )
  n = jax.device_count()
  if ec.batch_size % n:
    raise errors.ConfigError(
      f"eval.batch_size={ec.batch_size} must be a multiple of the {n}"
      f" device(s), e.g. {max(n, ec.batch_size - ec.batch_size % n)}."
    )


def metric_mode(config: ml_collections.ConfigDict, metric: str) -> str:
  """ "min" or "max": the direction in which `metric` of the config's
  evaluator improves (the config is validated)."""
  return EVALUATORS.get(config.eval.evaluator).metrics[metric]


def is_better(value: float, best: float | None, mode: str) -> bool:
  if best is None:
    return True
  return value < best if mode == "min" else value > best


def make_scorer(config: ml_collections.ConfigDict) -> Scorer:
  """The config's evaluator, built: reads its weights and reference files.

  train.py calls this before it writes to the workdir, so that a missing or
  malformed file stops the run with one line and leaves nothing behind.
  """
  validate(config)
  return EVALUATORS.get(config.eval.evaluator).build(config)
