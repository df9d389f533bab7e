"""The 32x32 SN-ResNet generator and discriminator used by the paper on CIFAR10.

Architecture after SNGAN as used for SS-GAN (torch-mimicry's SSGAN32): with
G width 256, D width 128, z 128 and 3 channels, G has 4,276,739 parameters and
D 1,054,341 (checked in tests/models_test.py).

  G: z [B, Z] -> Dense(4*4*W) -> 3 x UpBlock(W) -> BN -> ReLU -> conv3x3(C) -> tanh
  D: x [N, 32, 32, C] -> OptimizedBlock(W, down) -> Block(W, down) -> 2 x Block(W)
     -> ReLU -> global sum pool -> Dense(1) GAN logit, Dense(k) per SSL head
     (+ a [K, W] class embedding for the Cond-GAN projection)
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ssgan_jax.models import layers

_ROOT2 = 2.0**0.5


class GBlock(nn.Module):
  """Up-block: BN-ReLU-up-conv3x3-BN-ReLU-conv3x3; shortcut up-conv1x1.

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
    h = nn.relu(bn("bn1", x))
    h = layers.upsample2(h)  # [B, 2H, 2W, C]
    h = layers.conv(
      self.features, 3, _ROOT2, self.dtype, "conv1", self.conv_impl
    )(h)
    h = nn.relu(bn("bn2", h))
    h = layers.conv(
      self.features, 3, _ROOT2, self.dtype, "conv2", self.conv_impl
    )(h)
    # conv1x1(up(x)) == up(conv1x1(x)): both are linear and the bilinear
    # weights sum to 1 (so the bias commutes too). At the low resolution the
    # 1x1 conv costs 4x less.
    sc = layers.upsample2(
      layers.conv(
        self.features, 1, 1.0, self.dtype, "shortcut", self.conv_impl
      )(x)
    )
    return h + sc


class Generator32(nn.Module):
  """SN-ResNet G for 32x32 images; no SN, BN everywhere, tanh output.

  Attributes:
    width: channels of every block (paper: 256).
    out_channels: image channels (3 for RGB, 1 for Fashion-MNIST).
    bottom: spatial size after the first dense layer (4 -> 32 after 3 ups).
    dtype: compute dtype (parameters stay float32).
    norm: "batch_norm" (Uncond-GAN, SS-GAN), "self_modulated" (sBN) or
      "conditional" (Cond-GAN; needs `num_classes` and labels `y`).
    num_classes: classes of the conditional BN.
    norm_hidden: hidden width of the sBN MLP.
  """

  width: int = 256
  out_channels: int = 3
  bottom: int = 4
  dtype: Any = jnp.float32
  norm: str = "batch_norm"
  num_classes: int = 0
  norm_hidden: int = 32
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, z: jax.Array, y=None, *, train: bool) -> jax.Array:
    """z [B, Z] (and labels y [B] for "conditional") -> images [B, 32, 32, C]."""
    b = z.shape[0]
    cond = layers.g_norm_input(self.norm, z, y)
    h = layers.dense(
      self.bottom * self.bottom * self.width, 1.0, self.dtype, "dense"
    )(z)
    h = h.reshape(b, self.bottom, self.bottom, self.width)  # [B, 4, 4, W]
    for i in range(3):
      h = GBlock(
        self.width,
        self.dtype,
        self.norm,
        self.num_classes,
        self.norm_hidden,
        conv_impl=self.conv_impl,
        name=f"block{i + 1}",
      )(h, cond, train=train)
    h = layers.g_norm_fn(self, cond, train=train)("bn_out", h)
    h = nn.relu(h)
    h = layers.conv(
      self.out_channels, 3, 1.0, self.dtype, "conv_out", self.conv_impl
    )(h)
    return jnp.tanh(h.astype(jnp.float32))  # [B, 32, 32, C] in [-1, 1]


class DBlock(nn.Module):
  """D residual block: ReLU-conv-ReLU-conv(-avgpool); 1x1 shortcut if needed."""

  features: int
  downsample: bool
  sn: bool = True
  dtype: Any = jnp.float32
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    sn = lambda layer: layers.MaybeSN(layer, self.sn, name=layer.name + "_sn")
    h = nn.relu(x)
    h = sn(
      layers.conv(self.features, 3, _ROOT2, self.dtype, "conv1", self.conv_impl)
    )(h, train=train)
    h = nn.relu(h)
    h = sn(
      layers.conv(self.features, 3, _ROOT2, self.dtype, "conv2", self.conv_impl)
    )(h, train=train)
    sc = x
    if self.downsample or x.shape[-1] != self.features:
      sc = sn(
        layers.conv(
          self.features, 1, 1.0, self.dtype, "shortcut", self.conv_impl
        )
      )(sc, train=train)
    if self.downsample:
      h = layers.avgpool2(h)
      sc = layers.avgpool2(sc)
    return h + sc


class OptimizedDBlock(nn.Module):
  """First D block: conv-ReLU-conv-avgpool; shortcut avgpool-conv1x1."""

  features: int
  sn: bool = True
  dtype: Any = jnp.float32
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    sn = lambda layer: layers.MaybeSN(layer, self.sn, name=layer.name + "_sn")
    h = sn(
      layers.conv(self.features, 3, _ROOT2, self.dtype, "conv1", self.conv_impl)
    )(x, train=train)
    h = nn.relu(h)
    h = sn(
      layers.conv(self.features, 3, _ROOT2, self.dtype, "conv2", self.conv_impl)
    )(h, train=train)
    h = layers.avgpool2(h)
    sc = sn(
      layers.conv(self.features, 1, 1.0, self.dtype, "shortcut", self.conv_impl)
    )(layers.avgpool2(x), train=train)
    return h + sc


class Discriminator32(nn.Module):
  """SN-ResNet D for 32x32 images with a GAN head and auxiliary heads.

  Attributes:
    width: channels of every block (paper: 128).
    aux_heads: (name, num_classes) per self-supervised task; one SN dense
      head each on the pooled features (rotation: ("rotation", 4)).
    spectral_norm: SN on every conv/dense (paper: on).
    dtype: compute dtype.
    num_classes: K, the classes of the projection (Cond-GAN only).
    projection: make the class embedding of a projection discriminator
      (Miyato & Koyama, ICLR 2018): the Cond-GAN logit of x with label y is
      `gan_logit + <class_embed[y], features>`.

  Returns from __call__:
    (gan_logits [N], {"features": [N, W], "aux_logits": {name: [N, k]},
     "block_features": tuple of [N, W] average-pooled block outputs,
     and with `projection` "class_embed": [K, W] float32}).

  D itself never sees labels: it is called once on upright images and every
  SSL view together, and only the upright images have a class, so the train
  step adds the projection term to their logits (see train_step.py).
  """

  width: int = 128
  aux_heads: tuple[tuple[str, int], ...] = ()
  spectral_norm: bool = True
  dtype: Any = jnp.float32
  num_classes: int = 0
  projection: bool = False
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool):
    common = dict(
      sn=self.spectral_norm, dtype=self.dtype, conv_impl=self.conv_impl
    )
    blocks = [
      OptimizedDBlock(self.width, **common, name="block1"),
      DBlock(self.width, True, **common, name="block2"),
      DBlock(self.width, False, **common, name="block3"),
      DBlock(self.width, False, **common, name="block4"),
    ]
    h = x.astype(self.dtype)  # [N, 32, 32, C]
    block_features = []
    for block in blocks:
      h = block(h, train=train)
      block_features.append(jnp.mean(h.astype(jnp.float32), axis=(1, 2)))
    h = nn.relu(h)
    h = jnp.sum(h, axis=(1, 2))  # global sum pool: [N, W]
    return layers.d_heads(
      h,
      block_features,
      lambda k, name: layers.dense(k, 1.0, self.dtype, name),
      aux_heads=self.aux_heads,
      spectral_norm=self.spectral_norm,
      projection=self.projection,
      num_classes=self.num_classes,
      dtype=self.dtype,
      train=train,
    )
