"""The FID Inception-v3 network (pytorch-fid's weights) in Flax, offline.

  from ssgan_jax.evaluation import inception
  variables = inception.load_params("fid_inception.npz")    # or the .pth
  pool3, logits = inception.features_and_logits(variables, images, 200)
  # images [N, H, W, 3] float in [-1, 1] (or uint8 0..255, or 1 channel)
  # -> pool3 [N, 2048] float64, logits [N, 1008] float64

This is the network that FID, IS and KID are defined with: the 2015-12-05
TensorFlow Inception graph as ported to PyTorch by pytorch-fid
(`pt_inception-2015-12-05-6726825d.pth`, see docs/fid.md for how to get and
convert it). It differs from the ImageNet Inception-v3 of torchvision in its
weights, in 1008 rather than 1000 classes, and in pytorch-fid's patched
blocks, which copy quirks of the TF graph:

  * FIDInceptionA / C / E_1 average-pool their pool branch without counting
    the zero padding (TF's `avg_pool` with SAME padding), and
  * FIDInceptionE_2 (Mixed_7c) max-pools that branch instead of averaging.

Preprocessing is exactly pytorch-fid's `resize_input=True,
normalize_input=True`: a bilinear resize to 299x299 with half-pixel centres
(`F.interpolate(..., align_corners=False)`, no antialiasing), then [0, 1] ->
[-1, 1]. Our images already are in [-1, 1]; the resize is affine-invariant
(its weights sum to 1), so resizing [-1, 1] images equals resizing [0, 1]
ones and mapping afterwards.

BatchNorm always uses the stored running statistics (eps 1e-3): a feature
is a function of its own image only, never of the rest of its batch.
Convolutions and matmuls run at `Precision.HIGHEST`: by default GPUs and
TPUs may use TF32/bf16 passes (about 1e-3 relative error per product), far
coarser than the ~1e-6 agreement with torch that the rest of this module
keeps.

The network is NHWC; `convert_state_dict` (used by `load_params` for a
.pth and by the `convert_inception` command for an .npz) turns torch's OIHW
kernels into HWIO and torch's [out, in] fc weight into [in, out].
"""

import functools
import hashlib
import os
import pathlib
import zipfile
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from ssgan_jax import errors

WEIGHTS_URL = (
  "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
  "pt_inception-2015-12-05-6726825d.pth"
)
WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
# torch.hub names weight files <name>-<first 8 hex digits of their sha256>.
SOURCE_SHA256_PREFIX = "6726825d"
IMAGE_SIZE = 299  # the resolution the network and every published FID use
MIN_IMAGE_SIZE = 75  # smaller inputs shrink to nothing before Mixed_7a
FEATURE_DIM = 2048  # pool3
NUM_LOGITS = 1008  # the TF graph's classes (1000 ImageNet + 8 unused)
BN_EPSILON = 1e-3
NPZ_FORMAT = "ssgan_jax/fid_inception/v1"
FORMAT_KEY = "__format__"
SOURCE_SHA256_KEY = "__source_sha256__"
# Extra per-BatchNorm entries of a torch state dict that inference ignores.
IGNORED_SUFFIX = ".num_batches_tracked"
DEFAULT_BATCH_SIZE = 200

Variables = dict[str, Any]  # {"params": ..., "batch_stats": ...}
_HIGHEST = jax.lax.Precision.HIGHEST


# --- The architecture in torch terms -----------------------------------------
# Each entry mirrors one `BasicConv2d(in, out, kernel_size=...)` of
# torchvision's Inception3 as patched by pytorch-fid: (state-dict prefix,
# in_channels, out_channels, (kh, kw)). It is written independently of the
# Flax module below, so a test comparing the two catches a wrong width or
# kernel on either side.


def _block_a(name: str, cin: int, pool_features: int) -> list:
  return [
    (f"{name}.branch1x1", cin, 64, (1, 1)),
    (f"{name}.branch5x5_1", cin, 48, (1, 1)),
    (f"{name}.branch5x5_2", 48, 64, (5, 5)),
    (f"{name}.branch3x3dbl_1", cin, 64, (1, 1)),
    (f"{name}.branch3x3dbl_2", 64, 96, (3, 3)),
    (f"{name}.branch3x3dbl_3", 96, 96, (3, 3)),
    (f"{name}.branch_pool", cin, pool_features, (1, 1)),
  ]


def _block_b(name: str, cin: int) -> list:
  return [
    (f"{name}.branch3x3", cin, 384, (3, 3)),
    (f"{name}.branch3x3dbl_1", cin, 64, (1, 1)),
    (f"{name}.branch3x3dbl_2", 64, 96, (3, 3)),
    (f"{name}.branch3x3dbl_3", 96, 96, (3, 3)),
  ]


def _block_c(name: str, cin: int, c7: int) -> list:
  return [
    (f"{name}.branch1x1", cin, 192, (1, 1)),
    (f"{name}.branch7x7_1", cin, c7, (1, 1)),
    (f"{name}.branch7x7_2", c7, c7, (1, 7)),
    (f"{name}.branch7x7_3", c7, 192, (7, 1)),
    (f"{name}.branch7x7dbl_1", cin, c7, (1, 1)),
    (f"{name}.branch7x7dbl_2", c7, c7, (7, 1)),
    (f"{name}.branch7x7dbl_3", c7, c7, (1, 7)),
    (f"{name}.branch7x7dbl_4", c7, c7, (7, 1)),
    (f"{name}.branch7x7dbl_5", c7, 192, (1, 7)),
    (f"{name}.branch_pool", cin, 192, (1, 1)),
  ]


def _block_d(name: str, cin: int) -> list:
  return [
    (f"{name}.branch3x3_1", cin, 192, (1, 1)),
    (f"{name}.branch3x3_2", 192, 320, (3, 3)),
    (f"{name}.branch7x7x3_1", cin, 192, (1, 1)),
    (f"{name}.branch7x7x3_2", 192, 192, (1, 7)),
    (f"{name}.branch7x7x3_3", 192, 192, (7, 1)),
    (f"{name}.branch7x7x3_4", 192, 192, (3, 3)),
  ]


def _block_e(name: str, cin: int) -> list:
  return [
    (f"{name}.branch1x1", cin, 320, (1, 1)),
    (f"{name}.branch3x3_1", cin, 384, (1, 1)),
    (f"{name}.branch3x3_2a", 384, 384, (1, 3)),
    (f"{name}.branch3x3_2b", 384, 384, (3, 1)),
    (f"{name}.branch3x3dbl_1", cin, 448, (1, 1)),
    (f"{name}.branch3x3dbl_2", 448, 384, (3, 3)),
    (f"{name}.branch3x3dbl_3a", 384, 384, (1, 3)),
    (f"{name}.branch3x3dbl_3b", 384, 384, (3, 1)),
    (f"{name}.branch_pool", cin, 192, (1, 1)),
  ]


def _torch_convs() -> list:
  return [
    ("Conv2d_1a_3x3", 3, 32, (3, 3)),
    ("Conv2d_2a_3x3", 32, 32, (3, 3)),
    ("Conv2d_2b_3x3", 32, 64, (3, 3)),
    ("Conv2d_3b_1x1", 64, 80, (1, 1)),
    ("Conv2d_4a_3x3", 80, 192, (3, 3)),
    *_block_a("Mixed_5b", 192, 32),
    *_block_a("Mixed_5c", 256, 64),
    *_block_a("Mixed_5d", 288, 64),
    *_block_b("Mixed_6a", 288),
    *_block_c("Mixed_6b", 768, 128),
    *_block_c("Mixed_6c", 768, 160),
    *_block_c("Mixed_6d", 768, 160),
    *_block_c("Mixed_6e", 768, 192),
    *_block_d("Mixed_7a", 768),
    *_block_e("Mixed_7b", 1280),
    *_block_e("Mixed_7c", 2048),
  ]


def expected_torch_shapes() -> dict[str, tuple[int, ...]]:
  """Every key of pytorch-fid's FID Inception state dict and its shape.

  These are the 94 `BasicConv2d` layers (a bias-free conv and a BatchNorm
  each) and the 1008-way `fc`; the auxiliary classifier is not part of the
  FID network. The official file also holds a scalar
  `<bn>.num_batches_tracked` per BatchNorm, which inference does not use
  and which is therefore not listed (the converter accepts and drops it).

  Returns:
    {torch key: torch shape}, e.g. "Conv2d_1a_3x3.conv.weight": (32, 3, 3,
    3) (OIHW), "Mixed_5b.branch1x1.bn.running_var": (64,),
    "fc.weight": (1008, 2048) ([out, in]).
  """
  shapes = {}
  for name, cin, cout, (kh, kw) in _torch_convs():
    shapes[f"{name}.conv.weight"] = (cout, cin, kh, kw)
    for stat in ("weight", "bias", "running_mean", "running_var"):
      shapes[f"{name}.bn.{stat}"] = (cout,)
  shapes["fc.weight"] = (NUM_LOGITS, FEATURE_DIM)
  shapes["fc.bias"] = (NUM_LOGITS,)
  return shapes


# torch suffix -> (collection, flax path suffix); conv and fc weights are
# also transposed (see convert_state_dict).
TORCH_TO_FLAX = {
  "conv.weight": ("params", "conv/kernel"),
  "bn.weight": ("params", "bn/scale"),
  "bn.bias": ("params", "bn/bias"),
  "bn.running_mean": ("batch_stats", "bn/mean"),
  "bn.running_var": ("batch_stats", "bn/var"),
}


def flax_key(torch_key: str) -> str:
  """The flat .npz key of a torch key.

  'Mixed_5b.branch1x1.conv.weight' -> 'params/Mixed_5b/branch1x1/conv/kernel':
  the flat key of the converted .npz: the variable collection, then the
  module path with torch's dots as slashes.
  """
  if torch_key == "fc.weight":
    return "params/fc/kernel"
  if torch_key == "fc.bias":
    return "params/fc/bias"
  for suffix, (collection, leaf) in TORCH_TO_FLAX.items():
    if torch_key.endswith("." + suffix):
      module = torch_key[: -len(suffix) - 1].replace(".", "/")
      return f"{collection}/{module}/{leaf}"
  raise KeyError(torch_key)


def flax_shape(torch_key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
  """The shape a torch array has after conversion (OIHW -> HWIO, fc.T)."""
  if torch_key.endswith("conv.weight"):
    o, i, h, w = shape
    return (h, w, i, o)
  if torch_key == "fc.weight":
    return shape[::-1]
  return shape


def expected_flax_shapes() -> dict[str, tuple[int, ...]]:
  """{flat .npz key: shape} of a converted file, from the torch table."""
  return {
    flax_key(k): flax_shape(k, s) for k, s in expected_torch_shapes().items()
  }


# --- Preprocessing -----------------------------------------------------------


@functools.lru_cache(maxsize=16)
def resize_matrix(in_size: int, out_size: int) -> np.ndarray:
  """[out, in] weights of torch's bilinear resize along one axis.

  `F.interpolate(mode="bilinear", align_corners=False)` with an explicit
  output size samples output pixel d at source coordinate
  s = (d + 0.5) * in / out - 0.5 (half-pixel centres), clamped below at 0,
  and blends pixels floor(s) and floor(s) + 1 (the last pixel repeats at
  the far edge). Without antialiasing a downscale still reads only two
  source pixels per output pixel, whatever the ratio. Writing the resize
  as a matrix makes these semantics explicit and testable, which
  `jax.image.resize` (antialiased when shrinking) would not.
  """
  # float32 like torch's CPU kernel: float64 coordinates move a 350 -> 299
  # downscale by 1e-4, float32 ones agree with torch to ~4e-6.
  f32 = np.float32
  scale = f32(in_size) / f32(out_size)
  d = np.arange(out_size, dtype=f32)
  src = np.maximum(scale * (d + f32(0.5)) - f32(0.5), f32(0.0))
  i0 = np.minimum(src.astype(np.int64), in_size - 1)  # floor, as src >= 0
  i1 = np.minimum(i0 + 1, in_size - 1)
  frac = src - i0.astype(f32)
  m = np.zeros((out_size, in_size), np.float64)
  np.add.at(m, (np.arange(out_size), i0), f32(1.0) - frac)
  np.add.at(m, (np.arange(out_size), i1), frac)
  m = m.astype(np.float32)
  m.setflags(write=False)
  return m


def resize_bilinear(x: jax.Array, size: int) -> jax.Array:
  """[B, H, W, C] -> [B, size, size, C], exactly as pytorch-fid resizes."""
  _, h, w, _ = x.shape
  if (h, w) == (size, size):
    return x  # torch's identity case: source coordinates equal the pixels
  rows = jnp.asarray(resize_matrix(h, size))  # [size, H]
  cols = jnp.asarray(resize_matrix(w, size))  # [size, W]
  x = jnp.einsum("oh,bhwc->bowc", rows, x, precision=_HIGHEST)
  return jnp.einsum("pw,bowc->bopc", cols, x, precision=_HIGHEST)


# --- The network -------------------------------------------------------------


class BasicConv(nn.Module):
  """Bias-free conv, inference BatchNorm (eps 1e-3), ReLU: `BasicConv2d`.

  `padding` is torch's symmetric (ph, pw), so every layer reads like its
  torchvision constructor.
  """

  features: int
  kernel: tuple[int, int]
  strides: int = 1
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    ph, pw = self.padding
    x = nn.Conv(
      self.features,
      self.kernel,
      strides=self.strides,
      padding=((ph, ph), (pw, pw)),
      use_bias=False,
      precision=_HIGHEST,
      name="conv",
    )(x)
    # use_running_average is fixed, not an argument: FID features must not
    # depend on batch composition, and nothing here ever trains.
    x = nn.BatchNorm(use_running_average=True, epsilon=BN_EPSILON, name="bn")(x)
    return nn.relu(x)


def _avg_pool_3x3(x: jax.Array) -> jax.Array:
  """TF's SAME 3x3 average: padded zeros are not counted (FID patch)."""
  return nn.avg_pool(
    x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False
  )


def _max_pool_3x3_s2(x: jax.Array) -> jax.Array:
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")


class InceptionA(nn.Module):
  """FIDInceptionA (Mixed_5b/c/d): 35x35, 64 + 64 + 96 + pool_features."""

  pool_features: int

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(64, (1, 1), name="branch1x1")(x)
    b5 = BasicConv(48, (1, 1), name="branch5x5_1")(x)
    b5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
    b3 = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
    bp = BasicConv(self.pool_features, (1, 1), name="branch_pool")(
      _avg_pool_3x3(x)
    )
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  """InceptionB (Mixed_6a): 35x35x288 -> 17x17x768 (384 + 96 + 288)."""

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(384, (3, 3), strides=2, name="branch3x3")(x)
    bd = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
    bd = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = BasicConv(96, (3, 3), strides=2, name="branch3x3dbl_3")(bd)
    return jnp.concatenate([b3, bd, _max_pool_3x3_s2(x)], axis=-1)


class InceptionC(nn.Module):
  """FIDInceptionC (Mixed_6b..e): 17x17x768, factorised 7x7 convs."""

  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    row, col = dict(padding=(0, 3)), dict(padding=(3, 0))  # 1x7, 7x1
    b1 = BasicConv(192, (1, 1), name="branch1x1")(x)
    b7 = BasicConv(c7, (1, 1), name="branch7x7_1")(x)
    b7 = BasicConv(c7, (1, 7), **row, name="branch7x7_2")(b7)
    b7 = BasicConv(192, (7, 1), **col, name="branch7x7_3")(b7)
    bd = BasicConv(c7, (1, 1), name="branch7x7dbl_1")(x)
    bd = BasicConv(c7, (7, 1), **col, name="branch7x7dbl_2")(bd)
    bd = BasicConv(c7, (1, 7), **row, name="branch7x7dbl_3")(bd)
    bd = BasicConv(c7, (7, 1), **col, name="branch7x7dbl_4")(bd)
    bd = BasicConv(192, (1, 7), **row, name="branch7x7dbl_5")(bd)
    bp = BasicConv(192, (1, 1), name="branch_pool")(_avg_pool_3x3(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  """InceptionD (Mixed_7a): 17x17x768 -> 8x8x1280 (320 + 192 + 768)."""

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(192, (1, 1), name="branch3x3_1")(x)
    b3 = BasicConv(320, (3, 3), strides=2, name="branch3x3_2")(b3)
    b7 = BasicConv(192, (1, 1), name="branch7x7x3_1")(x)
    b7 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
    b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
    b7 = BasicConv(192, (3, 3), strides=2, name="branch7x7x3_4")(b7)
    return jnp.concatenate([b3, b7, _max_pool_3x3_s2(x)], axis=-1)


class InceptionE(nn.Module):
  """FIDInceptionE_1 (Mixed_7b, avg pool) / E_2 (Mixed_7c, max pool).

  Output 8x8x2048: 320 + (384 + 384) + (384 + 384) + 192.
  """

  max_pool: bool

  @nn.compact
  def __call__(self, x):
    row, col = dict(padding=(0, 1)), dict(padding=(1, 0))  # 1x3, 3x1
    b1 = BasicConv(320, (1, 1), name="branch1x1")(x)
    b3 = BasicConv(384, (1, 1), name="branch3x3_1")(x)
    b3 = jnp.concatenate(
      [
        BasicConv(384, (1, 3), **row, name="branch3x3_2a")(b3),
        BasicConv(384, (3, 1), **col, name="branch3x3_2b")(b3),
      ],
      axis=-1,
    )
    bd = BasicConv(448, (1, 1), name="branch3x3dbl_1")(x)
    bd = BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = jnp.concatenate(
      [
        BasicConv(384, (1, 3), **row, name="branch3x3dbl_3a")(bd),
        BasicConv(384, (3, 1), **col, name="branch3x3dbl_3b")(bd),
      ],
      axis=-1,
    )
    if self.max_pool:
      # The TF graph max-pools here (E_2); pads count as -inf, as in torch.
      pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
    else:
      pooled = _avg_pool_3x3(x)
    bp = BasicConv(192, (1, 1), name="branch_pool")(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
  """[B, H, W, 3] in [-1, 1] -> (pool3 [B, 2048], logits [B, 1008]).

  Attributes:
    resize_to: side the input is bilinearly resized to (299, as for every
      published FID); None feeds the input as it is (at least 75x75).
  """

  resize_to: int | None = IMAGE_SIZE

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    if self.resize_to is not None:
      x = resize_bilinear(x, self.resize_to)  # [B, 299, 299, 3]
    x = BasicConv(32, (3, 3), strides=2, name="Conv2d_1a_3x3")(x)  # 149
    x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)  # 147
    x = BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
    x = _max_pool_3x3_s2(x)  # [B, 73, 73, 64]
    x = BasicConv(80, (1, 1), name="Conv2d_3b_1x1")(x)
    x = BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x)  # 71
    x = _max_pool_3x3_s2(x)  # [B, 35, 35, 192]
    x = InceptionA(32, name="Mixed_5b")(x)  # 256
    x = InceptionA(64, name="Mixed_5c")(x)  # 288
    x = InceptionA(64, name="Mixed_5d")(x)  # 288
    x = InceptionB(name="Mixed_6a")(x)  # [B, 17, 17, 768]
    x = InceptionC(128, name="Mixed_6b")(x)
    x = InceptionC(160, name="Mixed_6c")(x)
    x = InceptionC(160, name="Mixed_6d")(x)
    x = InceptionC(192, name="Mixed_6e")(x)
    x = InceptionD(name="Mixed_7a")(x)  # [B, 8, 8, 1280]
    x = InceptionE(max_pool=False, name="Mixed_7b")(x)  # [B, 8, 8, 2048]
    x = InceptionE(max_pool=True, name="Mixed_7c")(x)
    pool3 = jnp.mean(x, axis=(1, 2))  # [B, 2048]; dropout is off in eval
    logits = nn.Dense(NUM_LOGITS, precision=_HIGHEST, name="fc")(pool3)
    return pool3, logits


def abstract_variables(resize_to: int | None = IMAGE_SIZE) -> Variables:
  """Shapes of the module's variables, without computing anything."""
  size = resize_to or IMAGE_SIZE
  x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
  model = FIDInceptionV3(resize_to)
  return jax.eval_shape(lambda x: model.init(jax.random.key(0), x), x)


# --- Weights -----------------------------------------------------------------


def sha256_file(path: str | os.PathLike) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def unflatten(flat: Mapping[str, np.ndarray]) -> Variables:
  """{'params/a/b': x} -> {'params': {'a': {'b': x}}}."""
  tree: dict = {}
  for key, value in flat.items():
    node = tree
    *parents, leaf = key.split("/")
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = value
  return tree


def _get_hint(path: pathlib.Path) -> str:
  return (
    f"download {WEIGHTS_URL} (nothing here downloads it) and convert it with"
    " `python -m ssgan_jax.evaluation.convert_inception --pth"
    f" {WEIGHTS_FILENAME} --out {path.with_suffix('.npz')}`, or pass the .pth"
    " itself (needs torch)"
  )


def _read_npz(path: pathlib.Path) -> tuple[dict[str, np.ndarray], str]:
  """(flat arrays, source sha256) of a converted file, or a UserError."""
  with open(path, "rb") as f:
    magic = f.read(4)
  if not magic.startswith(b"PK"):
    raise errors.UserError(
      f"FID Inception weights {path} are not an .npz archive;"
      f" {_get_hint(path)}."
    )
  try:
    with np.load(path, allow_pickle=False) as z:
      flat = {k: z[k] for k in z.files}
  except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
    raise errors.UserError(
      f"FID Inception weights {path} are damaged ({type(e).__name__}: {e});"
      f" convert them again: {_get_hint(path)}."
    ) from None
  fmt = str(flat.pop(FORMAT_KEY, ""))
  if fmt != NPZ_FORMAT:
    raise errors.UserError(
      f"{path} is not an FID Inception file written by convert_inception"
      f" (format {fmt or 'missing'!r}, expected {NPZ_FORMAT!r});"
      f" {_get_hint(path)}."
    )
  return flat, str(flat.pop(SOURCE_SHA256_KEY, ""))


def check_flat(flat: Mapping[str, np.ndarray], where: str) -> None:
  """Raises a one-line UserError unless `flat` holds exactly the network."""
  want = expected_flax_shapes()
  missing = sorted(set(want) - set(flat))
  extra = sorted(set(flat) - set(want))
  for keys, what in ((missing, "lacks"), (extra, "has unexpected")):
    if keys:
      more = f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""
      raise errors.UserError(
        f"{where} {what} array {keys[0]!r}{more}; it is not pytorch-fid's"
        f" FID Inception ({WEIGHTS_FILENAME}); convert that file again."
      )
  for key, shape in want.items():
    got = np.shape(flat[key])
    if got != shape:
      raise errors.UserError(
        f"{where}: {key!r} has shape {got}, expected {shape}; convert"
        f" {WEIGHTS_FILENAME} again."
      )
    if not np.all(np.isfinite(flat[key])):
      raise errors.UserError(
        f"{where}: {key!r} holds NaN or infinite values; the file is"
        " corrupt, convert it again."
      )


# --- pytorch-fid's .pth (torch only to read it) ----------------------------


_NO_TORCH = (
  "pip install torch (CPU) to read .pth; or pass an already converted .npz"
)


def read_pth(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """The state dict of a .pth file as numpy arrays (the only torch use)."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise errors.UserError(_NO_TORCH) from None
  try:
    # weights_only: a state dict is plain tensors; never unpickle code.
    state = torch.load(path, map_location="cpu", weights_only=True)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.UserError(
      f"cannot read {path} as a torch state dict ({errors.first_line(e)});"
      " download"
      f" {WEIGHTS_URL} again."
    ) from None
  if not isinstance(state, Mapping):
    raise errors.UserError(
      f"{path} holds a {type(state).__name__}, not a state dict; expected"
      f" pytorch-fid's {WEIGHTS_FILENAME}."
    )
  return {
    k: v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v)
    for k, v in state.items()
  }


def _is_ignored(key: str, expected: Mapping[str, tuple]) -> bool:
  """A BatchNorm's step counter that belongs to a known BatchNorm."""
  if not key.endswith(IGNORED_SUFFIX):
    return False
  bn = key[: -len(IGNORED_SUFFIX)]
  return f"{bn}.running_mean" in expected


def convert_state_dict(
  state_dict: Mapping[str, np.ndarray], where: str = "the state dict"
) -> dict[str, np.ndarray]:
  """Torch names and layouts -> the flat .npz keys `load_params` reads.

  Args:
    state_dict: {torch key: array} of pytorch-fid's FID Inception (numpy
      arrays, or anything np.asarray takes, such as CPU tensors).
    where: how to call the input in error messages (e.g. its path).

  Returns:
    {"params/Mixed_5b/branch1x1/conv/kernel": float32 HWIO array, ...};
    see `flax_key`.

  Raises:
    errors.UserError: one line naming the first missing, unexpected or
      wrongly shaped key.
  """
  expected = expected_torch_shapes()
  keys = [k for k in state_dict if not _is_ignored(k, expected)]
  missing = [k for k in expected if k not in state_dict]
  extra = [k for k in keys if k not in expected]
  for found, what in ((missing, "lacks key"), (extra, "has unexpected key")):
    if found:
      more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
      raise errors.UserError(
        f"{where} {what} {found[0]!r}{more}; expected pytorch-fid's FID"
        f" Inception ({WEIGHTS_FILENAME}), not another network."
      )
  out = {}
  for key, shape in expected.items():
    value = np.asarray(state_dict[key])
    if value.shape != shape:
      raise errors.UserError(
        f"{where}: {key!r} has shape {value.shape}, expected {shape}; it is"
        f" not pytorch-fid's FID Inception ({WEIGHTS_FILENAME})."
      )
    if not np.issubdtype(value.dtype, np.floating):
      raise errors.UserError(
        f"{where}: {key!r} has dtype {value.dtype}, expected floats."
      )
    value = value.astype(np.float32)
    if key.endswith("conv.weight"):
      value = value.transpose(2, 3, 1, 0)  # OIHW -> HWIO
    elif key == "fc.weight":
      value = value.T  # [out, in] -> [in, out]
    out[flax_key(key)] = np.ascontiguousarray(value)
  return out


def load_params(path: str | os.PathLike, strict: bool = False) -> Variables:
  """Reads the FID Inception weights: a converted .npz, or the .pth itself.

  Every key and shape is checked. The checksum of the official file cannot
  be verified here, but the converter records the sha256 of the .pth it
  read; torch.hub names weight files by the first 8 hex digits of their
  sha256, so a source that does not start with "6726825d" is not
  pytorch-fid's file, and numbers from it would not compare with anyone's.

  Args:
    path: `.npz` from `convert_inception`, or a `.pth` state dict (converted
      in memory; needs torch).
    strict: raise instead of warning when the source is not the official
      file (or unknown).

  Returns:
    {"params": ..., "batch_stats": ...} of float32 numpy arrays, for
    `FIDInceptionV3().apply` or `features_and_logits`.

  Raises:
    errors.UserError: missing, unreadable or mismatching file (one line;
      a missing file names the download URL and the conversion command).
  """
  path = pathlib.Path(path)
  if not path.is_file():
    what = "is not a file" if path.exists() else "not found"
    raise errors.UserError(
      f"FID Inception weights {path} {what}; {_get_hint(path)}."
    )
  if path.suffix == ".pth":
    flat = convert_state_dict(read_pth(path), where=str(path))
    source = sha256_file(path)
  else:
    flat, source = _read_npz(path)
  check_flat(flat, str(path))
  if not source.startswith(SOURCE_SHA256_PREFIX):
    message = (
      f"FID Inception weights {path} come from a file with sha256"
      f" {source[:16] or 'unknown'}..., not pytorch-fid's {WEIGHTS_FILENAME}"
      f" ({SOURCE_SHA256_PREFIX}...); FID/IS/KID from them compare only with"
      " numbers from the same file."
    )
    if strict:
      raise errors.UserError(message)
    logging.warning("%s", message)
  return unflatten({k: np.asarray(v, np.float32) for k, v in flat.items()})


# Weights hashing costs ~0.1-0.5 s, so the id of each variables object is
# remembered. Entries hold a reference to the object, so its id() cannot be
# reused while it is in the cache.
_ID_CACHE: list[tuple[Any, str]] = []


def weights_sha256(variables: Variables) -> str:
  """sha256 over every array (sorted flat keys, float32 bytes)."""
  for obj, digest in _ID_CACHE:
    if obj is variables:
      return digest
  h = hashlib.sha256()
  flat = _flatten(jax.device_get(variables))
  for key in sorted(flat):
    h.update(key.encode())
    h.update(np.ascontiguousarray(flat[key], "<f4").tobytes())
  digest = h.hexdigest()
  _ID_CACHE.append((variables, digest))
  del _ID_CACHE[:-4]
  return digest


def _flatten(tree, prefix: str = "") -> dict[str, np.ndarray]:
  out = {}
  for k, v in tree.items():
    if isinstance(v, Mapping):
      out.update(_flatten(v, f"{prefix}{k}/"))
    else:
      out[f"{prefix}{k}"] = v
  return out


def network_id(variables: Variables, resize_to: int | None = IMAGE_SIZE) -> str:
  """Names the features: 'fid_inception_v3-<weights sha256[:12]>[@size]'.

  The official conversion always gives the same weights, hence the same
  id; any other weights, or another input resolution, give another id, so
  statistics from a different network are never silently compared.
  """
  name = f"fid_inception_v3-{weights_sha256(variables)[:12]}"
  if resize_to != IMAGE_SIZE:
    name += f"@{resize_to or 'native'}"
  return name


# --- Batched, jitted features ------------------------------------------------


@functools.lru_cache(maxsize=4)
def _apply_fn(resize_to: int | None):
  model = FIDInceptionV3(resize_to)
  return jax.jit(model.apply)


def to_network_input(batch: np.ndarray) -> np.ndarray:
  """uint8 0..255 or float [-1, 1], 1 or 3 channels -> float32 [B,H,W,3]."""
  batch = np.asarray(batch)
  if batch.dtype == np.uint8:
    batch = batch.astype(np.float32) / 127.5 - 1.0
  else:
    batch = batch.astype(np.float32)
  if batch.shape[-1] == 1:
    batch = np.repeat(batch, 3, axis=-1)
  return batch


def features_and_logits(
  variables: Variables,
  images: np.ndarray,
  batch_size: int = DEFAULT_BATCH_SIZE,
  resize_to: int | None = IMAGE_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
  """pool3 features and logits of many images, one compiled batch shape.

  Every batch has exactly `batch_size` images (the last one is padded and
  cut afterwards), so the network compiles once per image shape. Batches
  go to the first local device with explicit transfers, so this also runs
  under `jax.transfer_guard("disallow")` and in multi-process jobs.

  Args:
    variables: from `load_params` (numpy, or already on the device).
    images: [N, H, W, C], C in {1, 3}; uint8 in 0..255 or float in [-1, 1].
      Validate user input first (fid.check_images).
    batch_size: images per device call.
    resize_to: 299 (the FID protocol) or None to feed the images as they
      are; other sizes only for tests and experiments.

  Returns:
    (pool3 [N, 2048], logits [N, 1008]) as float64 numpy arrays.
  """
  if not hasattr(images, "ndim"):
    images = np.asarray(images)
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise errors.UserError(
      f"Inception takes [N, H, W, 1 or 3] images, got shape {images.shape}."
    )
  side = min(images.shape[1:3]) if resize_to is None else resize_to
  if side < MIN_IMAGE_SIZE:
    raise errors.UserError(
      f"Inception needs inputs of at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE},"
      f" got {side}; resize to {IMAGE_SIZE} (resize_to={IMAGE_SIZE})."
    )
  if batch_size <= 0:
    raise errors.UserError(f"batch_size={batch_size} must be positive.")
  device = jax.local_devices()[0]
  variables = jax.device_put(variables, device)
  fn = _apply_fn(resize_to)
  pools, logits = [], []
  for start in range(0, len(images), batch_size):
    batch = to_network_input(images[start : start + batch_size])
    m = len(batch)
    if m < batch_size:
      pad = np.zeros((batch_size - m, *batch.shape[1:]), batch.dtype)
      batch = np.concatenate([batch, pad])
    p, lg = jax.device_get(fn(variables, jax.device_put(batch, device)))
    pools.append(np.asarray(p[:m], np.float64))
    logits.append(np.asarray(lg[:m], np.float64))
  if not pools:
    return np.zeros((0, FEATURE_DIM)), np.zeros((0, NUM_LOGITS))
  return np.concatenate(pools), np.concatenate(logits)
