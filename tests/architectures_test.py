"""The 128x128 ResNet and SNDCGAN: shapes, norms, heads, parameter counts.

Expected parameter counts are written out layer by layer from compare_gan's
architectures (widths, kernels, biases) and checked against the Flax trees.
Nets run at width 4 and batch 2 so that the 128x128 ones stay cheap on CPU;
where only shapes matter, `jax.eval_shape` avoids computing anything.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import common
from ssgan_jax import errors
from ssgan_jax import models
from ssgan_jax.models import layers
from ssgan_jax.models import resnet128
from ssgan_jax.models import sndcgan

B = 2  # batch
W = 4  # tiny base width
Z = 8  # tiny z
HIDDEN = 5  # sBN hidden width; not the default 32, so counts see it
CLASSES = 3
HEADS = (("rotation", 4), ("extra", 3))
NORMS = layers.G_NORMS


def _count(tree) -> int:
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


# ----------------------------------------------------------------------------
# Expected parameter counts, from the architecture descriptions.
# ----------------------------------------------------------------------------


def _bn(c: int, norm: str, z: int) -> int:
  """Trainable parameters of one G norm layer over c channels."""
  if norm == "batch_norm":
    return 2 * c  # scale, bias
  if norm == "self_modulated":
    # Dense(z -> hidden) then Dense(hidden -> c) for each of gamma, beta.
    return z * HIDDEN + HIDDEN + 2 * (HIDDEN * c + c)
  return 2 * CLASSES * c  # conditional: gamma, beta embeddings


def _heads(features: int, heads) -> int:
  """GAN head Dense(1) plus one Dense(k) per auxiliary head."""
  return features + 1 + sum(features * k + k for _, k in heads)


def resnet128_g_params(w: int, z: int, c: int, norm: str) -> int:
  # compare_gan resnet5 G: 4x4 seed of 8w channels, blocks to 8w .. w.
  widths = [8 * w, 8 * w, 4 * w, 4 * w, 2 * w, w]
  total = z * 4 * 4 * 8 * w + 4 * 4 * 8 * w  # dense
  for cin, cout in zip(widths[:-1], widths[1:]):
    total += 2 * (9 * cin * cout + cout)  # shortcut conv3x3, conv1
    total += 9 * cout * cout + cout  # conv2
    total += _bn(cin, norm, z) + _bn(cout, norm, z)  # bn1, bn2
  return total + _bn(w, norm, z) + 9 * w * c + c  # bn_out, conv_out


def resnet128_d_params(w: int, c: int, heads) -> int:
  # compare_gan resnet5 D: a block c -> w, then w -> 2w -> 4w -> 4w -> 8w -> 8w.
  widths = [c, w, 2 * w, 4 * w, 4 * w, 8 * w, 8 * w]
  total = 0
  for cin, cout in zip(widths[:-1], widths[1:]):
    total += 2 * (9 * cin * cout + cout)  # shortcut conv3x3, conv1
    total += 9 * cout * cout + cout  # conv2
  return total + _heads(8 * w, heads)  # heads on pooled [N, 8w]


def sndcgan_g_params(w: int, z: int, c: int, size: int, norm: str) -> int:
  s = size // 8
  units = s * s * 8 * w
  total = z * units + units + _bn(units, norm, z)  # dense, per-unit BN
  for cin, cout in ((8 * w, 4 * w), (4 * w, 2 * w), (2 * w, w)):
    total += 4 * 4 * cin * cout + cout + _bn(cout, norm, z)  # deconv4x4, BN
  return total + 9 * w * c + c  # final 3x3 (de)conv


def sndcgan_d_params(w: int, c: int, size: int, heads) -> int:
  total = 9 * c * w + w  # conv3x3 to w
  for cin, cout in ((w, 2 * w), (2 * w, 4 * w), (4 * w, 8 * w)):
    total += 16 * cin * cout + cout  # conv4x4 stride 2
    total += 9 * cout * cout + cout  # conv3x3
  s = size // 8
  return total + _heads(s * s * 8 * w, heads)  # heads on flat features


# ----------------------------------------------------------------------------
# Generators: every norm by shape; real values where they are cheap.
# ----------------------------------------------------------------------------


def _generator(arch: str, norm: str, size: int = 32):
  kw = dict(width=W, out_channels=3, norm=norm, norm_hidden=HIDDEN)
  kw["num_classes"] = CLASSES if norm == "conditional" else 0
  if arch == "resnet128":
    return resnet128.Generator128(**kw), 128
  return sndcgan.Generator(image_size=size, **kw), size


def _inputs(norm: str):
  z = jax.random.normal(jax.random.key(0), (B, Z))  # [B, Z]
  y = jnp.array([0, 2], jnp.int32) if norm == "conditional" else None
  return z, y


@pytest.mark.parametrize("arch", ["resnet128", "sndcgan"])
@pytest.mark.parametrize("norm", NORMS)
def test_generator_shapes_and_param_count(arch, norm):
  g, size = _generator(arch, norm)
  z, y = _inputs(norm)
  key = jax.random.key(1)
  v = jax.eval_shape(lambda z, y: g.init(key, z, y, train=False), z, y)
  x, new = jax.eval_shape(
    lambda v, z, y: g.apply(v, z, y, train=True, mutable=[layers.BATCH_STATS]),
    v,
    z,
    y,
  )
  assert x.shape == (B, size, size, 3) and x.dtype == jnp.float32
  assert set(v) == {"params", layers.BATCH_STATS}
  assert jax.tree.structure(new) == jax.tree.structure(
    {layers.BATCH_STATS: v[layers.BATCH_STATS]}
  )
  if arch == "resnet128":
    expected = resnet128_g_params(W, Z, 3, norm)
  else:
    expected = sndcgan_g_params(W, Z, 3, size, norm)
  assert _count(v["params"]) == expected


@pytest.mark.parametrize(
  "arch,norm",
  [
    ("resnet128", "self_modulated"),  # SS-GAN (sBN), the paper's best
    ("sndcgan", "batch_norm"),
    ("sndcgan", "conditional"),
  ],
)
def test_generator_values(arch, norm):
  g, size = _generator(arch, norm)
  z, y = _inputs(norm)

  # One jitted program compiles in about half the CPU time of the ~150
  # op-by-op compiles that eager init and apply need.
  @jax.jit
  def run(z, y):
    v = g.init(jax.random.key(1), z, y, train=False)
    x, new = g.apply(v, z, y, train=True, mutable=[layers.BATCH_STATS])
    y1 = None if y is None else y[:1]
    whole = g.apply(v, z, y, train=False)[:1]  # [1, S, S, 3]
    alone = g.apply(v, z[:1], y1, train=False)  # [1, S, S, 3]
    return v, x, new, whole, alone

  v, x, new, whole, alone = run(z, y)
  assert x.shape == (B, size, size, 3)
  assert bool(jnp.all(jnp.isfinite(x))) and float(jnp.max(jnp.abs(x))) <= 1
  before = jax.tree.leaves(v[layers.BATCH_STATS])
  after = jax.tree.leaves(new[layers.BATCH_STATS])
  assert all(not np.allclose(a, b) for a, b in zip(before, after))
  # In eval mode each example is generated on its own (running averages).
  np.testing.assert_allclose(whole, alone, atol=1e-5)


def test_conditional_generator_needs_labels():
  g, _ = _generator("resnet128", "conditional")
  with pytest.raises(ValueError, match="needs labels"):
    jax.eval_shape(
      lambda: g.init(jax.random.key(0), jnp.zeros((B, Z)), train=False)
    )


@pytest.mark.parametrize("size", [32, 48, 64, 128])
def test_sndcgan_sizes(size):
  g, _ = _generator("sndcgan", "batch_norm", size)
  d = sndcgan.Discriminator(width=W, aux_heads=HEADS)
  z = jnp.zeros((B, Z))
  key = jax.random.key(0)
  gv = jax.eval_shape(lambda z: g.init(key, z, train=False), z)
  x = jax.eval_shape(lambda v, z: g.apply(v, z, train=False), gv, z)
  assert x.shape == (B, size, size, 3)
  dv = jax.eval_shape(lambda x: d.init(key, x, train=False), x)
  _, extras = jax.eval_shape(lambda v, x: d.apply(v, x, train=False), dv, x)
  assert extras["features"].shape == (B, (size // 8) ** 2 * 8 * W)
  assert _count(gv["params"]) == sndcgan_g_params(W, Z, 3, size, "batch_norm")
  assert _count(dv["params"]) == sndcgan_d_params(W, 3, size, HEADS)


def test_unpool_inserts_zeros():
  x = jnp.arange(8.0).reshape(1, 2, 2, 2)
  up = resnet128.unpool2(x)  # [1, 4, 4, 2]
  assert up.shape == (1, 4, 4, 2)
  np.testing.assert_array_equal(up[:, ::2, ::2], x)
  assert float(jnp.sum(jnp.abs(up))) == float(jnp.sum(jnp.abs(x)))


# ----------------------------------------------------------------------------
# Discriminators: heads, block features, SN on/off.
# ----------------------------------------------------------------------------

# arch -> (image size, channels of each block's output at width W).
D_BLOCKS = {
  "resnet128": (128, [W, 2 * W, 4 * W, 4 * W, 8 * W, 8 * W]),
  "sndcgan": (32, [W, 2 * W, 4 * W, 8 * W]),
}


def _discriminator(arch: str, sn: bool = True, **kw):
  if arch == "resnet128":
    return resnet128.Discriminator128(
      width=W, aux_heads=HEADS, spectral_norm=sn, **kw
    )
  return sndcgan.Discriminator(width=W, aux_heads=HEADS, spectral_norm=sn)


@pytest.mark.parametrize("arch", ["resnet128", "sndcgan"])
@pytest.mark.parametrize("sn", [True, False])
def test_discriminator_outputs_and_param_count(arch, sn):
  size, block_widths = D_BLOCKS[arch]
  d = _discriminator(arch, sn)
  x = jnp.zeros((B, size, size, 3))
  key = jax.random.key(1)
  v = jax.eval_shape(lambda x: d.init(key, x, train=False), x)
  logits, extras = jax.eval_shape(lambda v, x: d.apply(v, x, train=False), v, x)
  assert logits.shape == (B,) and logits.dtype == jnp.float32
  assert set(extras) == {"features", "aux_logits", "block_features"}
  assert {k: a.shape for k, a in extras["aux_logits"].items()} == {
    "rotation": (B, 4),
    "extra": (B, 3),
  }
  assert [f.shape for f in extras["block_features"]] == [
    (B, c) for c in block_widths
  ]
  if arch == "resnet128":
    assert extras["features"].shape == (B, 8 * W)
    assert _count(v["params"]) == resnet128_d_params(W, 3, HEADS)
  else:
    assert extras["features"].shape == (B, (size // 8) ** 2 * 8 * W)
    assert _count(v["params"]) == sndcgan_d_params(W, 3, size, HEADS)
  # SN's power-iteration state is D's only non-trainable variable.
  assert set(v) == ({"params", layers.SPECTRAL} if sn else {"params"})


def test_resnet128_sum_pooling_is_four_means():
  # Six halvings leave a 2x2 map, so the sum is 4x compare_gan's mean.
  x = jax.random.uniform(jax.random.key(0), (B, 128, 128, 3), minval=-1)
  mean_d = _discriminator("resnet128", sn=False)
  sum_d = _discriminator("resnet128", sn=False, pooling="sum")

  @jax.jit
  def run(x):
    v = mean_d.init(jax.random.key(1), x, train=False)
    return mean_d.apply(v, x, train=False), sum_d.apply(v, x, train=False)

  (logits, mean_out), (_, sum_out) = run(x)
  assert bool(jnp.all(jnp.isfinite(logits)))
  assert bool(jnp.all(jnp.isfinite(mean_out["aux_logits"]["rotation"])))
  np.testing.assert_allclose(
    sum_out["features"], 4 * mean_out["features"], rtol=1e-5
  )


# ----------------------------------------------------------------------------
# Paper widths: counts by formula, trees by eval_shape.
# ----------------------------------------------------------------------------


def _abstract_params(module, x):
  """The params tree of `module` for input x, as shapes only."""
  init = lambda x: module.init(jax.random.key(0), x, train=False)
  return jax.eval_shape(init, x)["params"]


def test_paper_width_param_counts():
  rot = (("rotation", 4),)
  z = jax.ShapeDtypeStruct((B, 128), jnp.float32)
  image = lambda s: jax.ShapeDtypeStruct((B, s, s, 3), jnp.float32)
  cases = [
    (
      resnet128.Generator128(width=64),
      z,
      resnet128_g_params(64, 128, 3, "batch_norm"),
    ),
    (
      resnet128.Discriminator128(width=64, aux_heads=rot),
      image(128),
      resnet128_d_params(64, 3, rot),
    ),
    (
      sndcgan.Generator(width=64, image_size=32),
      z,
      sndcgan_g_params(64, 128, 3, 32, "batch_norm"),
    ),
    (
      sndcgan.Discriminator(width=64, aux_heads=rot),
      image(32),
      sndcgan_d_params(64, 3, 32, rot),
    ),
  ]
  counts = [_count(_abstract_params(m, x)) for m, x, _ in cases]
  assert counts == [expected for _, _, expected in cases]
  # The numbers quoted in the module docstrings.
  assert counts == [13_786_115, 15_088_581, 3_828_739, 5_893_637]


# ----------------------------------------------------------------------------
# Registry: build_models from the shared config, size checks.
# ----------------------------------------------------------------------------


def _config(arch: str, size: int, channels: int = 3):
  c = common.base()
  c.dataset.image_size = size
  c.dataset.channels = channels
  c.model.z_dim = Z
  c.model.generator.name = arch
  c.model.discriminator.name = arch
  c.model.generator.width = W
  c.model.discriminator.width = W
  return c


@pytest.mark.parametrize(
  "arch,size", [("resnet32", 32), ("resnet128", 128), ("sndcgan", 64)]
)
def test_build_models_from_common_config(arch, size):
  g, d = models.build_models(_config(arch, size, channels=1))
  z = jnp.zeros((B, Z))
  key = jax.random.key(0)
  gv = jax.eval_shape(lambda z: g.init(key, z, train=False), z)
  x = jax.eval_shape(lambda v, z: g.apply(v, z, train=False), gv, z)
  assert x.shape == (B, size, size, 1)
  dv = jax.eval_shape(lambda x: d.init(key, x, train=False), x)
  logits, extras = jax.eval_shape(
    lambda v, x: d.apply(v, x, train=False), dv, x
  )
  assert logits.shape == (B,)
  assert extras["aux_logits"]["rotation"].shape == (B, 4)  # base(): rotation


@pytest.mark.parametrize(
  "arch,size", [("resnet128", 32), ("resnet128", 64), ("sndcgan", 40)]
)
def test_build_models_rejects_unsupported_size(arch, size):
  with pytest.raises(errors.ConfigError, match="image sizes"):
    models.build_models(_config(arch, size))


def test_new_architectures_are_registered():
  names = {"resnet32", "resnet128", "sndcgan"}
  assert names <= set(models.GENERATORS.names())
  assert names <= set(models.DISCRIMINATORS.names())
  assert names <= set(models.IMAGE_SIZES)
