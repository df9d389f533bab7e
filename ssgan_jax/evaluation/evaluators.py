"""Evaluators by name, the metrics they report, and the eval blocks' checks.

  score = evaluators.build(config, "eval")  # reads weights / references now
  result = score(images)  # float images [N, H, W, C] in [-1, 1] -> dict
  evaluators.EVALUATORS.get("fmnist").metrics["fd_fmnist"]  # "min"

A config has one main evaluation block, `eval` (the one whose `best_metric`
keeps the best checkpoint), and any number of further named blocks in
`evals` (`evals.<name>`), each with its own `evaluator` and `every_steps`:
e.g. FD-FMNIST on 5,000 samples every 500 steps as `eval` and a linear probe
of D's blocks every 250 steps as `evals.probe` (the forgetting curves).

Each evaluator is one `Evaluator`: the metrics it reports with the
direction in which they improve (what a block's `metrics` may log and
`eval.best_metric` may keep the best checkpoint by), what it reads
(`reads`: G's samples, or the training state itself, as the probe reads D),
a cheap `check` of a block (no file is read) and a `build` that reads its
files (classifier, Inception weights, reference statistics, labelled
images) and returns the scorer, so that a run fails before it writes
anything; `build` imports its heavy modules only when called. A new
evaluator is one `EVALUATORS.register(name, Evaluator(...))`. Nothing here
imports the config, sampling or workdir modules, so config_lib can validate
the eval blocks without importing the evaluation back ends.
"""

import dataclasses
import re
from collections.abc import Callable
from collections.abc import Mapping

import jax
import ml_collections
import numpy as np

from ssgan_jax import errors
from ssgan_jax import registry

# reads="samples": scorer(images [N, H, W, C] in [-1, 1]) -> dict.
# reads="state": scorer(comps, state, mesh) -> dict.
Scorer = Callable[..., dict]
MAIN = "eval"  # the main block's field; further blocks are evals.<name>


def _no_check(config: ml_collections.ConfigDict, field: str) -> None:
  del config, field


@dataclasses.dataclass(frozen=True)
class Evaluator:
  """One way of scoring a run (see the module docstring).

  Attributes:
    metrics: metric name -> "min" or "max", the better direction; or a
      function of the config giving that mapping (the probe's metrics name
      the run's ssl tasks).
    build: (config, field) -> scorer; reads the evaluator's files. `field`
      names the block ("eval" or "evals.<name>"; `block_of` finds it), so
      that messages name the fields to fix.
    check: (config, field) -> None; one-line ConfigErrors from the config.
    reads: "samples" (the scorer takes G's images) or "state" (it takes
      the run's components, state and mesh).
    mode_of: (config, metric) -> "min" / "max" / None, for evaluators whose
      metric names follow a pattern (the probe's probe/block<i>/...);
      default: looked up in `metrics`.
    default_logged: result -> the metrics that go to TensorBoard and the log
      line when the block names none in `metrics` (the probe: every top-1
      it reports); None: the block's `metrics` only.
  """

  metrics: Mapping[str, str] | Callable[[ml_collections.ConfigDict], Mapping]
  build: Callable[[ml_collections.ConfigDict, str], Scorer]
  check: Callable[[ml_collections.ConfigDict, str], None] = _no_check
  reads: str = "samples"
  mode_of: Callable[[ml_collections.ConfigDict, str], str | None] | None = None
  default_logged: Callable[[Mapping], list[str]] | None = None

  def logged(self, block: ml_collections.ConfigDict, result: Mapping):
    """The result's metrics that a block's evaluation logs."""
    if block.metrics or self.default_logged is None:
      return list(block.metrics)
    return self.default_logged(result)

  def metrics_of(self, config: ml_collections.ConfigDict) -> Mapping[str, str]:
    """The metrics this evaluator reports for `config`'s run."""
    return self.metrics(config) if callable(self.metrics) else self.metrics

  def mode(self, config: ml_collections.ConfigDict, metric: str) -> str | None:
    """ "min" / "max" for `metric`, None when this evaluator has no such."""
    if self.mode_of is not None:
      return self.mode_of(config, metric)
    return self.metrics_of(config).get(metric)


EVALUATORS: registry.Registry[Evaluator] = registry.Registry("evaluator")


def blocks(
  config: ml_collections.ConfigDict,
) -> dict[str, ml_collections.ConfigDict]:
  """Field name -> block of every evaluation: "eval", then "evals.<name>"."""
  out = {MAIN: config.eval}
  for name in sorted(config.evals):
    out[f"evals.{name}"] = config.evals[name]
  return out


def block_name(field: str) -> str:
  """ "evals.<name>" -> "<name>" (the main block "eval" has none)."""
  if not field.startswith("evals."):
    raise ValueError(f"{field!r} names no block of config.evals")
  return field[len("evals.") :]


def block_of(
  config: ml_collections.ConfigDict, field: str
) -> ml_collections.ConfigDict:
  """The block named by `field` ("eval" or "evals.<name>")."""
  return config.eval if field == MAIN else config.evals[block_name(field)]


def active(
  config: ml_collections.ConfigDict,
) -> dict[str, ml_collections.ConfigDict]:
  """The blocks that run during training (every_steps > 0)."""
  return {f: b for f, b in blocks(config).items() if b.every_steps != 0}


def _check_fmnist_shape(config: ml_collections.ConfigDict, field: str) -> None:
  dc = config.dataset
  if dc.name != "fashion_mnist" or (dc.image_size, dc.channels) != (32, 1):
    raise errors.ConfigError(
      f"{field}.evaluator='fmnist' scores 32x32x1 Fashion-MNIST images, but"
      f" the run makes {dc.image_size}x{dc.image_size}x{dc.channels}"
      f" {dc.name!r} images; set {field}.evaluator='inception' (with"
      f" {field}.inception_weights and {field}.reference_stats) or"
      f" {field}.every_steps=0."
    )


def _fmnist_scorer(config: ml_collections.ConfigDict, field: str) -> Scorer:
  """FD-FMNIST and friends in the committed classifier (offline)."""
  from ssgan_jax.evaluation import fmnist  # pylint: disable=g-import-not-at-top

  _check_fmnist_shape(config, field)
  reference = block_of(config, field).reference
  split = fmnist.parse_reference(reference)
  clf = fmnist.default_classifier()
  fmnist.reference_features(split, clf)  # fail now, not at the first eval

  def score(images: np.ndarray) -> dict:
    result = fmnist.evaluate_images(
      np.clip(images, -1.0, 1.0), reference_split=split, clf=clf
    )
    return {**result, "reference": reference}

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


def _check_inception_files(
  config: ml_collections.ConfigDict, field: str
) -> None:
  block = block_of(config, field)
  for name, what in (
    ("inception_weights", "the converted FID Inception .npz"),
    ("reference_stats", "the reference statistics .npz"),
  ):
    if not block[name]:
      raise errors.ConfigError(
        f"{field}.evaluator='inception' needs {field}.{name} ({what}; see"
        f" docs/fid.md), or set {field}.every_steps=0."
      )


def _inception_scorer(config: ml_collections.ConfigDict, field: str) -> Scorer:
  """FID / IS (/ KID) with the FID Inception-v3 and cached reference stats."""
  from ssgan_jax.evaluation import fid  # pylint: disable=g-import-not-at-top
  from ssgan_jax.evaluation import inception  # pylint: disable=g-import-not-at-top

  _check_inception_files(config, field)
  block = block_of(config, field)
  variables = inception.load_params(block.inception_weights)
  stats = fid.load_stats(block.reference_stats, variables)

  def score(images: np.ndarray) -> dict:
    result = fid.evaluate_images(np.clip(images, -1.0, 1.0), stats, variables)
    return {**result, "reference": block.reference}

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


# The probe's metrics: per D block i (1 = first) and per ssl task of the run.
_PROBE_BLOCK_METRICS = {
  "top1_test": "max",
  "top1_train": "max",
  "loss_test": "min",
  "loss_train": "min",
}
_PROBE_BLOCK = re.compile(r"probe/block([1-9][0-9]*)/(\w+)")
# Logged when a probe block names no metrics: each block's and head's top-1.
_PROBE_TOP1 = re.compile(r"probe/(block[1-9][0-9]*/top1_test|\w+/top1)")


def _probe_top1(result: Mapping) -> list[str]:
  return sorted(k for k in result if _PROBE_TOP1.fullmatch(k))


def _ssl_names(config: ml_collections.ConfigDict) -> list[str]:
  from ssgan_jax import ssl  # pylint: disable=g-import-not-at-top

  return [t.name for t in ssl.build_tasks(config)]


def _probe_metrics(config: ml_collections.ConfigDict) -> dict[str, str]:
  """probe/block<i>/<...> for any block i, probe/<task>/top1 per ssl task.

  The block count is D's, known once D is built: `_probe_scorer` checks it.
  """
  metrics = {f"probe/block<i>/{k}": v for k, v in _PROBE_BLOCK_METRICS.items()}
  metrics.update({f"probe/{t}/top1": "max" for t in _ssl_names(config)})
  return metrics


def _probe_metric_mode(config: ml_collections.ConfigDict, metric: str):
  """ "min" / "max" for a probe metric name, None when it names none."""
  m = _PROBE_BLOCK.fullmatch(metric)
  if m:
    return _PROBE_BLOCK_METRICS.get(m.group(2))
  return _probe_metrics(config).get(metric)


def _check_probe(config: ml_collections.ConfigDict, field: str) -> None:
  block = block_of(config, field)
  for name in ("train_limit", "test_limit"):
    value = block[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
      raise errors.ConfigError(
        f"{field}.{name}={value!r} must be an integer >= 0 (0: the whole"
        " split)."
      )
  if config.dataset.eval_split == config.dataset.split:
    raise errors.ConfigError(
      f"{field}.evaluator='probe' fits on dataset.split and scores on"
      f" dataset.eval_split, but both are {config.dataset.split!r}; set"
      " dataset.eval_split to a held-out split."
    )


def _probe_scorer(config: ml_collections.ConfigDict, field: str) -> Scorer:
  """Linear probe of every D block and the ssl heads' accuracy (probe.py)."""
  from ssgan_jax.evaluation import probe  # pylint: disable=g-import-not-at-top

  _check_probe(config, field)
  block = block_of(config, field)
  # Block numbers in `metrics` against D's real block count (shapes only),
  # before the labelled splits are read.
  blocks = probe.num_blocks(config)
  for metric in block.metrics:
    m = _PROBE_BLOCK.fullmatch(metric)
    if m and int(m.group(1)) > blocks:
      raise errors.ConfigError(
        f"{field}.metrics names {metric!r}, but D has {blocks} blocks"
        f" (probe/block1 .. probe/block{blocks})."
      )
  return probe.make_state_scorer(
    config,
    batch_size=block.batch_size,
    train_limit=block.train_limit or None,
    test_limit=block.test_limit or None,
  )


EVALUATORS.register(
  "probe",
  Evaluator(
    metrics=_probe_metrics,
    build=_probe_scorer,
    check=_check_probe,
    reads="state",
    mode_of=_probe_metric_mode,
    default_logged=_probe_top1,
  ),
)


def metric_mode(
  config: ml_collections.ConfigDict, metric: str, field: str = MAIN
):
  """ "min" or "max": the direction in which `metric` of the block's
  evaluator improves; None when the evaluator reports no such metric."""
  return EVALUATORS.get(block_of(config, field).evaluator).mode(config, metric)


def _positive_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _validate_block(config: ml_collections.ConfigDict, field: str) -> None:
  block = block_of(config, field)
  evaluator = EVALUATORS.get(block.evaluator)
  sizes = ("every_steps", "batch_size")
  if evaluator.reads == "samples":
    sizes += ("num_samples",)
  for name in sizes:
    if not _positive_int(block[name]):
      raise errors.ConfigError(
        f"{field}.{name}={block[name]!r} must be a positive integer"
        + (" (0 turns it off)." if name == "every_steps" else ".")
      )
  evaluator.check(config, field)
  known = ", ".join(evaluator.metrics_of(config))
  unknown = [m for m in block.metrics if metric_mode(config, m, field) is None]
  if unknown:
    raise errors.ConfigError(
      f"{field}.metrics has unknown metric(s) {unknown} for evaluator"
      f" {block.evaluator!r}; choose from: {known}."
    )
  if field == MAIN:
    best = block.best_metric
    if best and metric_mode(config, best) is None:
      raise errors.ConfigError(
        f"unknown eval.best_metric {best!r}; evaluator"
        f" {block.evaluator!r} reports: {known}, or '' to keep no best"
        " checkpoint."
      )
  n = jax.device_count()
  if block.batch_size % n:
    raise errors.ConfigError(
      f"{field}.batch_size={block.batch_size} must be a multiple of the {n}"
      f" device(s), e.g. {max(n, block.batch_size - block.batch_size % n)}."
    )


_BLOCK_NAME = re.compile(r"[a-z][a-z0-9_]*")
_RESERVED = ("during_training",)  # eval/during_training/ is the main block's


def validate(config: ml_collections.ConfigDict) -> None:
  """One-line ConfigErrors for every eval block (cheap checks only)."""
  for name in config.evals:
    if not _BLOCK_NAME.fullmatch(name) or name in _RESERVED:
      raise errors.ConfigError(
        f"evals.{name} is not a usable block name: use lower-case letters,"
        " digits and '_' (it names eval/<name>/ in the workdir), not"
        f" {', '.join(_RESERVED)}."
      )
    if not isinstance(config.evals[name], ml_collections.ConfigDict):
      raise errors.ConfigError(
        f"evals.{name} must be an eval block (e.g. configs/common.py"
        " probe_eval()), not a plain value."
      )
    if "best_metric" in config.evals[name]:
      raise errors.ConfigError(
        f"evals.{name}.best_metric: only the main block keeps a best"
        " checkpoint (eval.best_metric); remove the field."
      )
  main = config.eval
  if main.every_steps and EVALUATORS.get(main.evaluator).reads != "samples":
    raise errors.ConfigError(
      f"eval.evaluator={config.eval.evaluator!r} scores no samples; the main"
      " block `eval` scores G's samples (fmnist, inception); put the probe"
      " in its own block, e.g. evals.probe = common.probe_eval(every_steps=N)."
    )
  for field in active(config):
    _validate_block(config, field)


def is_better(value: float, best: float | None, mode: str) -> bool:
  if best is None:
    return True
  return value < best if mode == "min" else value > best


def build(config: ml_collections.ConfigDict, field: str = MAIN) -> Scorer:
  """The block's evaluator, built: reads its weights and reference files.

  train.py calls this before it writes to the workdir, so that a missing or
  malformed file stops the run with one line and leaves nothing behind.
  """
  validate(config)
  return EVALUATORS.get(block_of(config, field).evaluator).build(config, field)


def make_scorer(config: ml_collections.ConfigDict) -> Scorer:
  """The main block's scorer (`build(config, "eval")`)."""
  return build(config, MAIN)
