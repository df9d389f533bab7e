"""Building blocks shared by the architectures: initialisers and SN layers.

Spectral norm uses Flax's `nn.SpectralNorm` with its statistics (`u`, `sigma`)
in the `spectral` collection, so that D's only non-trainable state has a name
of its own and is never confused with BatchNorm statistics.
"""

from typing import Any

import flax.linen as nn
import jax

SPECTRAL = "spectral"
BATCH_STATS = "batch_stats"


def xavier_uniform(gain: float = 1.0) -> nn.initializers.Initializer:
  """Glorot-uniform with a gain, as in torch's `xavier_uniform_(w, gain)`."""
  return nn.initializers.variance_scaling(gain**2, "fan_avg", "uniform")


class MaybeSN(nn.Module):
  """Applies `layer` with spectral normalisation when `enabled`.

  Attributes:
    layer: the wrapped Dense/Conv module.
    enabled: False turns this into a plain call (e.g. a WGAN-GP D without SN).
  """

  layer: nn.Module
  enabled: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    if not self.enabled:
      return self.layer(x)
    # update_stats=train: u and sigma are stored only when D is trained with
    # mutable=['spectral']; in evaluation the power iteration runs but the
    # result is discarded, so evaluation never changes the model.
    return nn.SpectralNorm(self.layer, collection_name=SPECTRAL)(
      x, update_stats=train
    )


def conv(features: int, kernel: int, gain: float, dtype: Any, name: str):
  return nn.Conv(
    features,
    (kernel, kernel),
    padding="SAME",
    kernel_init=xavier_uniform(gain),
    bias_init=nn.initializers.zeros,
    dtype=dtype,
    name=name,
  )


def dense(features: int, gain: float, dtype: Any, name: str):
  return nn.Dense(
    features,
    kernel_init=xavier_uniform(gain),
    bias_init=nn.initializers.zeros,
    dtype=dtype,
    name=name,
  )


def upsample2(x: jax.Array) -> jax.Array:
  """Bilinear x2 with half-pixel centres (torch align_corners=False)."""
  b, h, w, c = x.shape
  return jax.image.resize(x, (b, 2 * h, 2 * w, c), method="bilinear")


def avgpool2(x: jax.Array) -> jax.Array:
  return nn.avg_pool(x, (2, 2), strides=(2, 2))
