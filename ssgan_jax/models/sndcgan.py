"""compare_gan's SNDCGAN: the "standard CNN" G and D of the SNGAN paper.

  g = sndcgan.Generator(width=64, image_size=32)
  gv = g.init(key, z, train=False)                 # z [B, 128]
  x = g.apply(gv, z, train=False)                  # [B, 32, 32, 3] in [-1, 1]
  d = sndcgan.Discriminator(width=64, aux_heads=(("rotation", 4),))
  dv = d.init(key, x, train=False)
  logits, extras = d.apply(dv, x, train=False)     # [B], {...}

Taken from compare_gan (`architectures/sndcgan.py`, `arch_ops.py`), with
s = image_size / 8 and W = `width` (64 in compare_gan, where it is fixed):

- G: z -> Dense(s*s*8W) -> BN -> ReLU -> reshape [B, s, s, 8W]
  -> 3 x (deconv4x4 stride 2 -> BN -> ReLU) to 4W, 2W, W channels
  -> deconv3x3 stride 1 to C channels -> tanh.
  The first BN acts on the flat dense output, so each of its s*s*8W units
  has its own statistics and scale/shift (compare_gan reshapes a flat
  tensor to [B, 1, 1, units] to normalise it; so does this module).
- D: conv3x3 to W, then (conv4x4 stride 2, conv3x3) at 2W, 4W and 8W, each
  conv followed by LeakyReLU(0.1) -> flatten [N, s*s*8W] -> Dense(1).
  No normalisation in D; SN on all its weights when enabled. The auxiliary
  heads read the flattened features, as compare_gan's SSGAN rotation head
  does.
- Every conv, deconv and dense layer has a bias; weights start N(0, 0.02).

Differences: compare_gan keeps images in [0, 1], maps D's input to [-1, 1]
and G's tanh output back to [0, 1]; with data in [-1, 1] both maps drop out.
G's last deconv3x3 with stride 1 is a conv3x3 (same parameters, kernel
flipped) and is written as one. Sizes: any multiple of 8 works; the registry
lists 32, 48, 64 and 128 (compare_gan's CelebA-HQ 128 config uses this net).

Parameter counts (biases, BN scale/shift; not BN statistics or SN vectors),
at 32x32, W = 64, z 128, RGB, plain BN, D with a 4-way rotation head:
G 3,828,739, D 5,893,637 (tests/architectures_test.py derives both by
formula). At 64x64: G 7,048,195, D 6,016,517.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ssgan_jax.models import conv as conv_lib
from ssgan_jax.models import layers

# G's widths after the dense layer and each deconv, as multiples of `width`.
G_MULTIPLIERS = (8, 4, 2, 1)
# D's stages: conv3x3 to W, then (conv4x4/2, conv3x3) to each of 2W, 4W, 8W.
D_MULTIPLIERS = (1, 2, 4, 8)
LEAK = 0.1

_INIT = nn.initializers.normal(0.02)


def _conv(
  features: int, kernel: int, stride: int, dtype: Any, name: str, impl: str
):
  return nn.Conv(
    features,
    (kernel, kernel),
    strides=(stride, stride),
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


class Generator(nn.Module):
  """SNDCGAN G: dense seed at image_size/8, 3 stride-2 deconvs, tanh; no SN.

  Attributes:
    width: base width (compare_gan: 64); layers use width * G_MULTIPLIERS.
    out_channels: image channels (3 for RGB, 1 for grey images).
    image_size: output height and width, a multiple of 8.
    dtype: compute dtype (parameters stay float32).
    norm: "batch_norm" (Uncond-GAN, SS-GAN), "self_modulated" (sBN) or
      "conditional" (Cond-GAN; needs `num_classes` and labels `y`).
    num_classes: classes of the conditional BN.
    norm_hidden: hidden width of the sBN MLP.
  """

  width: int = 64
  out_channels: int = 3
  image_size: int = 32
  dtype: Any = jnp.float32
  norm: str = "batch_norm"
  num_classes: int = 0
  norm_hidden: int = 32
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, z: jax.Array, y=None, *, train: bool) -> jax.Array:
    """z [B, Z] (and labels y [B] for "conditional") -> [B, S, S, C]."""
    if self.image_size % 8:
      raise ValueError(f"image_size={self.image_size} is not a multiple of 8")
    b = z.shape[0]
    s = self.image_size // 8
    cond = layers.g_norm_input(self.norm, z, y)
    bn = layers.g_norm_fn(self, cond, train=train)
    c0 = self.width * G_MULTIPLIERS[0]
    h = _dense(s * s * c0, self.dtype, "dense")(z)
    # Per-unit BN of the flat seed: as a [B, 1, 1, units] map, BN's
    # statistics are taken over the batch alone.
    h = nn.relu(bn("bn0", h.reshape(b, 1, 1, s * s * c0)))
    h = h.reshape(b, s, s, c0)  # [B, S/8, S/8, 8W]
    for i, mult in enumerate(G_MULTIPLIERS[1:]):
      h = nn.ConvTranspose(
        self.width * mult,
        (4, 4),
        strides=(2, 2),
        padding="SAME",
        kernel_init=_INIT,
        bias_init=nn.initializers.zeros,
        dtype=self.dtype,
        name=f"deconv{i + 1}",
      )(h)  # [B, S / 2^(2-i), same, W * mult]
      h = nn.relu(bn(f"bn{i + 1}", h))
    h = _conv(self.out_channels, 3, 1, self.dtype, "conv_out", self.conv_impl)(
      h
    )
    return jnp.tanh(h.astype(jnp.float32))  # [B, S, S, C] in [-1, 1]


class Discriminator(nn.Module):
  """SNDCGAN D: 7 convs with LeakyReLU(0.1), a GAN head and auxiliary heads.

  Attributes:
    width: base width (compare_gan: 64); stages use width * D_MULTIPLIERS.
    aux_heads: (name, num_classes) per self-supervised task; one dense head
      each (SN when D has it) on the flattened features.
    spectral_norm: SN on every conv/dense (compare_gan's SNDCGAN: on).
    dtype: compute dtype.

  Returns from __call__, for S x S images:
    (gan_logits [N], {"features": [N, (S/8)^2 * 8W],
     "aux_logits": {name: [N, k]}, "block_features": tuple of 4
     [N, W * D_MULTIPLIERS[i]] average-pooled stage outputs}).
  """

  width: int = 64
  aux_heads: tuple[tuple[str, int], ...] = ()
  spectral_norm: bool = True
  num_classes: int = 0  # classes of the projection (Cond-GAN)
  projection: bool = False  # add extras["class_embed"] [K, C]
  dtype: Any = jnp.float32
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool):
    sn = lambda layer: layers.MaybeSN(
      layer, self.spectral_norm, name=layer.name + "_sn"
    )
    act = lambda v: nn.leaky_relu(v, negative_slope=LEAK)
    h = x.astype(self.dtype)  # [N, S, S, C]
    h = act(
      sn(_conv(self.width, 3, 1, self.dtype, "conv1", self.conv_impl))(
        h, train=train
      )
    )
    block_features = [jnp.mean(h.astype(jnp.float32), axis=(1, 2))]
    for i, mult in enumerate(D_MULTIPLIERS[1:]):
      c = self.width * mult
      h = sn(_conv(c, 4, 2, self.dtype, f"conv{2 * i + 2}", self.conv_impl))(
        h, train=train
      )
      h = act(h)  # [N, S / 2^(i+1), same, c]
      h = sn(_conv(c, 3, 1, self.dtype, f"conv{2 * i + 3}", self.conv_impl))(
        h, train=train
      )
      h = act(h)
      block_features.append(jnp.mean(h.astype(jnp.float32), axis=(1, 2)))
    h = h.reshape(h.shape[0], -1)  # [N, (S/8)^2 * 8W]
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
