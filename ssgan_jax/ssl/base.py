"""The self-supervised task interface.

A task turns a batch into labelled views, owns an auxiliary head of D
(`num_classes` outputs) and defines its own D-side and G-side losses over
that head's logits. The train step knows nothing else about it, so a new task
is one file plus one registry line (see docs/adding_a_task.md).

Shapes: B examples, k views per example, C = num_classes.

  views(images [B, H, W, C_img], rng) -> (views [B, k, H, W, C_img], labels [B, k])
  d_loss(real_logits [B, k, C], fake_logits [B, k, C] | None, labels [B, k])
      -> (scalar, {metric: scalar})
  g_loss(fake_logits [B, k, C], labels [B, k]) -> (scalar, {metric: scalar})

`fake_logits` in `d_loss` is None unless the task sets
`d_uses_fake_views = True` (SS-GAN's D never sees rotated fakes; SSGAN-MS and
SSGAN-LA do). The step multiplies `d_loss` by `weight_d` and `g_loss` by
`weight_g` from the task's config block.
"""

import abc
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from ssgan_jax import errors

Metrics = dict[str, jax.Array]


class SSLTask(abc.ABC):
  """Base class for self-supervised tasks; subclasses set the class attrs.

  Attributes:
    name: registry name; also the D head's name and the metrics prefix.
    num_classes: width of the task's head on D.
    first_view_is_identity: view 0 is the unchanged image, so the step reuses
      the upright image's D output for it instead of running D again.
    d_uses_fake_views: D's loss needs logits of fake views.
    weight_d, weight_g, fraction: from the config block (see `__init__`).
    DEFAULTS: the values of the keys that a config block leaves out, stated
      once per task (the paper's or its code's); a subclass replaces the
      ones that differ, e.g. rotation's weight_g = alpha = 0.2.
  """

  name: str = ""
  num_classes: int = 0
  first_view_is_identity: bool = True
  d_uses_fake_views: bool = False
  DEFAULTS: dict[str, float] = {
    "weight_d": 1.0,
    "weight_g": 1.0,
    "fraction": 1.0,
  }

  def __init__(self, config: ml_collections.ConfigDict | dict[str, Any]):
    """Reads `weight_d`, `weight_g` and `fraction` from the task's block.

    Args:
      config: the task's block of `config.ssl`. `fraction` (default 1.0) is
        the share of examples that get views; it must be 1/n for an integer
        n, and every n-th example of each device's shard is used (the batch
        is already shuffled, so this is a uniform subsample that never moves
        data between devices).
    """
    config = {**self.DEFAULTS, **dict(config)}
    self.config = config
    self.weight_d = float(config["weight_d"])
    self.weight_g = float(config["weight_g"])
    fraction = float(config["fraction"])
    if not 0.0 < fraction <= 1.0:
      raise errors.ConfigError(
        f"ssl.{self.name}.fraction={fraction} must be in (0, 1]."
      )
    stride = round(1.0 / fraction)
    if abs(1.0 / stride - fraction) > 1e-6:
      raise errors.ConfigError(
        f"ssl.{self.name}.fraction={fraction} must be 1/n for an integer n"
        " (1.0, 0.5, 0.25, ...) so that every n-th example gets views."
      )
    self.fraction = fraction
    self.stride = stride

  @abc.abstractmethod
  def views(self, images: jax.Array, rng: jax.Array):
    """[B, H, W, C] -> (views [B, k, H, W, C], int32 labels [B, k])."""

  @abc.abstractmethod
  def d_loss(
    self, real_logits, fake_logits, labels
  ) -> tuple[jax.Array, Metrics]:
    """D's loss term (before weight_d) and metrics."""

  @abc.abstractmethod
  def g_loss(self, fake_logits, labels) -> tuple[jax.Array, Metrics]:
    """G's loss term (before weight_g) and metrics."""

  def real_correct(self, real_logits, labels) -> jax.Array:
    """bool [B, k]: whether the head gives each *real* view its class.

    The question the linear probe's `probe/<task>/top1` asks of a trained
    D (real test images only). Default: argmax == the view's label; a task
    whose head codes more than the view (SSGAN-LA's real/fake) maps the
    label to the head's class of a real view.
    """
    return jnp.argmax(real_logits, axis=-1) == labels


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy; logits [..., C], integer labels [...]."""
  return jnp.mean(
    optax.softmax_cross_entropy_with_integer_labels(
      logits.astype(jnp.float32), labels
    )
  )


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  return jnp.mean((jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32))
