"""Building blocks shared by the architectures: initialisers, SN, G's norms.

Spectral norm uses Flax's `nn.SpectralNorm` with its statistics (`u`, `sigma`)
in the `spectral` collection, so that D's only non-trainable state has a name
of its own and is never confused with BatchNorm statistics.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from ssgan_jax.models import conv as conv_lib

SPECTRAL = "spectral"
BATCH_STATS = "batch_stats"
# Every BatchNorm of G: running average = m * old + (1 - m) * batch
# statistic. Standing statistics (state.standing_state) divide by 1 - m.
BN_MOMENTUM = 0.9


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


def conv(
  features: int,
  kernel: int,
  gain: float,
  dtype: Any,
  name: str,
  impl: str = "auto",
):
  """A SAME conv with Xavier init; `impl` picks the algorithm (conv.IMPLS)."""
  return nn.Conv(
    features,
    (kernel, kernel),
    padding="SAME",
    kernel_init=xavier_uniform(gain),
    bias_init=nn.initializers.zeros,
    dtype=dtype,
    name=name,
    conv_general_dilated=conv_lib.make(impl),
  )


def dense(features: int, gain: float, dtype: Any, name: str):
  return nn.Dense(
    features,
    kernel_init=xavier_uniform(gain),
    bias_init=nn.initializers.zeros,
    dtype=dtype,
    name=name,
  )


def _upsample2_axis(x: jax.Array, axis: int) -> jax.Array:
  """Bilinear x2 along `axis`, half-pixel centres, edges clamped.

  Output 2k sits at input coordinate k - 1/4 and 2k + 1 at k + 1/4, so

    out[2k]     = 3/4 x[k] + 1/4 x[k - 1]
    out[2k + 1] = 3/4 x[k] + 1/4 x[k + 1]

  with x[-1] = x[0] and x[n] = x[n - 1] (the clamp of torch's
  align_corners=False and of `jax.image.resize`, whose boundary weights
  renormalise to the same thing).
  """
  n = x.shape[axis]
  take = lambda start, stop: lax.slice_in_dim(x, start, stop, axis=axis)
  prev = jnp.concatenate([take(0, 1), take(0, n - 1)], axis=axis)
  nxt = jnp.concatenate([take(1, n), take(n - 1, n)], axis=axis)
  even = 0.75 * x + 0.25 * prev
  odd = 0.75 * x + 0.25 * nxt
  out = jnp.stack([even, odd], axis=axis + 1)  # [..., n, 2, ...]
  shape = list(x.shape)
  shape[axis] = 2 * n
  return out.reshape(shape)


def upsample2(x: jax.Array) -> jax.Array:
  """Bilinear x2 with half-pixel centres (torch align_corners=False).

  [B, H, W, C] -> [B, 2H, 2W, C]. The same values as
  `jax.image.resize(..., method="bilinear")` (tests/models_test.py), written
  as fixed 3/4, 1/4 sums of shifted slices: `jax.image.resize` contracts
  with dense [2H, H] weight matrices, which on CPU costs more than the
  convolutions next to it at width 32, and so does its gradient.
  """
  return _upsample2_axis(_upsample2_axis(x, 1), 2)


def avgpool2(x: jax.Array) -> jax.Array:
  return nn.avg_pool(x, (2, 2), strides=(2, 2))


def class_embedding(
  num_classes: int,
  features: int,
  spectral_norm: bool,
  dtype: Any,
  *,
  train: bool,
) -> jax.Array:
  """The [K, features] class embedding of a projection D (Cond-GAN).

  Call inside a compact module. The embedding is the kernel of a bias-free
  dense layer read through one-hot rows, so that SN normalises the whole
  [K, W] matrix (as compare_gan and Miyato & Koyama, ICLR 2018, do), not
  each looked-up row. The Cond-GAN logit of x with label y is
  `gan_logit + <embed[y], features(x)>`, added by the train step.
  """
  if num_classes <= 0:
    raise ValueError("a projection discriminator needs num_classes > 0")
  embed = nn.Dense(
    features,
    use_bias=False,
    kernel_init=xavier_uniform(),
    dtype=dtype,
    name="class_embed",
  )
  return MaybeSN(embed, spectral_norm, name="class_embed_sn")(
    jnp.eye(num_classes, dtype=dtype), train=train
  ).astype(jnp.float32)


def d_heads(
  h: jax.Array,
  block_features: list[jax.Array],
  dense,
  *,
  aux_heads: tuple[tuple[str, int], ...],
  spectral_norm: bool,
  projection: bool,
  num_classes: int,
  dtype: Any,
  train: bool,
):
  """D's outputs from its pooled features: what every architecture returns.

  Call inside a compact module (the heads become its submodules, named
  "gan_head_sn", "<task>_head_sn" and "class_embed_sn").

  Args:
    h: [N, C] pooled (or flattened) last-block features.
    block_features: [N, C_i] average-pooled output of each block.
    dense: `dense(features, name)`, the architecture's Dense factory.
    aux_heads: (name, classes) per self-supervised task.
    spectral_norm: SN on the heads and the class embedding.
    projection: also return the Cond-GAN class embedding.
    num_classes: its K.
    dtype: compute dtype.
    train: whether SN statistics are updated.

  Returns:
    (gan_logits [N] float32, {"features": [N, C], "aux_logits": {name:
    [N, k]}, "block_features": tuple, and "class_embed": [K, C] with
    `projection`}), everything float32.
  """
  sn = lambda layer: MaybeSN(layer, spectral_norm, name=layer.name + "_sn")
  gan_logits = sn(dense(1, "gan_head"))(h, train=train)[:, 0]
  aux = {
    name: sn(dense(k, f"{name}_head"))(h, train=train).astype(jnp.float32)
    for name, k in aux_heads
  }
  extras = {
    "features": h.astype(jnp.float32),
    "aux_logits": aux,
    "block_features": tuple(block_features),
  }
  if projection:
    extras["class_embed"] = class_embedding(
      num_classes, h.shape[-1], spectral_norm, dtype, train=train
    )  # [K, C]
  return gan_logits.astype(jnp.float32), extras


# G's normalisation layers, chosen by config.model.generator.norm.
G_NORMS = ("batch_norm", "self_modulated", "conditional")


class ModulatedBatchNorm(nn.Module):
  """BatchNorm whose scale and shift are computed per example.

  x_hat is the batch-standardised input (no affine parameters of its own);
  the output is gamma(c) * x_hat + beta(c), with c either

  - "self_modulated" (sBN, Chen et al. ICLR 2019, as SS-GAN (sBN) uses it):
    c = z; h = ReLU(Dense_hidden(z)), gamma = Dense_C(h) with bias init 1,
    beta = Dense_C(h) with bias init 0, so that at initialisation the layer
    is close to a plain BN; or
  - "conditional" (class-conditional BN of the Cond-GAN baseline): c = the
    class label y; gamma and beta are rows of per-class embeddings,
    initialised to 1 and 0 (Miyato & Koyama, ICLR 2018).

  Attributes:
    kind: "self_modulated" or "conditional".
    num_classes: number of classes (conditional only).
    hidden: width of the sBN MLP (paper: 32).
    dtype: compute dtype.
  """

  kind: str
  num_classes: int = 0
  hidden: int = 32
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, cond: jax.Array, *, train: bool):
    c = x.shape[-1]
    x_hat = nn.BatchNorm(
      use_running_average=not train,
      momentum=BN_MOMENTUM,
      epsilon=1e-5,
      use_bias=False,
      use_scale=False,
      dtype=self.dtype,
      name="bn",
    )(x)  # [B, H, W, C]
    if self.kind == "self_modulated":
      h = nn.relu(dense(self.hidden, 1.0, jnp.float32, "hidden")(cond))
      gamma = nn.Dense(
        c,
        kernel_init=xavier_uniform(),
        bias_init=nn.initializers.ones,
        name="gamma",
      )(h)  # [B, C]
      beta = dense(c, 1.0, jnp.float32, "beta")(h)  # [B, C]
    elif self.kind == "conditional":
      gamma = nn.Embed(
        self.num_classes, c, embedding_init=nn.initializers.ones, name="gamma"
      )(cond)  # [B, C]
      beta = nn.Embed(
        self.num_classes, c, embedding_init=nn.initializers.zeros, name="beta"
      )(cond)  # [B, C]
    else:
      raise ValueError(f"unknown modulated norm {self.kind!r}")
    gamma = gamma.astype(x_hat.dtype)[:, None, None, :]
    beta = beta.astype(x_hat.dtype)[:, None, None, :]
    return x_hat * gamma + beta


def g_norm_input(norm: str, z: jax.Array, y: jax.Array | None):
  """What G's norm layers read: None, z (sBN) or the labels y (cBN)."""
  if norm == "conditional":
    if y is None:
      raise ValueError("a class-conditional generator needs labels y")
    return y
  return z if norm == "self_modulated" else None


def g_norm_fn(module: nn.Module, cond: jax.Array | None, *, train: bool):
  """`bn(name, x)`: `g_norm` with the norm settings of a G module.

  `module` has the attributes every generator and G block carries: norm,
  num_classes, norm_hidden and dtype. Call `bn` inside its compact method.
  """
  return lambda name, x: g_norm(
    module.norm,
    name,
    x,
    cond,
    train=train,
    num_classes=module.num_classes,
    hidden=module.norm_hidden,
    dtype=module.dtype,
  )


def g_norm(
  kind: str,
  name: str,
  x: jax.Array,
  cond: jax.Array | None,
  *,
  train: bool,
  num_classes: int = 0,
  hidden: int = 32,
  dtype: Any = jnp.float32,
) -> jax.Array:
  """Applies G's normalisation `kind` to `x` (inside a compact module).

  "batch_norm" is a plain nn.BatchNorm named `name` (so parameter paths do
  not change); the others are a `ModulatedBatchNorm` fed `cond` (z for
  "self_modulated", labels [B] for "conditional").
  """
  if kind == "batch_norm":
    return nn.BatchNorm(
      use_running_average=not train,
      momentum=BN_MOMENTUM,
      epsilon=1e-5,
      dtype=dtype,
      name=name,
    )(x)
  return ModulatedBatchNorm(kind, num_classes, hidden, dtype, name=name)(
    x, cond, train=train
  )
