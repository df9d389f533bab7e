"""The 128x128 ResNet G and D of the paper's ImageNet, LSUN and CelebA-HQ runs.

  g = resnet128.Generator128(width=64)
  gv = g.init(key, z, train=False)                 # z [B, 128]
  x = g.apply(gv, z, train=False)                  # [B, 128, 128, 3] in [-1, 1]
  d = resnet128.Discriminator128(width=64, aux_heads=(("rotation", 4),))
  dv = d.init(key, x, train=False)
  logits, extras = d.apply(dv, x, train=False)     # [B], {...}

This is compare_gan's `resnet5` architecture. Taken from compare_gan
(`architectures/resnet5.py`, `resnet_ops.py`, `arch_ops.py`):

- Widths are multiples of `width` (compare_gan's `ch`, 64 at 128x128).
  G: Dense(4*4*8W) -> 5 up-blocks to 8W, 4W, 4W, 2W, W (512, 256, 256, 128,
  64 at W = 64) -> BN -> ReLU -> conv3x3 -> output.
  D: a down-block C -> W, then 5 down-blocks to 2W, 4W, 4W, 8W, 8W; six
  halvings take 128 to 2 -> ReLU -> global pool -> Dense(1). No norm in D.
- z is used whole: it feeds the dense layer and, with self-modulated BN, every
  BN layer (final one included); nothing is split per block.
- Every block has a 3x3 conv shortcut, even when widths match. G block:
  shortcut = unpool -> conv; main = BN-ReLU-unpool-conv(in->out)-BN-ReLU-
  conv(out->out). D block: shortcut = conv -> avgpool2; main =
  ReLU-conv(in->out)-ReLU-conv(out->out)-avgpool2.
- G up-samples by zero insertion (`unpool2`), not by interpolation.
- D pools with a mean over the final 2x2 map (`tf.reduce_mean`); the rotation
  head of compare_gan's SSGAN reads the same pooled features. `pooling="sum"`
  gives the sum of the SNGAN nets (resnet32), here 4x the mean.
- Every conv and dense layer has a bias; weights start N(0, 0.02)
  (compare_gan's default `weights.initializer`).

Deliberate differences from compare_gan, which keeps images in [0, 1]:

- G ends in tanh, not sigmoid: images are in [-1, 1] here.
- D's first block skips the ReLU before its first conv. In compare_gan it
  acts on [0, 1] pixels, where it is the identity; on [-1, 1] pixels it
  would drop half the range. Without it the two nets compute the same
  function class (the conv absorbs the affine map between the ranges).

Parameter counts (biases, BN scale/shift; not BN statistics or SN vectors),
for W = 64, z 128, RGB, plain BN, D with a 4-way rotation head: G 13,786,115,
D 15,088,581 (tests/architectures_test.py derives both by formula).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ssgan_jax.models import conv as conv_lib
from ssgan_jax.models import layers

# Block output widths as multiples of `width` (compare_gan's `channels`).
# G: G_MULTIPLIERS[0] is the width of the dense seed, then one per up-block.
G_MULTIPLIERS = (8, 8, 4, 4, 2, 1)
# D: one per down-block, the first one reading the image.
D_MULTIPLIERS = (1, 2, 4, 4, 8, 8)
BOTTOM = 4  # G's seed is 4x4; 5 up-blocks give 128x128.
POOLINGS = ("mean", "sum")

_INIT = nn.initializers.normal(0.02)


def _conv3(features: int, dtype: Any, name: str, impl: str) -> nn.Conv:
  return nn.Conv(
    features,
    (3, 3),
    padding="SAME",
    kernel_init=_INIT,
    bias_init=nn.initializers.zeros,
    dtype=dtype,
    name=name,
    conv_general_dilated=conv_lib.make(impl),
  )


def _dense(features: int, dtype: Any, name: str) -> nn.Dense:
  return nn.Dense(
    features,
    kernel_init=_INIT,
    bias_init=nn.initializers.zeros,
    dtype=dtype,
    name=name,
  )


def unpool2(x: jax.Array) -> jax.Array:
  """Zero-insertion x2 up-sampling: [B, H, W, C] -> [B, 2H, 2W, C].

  Each input pixel lands on an even (row, column) and the other three pixels
  of its 2x2 cell are zero, as in compare_gan's `unpool`; the 3x3 conv that
  follows then acts like a stride-2 transposed conv.
  """
  b, h, w, c = x.shape
  return jnp.zeros((b, 2 * h, 2 * w, c), x.dtype).at[:, ::2, ::2].set(x)


class GBlock(nn.Module):
  """Up-block: BN-ReLU-unpool-conv3x3-BN-ReLU-conv3x3; shortcut unpool-conv3x3.

  `norm` picks the BN flavour (layers.G_NORMS); `cond` is what a modulated
  BN reads (z or labels), None for plain BN.
  """

  features: int
  dtype: Any = jnp.float32
  norm: str = "batch_norm"
  num_classes: int = 0
  norm_hidden: int = 32
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, cond=None, *, train: bool) -> jax.Array:
    bn = layers.g_norm_fn(self, cond, train=train)
    sc = _conv3(self.features, self.dtype, "shortcut", self.conv_impl)(
      unpool2(x)
    )
    h = nn.relu(bn("bn1", x))  # [B, H, W, C_in]
    h = _conv3(self.features, self.dtype, "conv1", self.conv_impl)(unpool2(h))
    h = nn.relu(bn("bn2", h))  # [B, 2H, 2W, C_out]
    h = _conv3(self.features, self.dtype, "conv2", self.conv_impl)(h)
    return h + sc


class Generator128(nn.Module):
  """compare_gan's resnet5 G: 4x4 seed, 5 up-blocks, tanh; no SN.

  Attributes:
    width: base width, compare_gan's `ch` (paper: 64); blocks use
      width * G_MULTIPLIERS.
    out_channels: image channels (3 for RGB, 1 for grey images).
    dtype: compute dtype (parameters stay float32).
    norm: "batch_norm" (Uncond-GAN, SS-GAN), "self_modulated" (sBN) or
      "conditional" (Cond-GAN; needs `num_classes` and labels `y`).
    num_classes: classes of the conditional BN.
    norm_hidden: hidden width of the sBN MLP.
  """

  width: int = 64
  out_channels: int = 3
  dtype: Any = jnp.float32
  norm: str = "batch_norm"
  num_classes: int = 0
  norm_hidden: int = 32
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, z: jax.Array, y=None, *, train: bool) -> jax.Array:
    """z [B, Z] (and labels y [B] for "conditional") -> [B, 128, 128, C]."""
    b = z.shape[0]
    cond = layers.g_norm_input(self.norm, z, y)
    c0 = self.width * G_MULTIPLIERS[0]
    h = _dense(BOTTOM * BOTTOM * c0, self.dtype, "dense")(z)
    h = h.reshape(b, BOTTOM, BOTTOM, c0)  # [B, 4, 4, 8W]
    for i, mult in enumerate(G_MULTIPLIERS[1:]):
      h = GBlock(
        self.width * mult,
        self.dtype,
        self.norm,
        self.num_classes,
        self.norm_hidden,
        conv_impl=self.conv_impl,
        name=f"block{i + 1}",
      )(h, cond, train=train)  # [B, 4 * 2^(i+1), same, W * mult]
    h = layers.g_norm_fn(self, cond, train=train)("bn_out", h)
    h = nn.relu(h)
    h = _conv3(self.out_channels, self.dtype, "conv_out", self.conv_impl)(h)
    return jnp.tanh(h.astype(jnp.float32))  # [B, 128, 128, C] in [-1, 1]


class DBlock(nn.Module):
  """Down-block: (ReLU-)conv3x3-ReLU-conv3x3-avgpool; shortcut conv3x3-avgpool.

  Attributes:
    features: output channels.
    preactivate: ReLU before the first conv; off for the block that reads
      the image (see the module docstring).
    sn: spectral norm on the convs.
    dtype: compute dtype.
  """

  features: int
  preactivate: bool = True
  sn: bool = True
  dtype: Any = jnp.float32
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    sn = lambda layer: layers.MaybeSN(layer, self.sn, name=layer.name + "_sn")
    sc = sn(_conv3(self.features, self.dtype, "shortcut", self.conv_impl))(
      x, train=train
    )
    h = nn.relu(x) if self.preactivate else x  # [N, H, W, C_in]
    h = sn(_conv3(self.features, self.dtype, "conv1", self.conv_impl))(
      h, train=train
    )
    h = nn.relu(h)
    h = sn(_conv3(self.features, self.dtype, "conv2", self.conv_impl))(
      h, train=train
    )
    return layers.avgpool2(h) + layers.avgpool2(sc)  # [N, H/2, W/2, C_out]


class Discriminator128(nn.Module):
  """compare_gan's resnet5 D with a GAN head and auxiliary heads.

  Attributes:
    width: base width, compare_gan's `ch` (paper: 64); blocks use
      width * D_MULTIPLIERS.
    aux_heads: (name, num_classes) per self-supervised task; one SN dense
      head each on the pooled features (rotation: ("rotation", 4)).
    spectral_norm: SN on every conv/dense (paper: on).
    dtype: compute dtype.
    pooling: "mean" (compare_gan) or "sum" (SNGAN-style) over space.

  Returns from __call__:
    (gan_logits [N], {"features": [N, 8W], "aux_logits": {name: [N, k]},
     "block_features": tuple of 6 [N, W * D_MULTIPLIERS[i]] average-pooled
     block outputs}).
  """

  width: int = 64
  aux_heads: tuple[tuple[str, int], ...] = ()
  spectral_norm: bool = True
  num_classes: int = 0  # classes of the projection (Cond-GAN)
  projection: bool = False  # add extras["class_embed"] [K, C]
  dtype: Any = jnp.float32
  pooling: str = "mean"
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool):
    if self.pooling not in POOLINGS:
      raise ValueError(
        f"pooling={self.pooling!r}; choose one of {', '.join(POOLINGS)}"
      )
    h = x.astype(self.dtype)  # [N, 128, 128, C]
    block_features = []
    for i, mult in enumerate(D_MULTIPLIERS):
      h = DBlock(
        self.width * mult,
        preactivate=i > 0,
        sn=self.spectral_norm,
        dtype=self.dtype,
        conv_impl=self.conv_impl,
        name=f"block{i + 1}",
      )(h, train=train)  # [N, 64 / 2^i, same, W * mult]
      block_features.append(jnp.mean(h.astype(jnp.float32), axis=(1, 2)))
    h = nn.relu(h)
    pool = jnp.mean if self.pooling == "mean" else jnp.sum
    h = pool(h, axis=(1, 2))  # [N, 8W]
    return layers.d_heads(
      h,
      block_features,
      lambda k, name: _dense(k, self.dtype, name),
      aux_heads=self.aux_heads,
      spectral_norm=self.spectral_norm,
      projection=self.projection,
      num_classes=self.num_classes,
      dtype=self.dtype,
      train=train,
    )
