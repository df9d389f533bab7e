"""Checks a config before any work starts, with one clear line per problem."""

import math

import ml_collections

from ssgan_jax import errors
from ssgan_jax import losses
from ssgan_jax import models
from ssgan_jax import penalties
from ssgan_jax import preprocess
from ssgan_jax import ssl
from ssgan_jax import state as state_lib
from ssgan_jax.evaluation import evaluators

_POSITIVE_INTS = (
  "batch_size",
  "total_steps",
  "disc_iters",
  "log_every_steps",
  "checkpoint_every_steps",
  "sample_every_steps",
  "num_sample_images",
  "max_checkpoints_to_keep",
  "dataset.image_size",
  "dataset.channels",
  "model.z_dim",
  "model.generator.width",
  "model.discriminator.width",
)


def _get(config, dotted: str):
  value = config
  for part in dotted.split("."):
    value = value[part]
  return value


def _float_leaves(node, prefix=""):
  """(dotted name, value) of every float in a nested config."""
  for key, value in node.items():
    name = f"{prefix}{key}"
    if isinstance(value, (ml_collections.ConfigDict, dict)):
      yield from _float_leaves(value, name + ".")
    elif isinstance(value, float):
      yield name, value


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError naming the first bad field and how to fix it."""
  for field in _POSITIVE_INTS:
    value = _get(config, field)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
      raise errors.ConfigError(
        f"{field}={value!r} must be a positive integer;"
        f" e.g. --config.{field}=1."
      )
  minutes = config.train_minutes
  if (
    not isinstance(minutes, (int, float))
    or isinstance(minutes, bool)
    or not math.isfinite(minutes)
    or minutes < 0
  ):
    raise errors.ConfigError(
      f"train_minutes={minutes!r} must be a finite number >= 0 (0 = no"
      " wall-clock budget); e.g. --config.train_minutes=20."
    )
  # No float of any config means anything as NaN or infinity, and a NaN
  # slips past every range check below (NaN <= 0 is False).
  for name, value in _float_leaves(config):
    if not math.isfinite(value):
      raise errors.ConfigError(
        f"{name}={value!r} must be a finite number; give"
        f" --config.{name} a real value (the config file states the default)."
      )
  if not isinstance(config.seed, int):
    raise errors.ConfigError(f"seed={config.seed!r} must be an integer.")
  losses.get(config.loss.name)
  penalties.get(config.penalty.name)
  if config.penalty.weight < 0:
    raise errors.ConfigError(
      f"penalty.weight={config.penalty.weight} must be >= 0."
    )
  if not 0.0 <= config.ema.decay < 1.0:
    raise errors.ConfigError(
      f"ema.decay={config.ema.decay} must be in [0, 1); 0 turns EMA off."
    )
  if config.ema.bn_stats not in state_lib.EMA_BN_STATS:
    raise errors.ConfigError(
      f"ema.bn_stats={config.ema.bn_stats!r} is unknown; use one of"
      f" {', '.join(state_lib.EMA_BN_STATS)}."
    )
  n = config.ema.standing_batches
  if not isinstance(n, int) or isinstance(n, bool) or n < 1:
    raise errors.ConfigError(
      f"ema.standing_batches={n!r} must be a positive integer (the batches"
      " of codes that standing statistics pool; e.g. 16)."
    )
  for net in ("g", "d"):
    opt = config.optimizer[net]
    state_lib.OPTIMIZERS.get(opt.name)
    if opt.learning_rate <= 0:
      raise errors.ConfigError(
        f"optimizer.{net}.learning_rate={opt.learning_rate} must be > 0."
      )
    state_lib.SCHEDULES.get(opt.schedule)
    if not 0.0 <= opt.decay_start < 1.0:
      raise errors.ConfigError(
        f"optimizer.{net}.decay_start={opt.decay_start} must be in [0, 1):"
        " the fraction of the run after which the learning rate decays."
      )
  state_lib.check_z_distribution(config)
  models.compute_dtype(config)
  models.conv_impl(config)
  models.g_norm(config)
  dc = config.dataset
  preprocess.check(dc.preprocess)
  if dc.preprocess == "random_crop_resize" and dc.in_memory:
    raise errors.ConfigError(
      "dataset.preprocess='random_crop_resize' with dataset.in_memory=True"
      " would crop each image once for the whole run; set"
      " dataset.in_memory=False (random access to ArrayRecord files) for"
      " fresh crops every epoch."
    )
  if not dc.in_memory:
    for field in ("read_threads", "prefetch_batches"):
      value = dc.get(field, 1)
      if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise errors.ConfigError(
          f"dataset.{field}={value!r} must be a positive integer; e.g."
          f" --config.dataset.{field}=4."
        )
  _validate_cond_gan(config)
  evaluators.validate(config)
  models.GENERATORS.get(config.model.generator.name)
  models.DISCRIMINATORS.get(config.model.discriminator.name)
  tasks = ssl.build_tasks(config)
  if config.loss.weight == 0 and not tasks:
    raise errors.ConfigError(
      "loss.weight=0 with no ssl tasks leaves nothing to train; set"
      " loss.weight > 0 or add a task to config.ssl."
    )


def _validate_cond_gan(config: ml_collections.ConfigDict) -> None:
  """Cond-GAN is two switches (G's conditional BN, D's projection) together.

  Either alone is no method of the paper, and a half-conditional run would
  silently ignore the labels on one side.
  """
  cond_g = models.g_norm(config) == "conditional"
  proj = bool(config.model.discriminator.projection)
  if cond_g != proj:
    raise errors.ConfigError(
      "Cond-GAN needs both model.generator.norm='conditional' and"
      f" model.discriminator.projection=True (got norm={models.g_norm(config)!r},"
      f" projection={proj}); set both, or neither."
    )
  if not cond_g:
    return
  k = config.dataset.num_classes
  if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
    raise errors.ConfigError(
      f"dataset.num_classes={k!r} must be a positive integer for Cond-GAN"
      " (the number of classes of the labelled dataset, e.g. 10 for cifar10)."
    )
  d_name = config.model.discriminator.name
  d = models.DISCRIMINATORS.get(d_name)(config, ())
  if not getattr(d, "projection", False):
    raise errors.ConfigError(
      f"discriminator {d_name!r} has no projection head, which Cond-GAN"
      " (model.discriminator.projection=True) needs; give it one with"
      " models.layers.class_embedding, as resnet32 does."
    )
