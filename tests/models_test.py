"""Model shapes, parameter counts, spectral norm and BatchNorm behaviour."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tiny_config

from ssgan_jax import errors
from ssgan_jax import models
from ssgan_jax.models import layers
from ssgan_jax.models import resnet32


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


@pytest.mark.parametrize(
  "channels,g_count,d_count",
  [
    (3, 4_276_739, 1_054_341),  # torch-mimicry SSGAN32 (RGB)
    (1, 4_272_129, 1_051_781),  # the same nets on 1-channel images
  ],
)
def test_paper_param_counts(channels, g_count, d_count):
  c = tiny_config(
    **{
      "dataset.channels": channels,
      "model.generator.width": 256,
      "model.discriminator.width": 128,
      "model.z_dim": 128,
    }
  )
  g, d = models.build_models(c)
  gv = jax.eval_shape(
    lambda: g.init(jax.random.key(0), jnp.zeros((2, 128)), train=False)
  )
  dv = jax.eval_shape(
    lambda: d.init(
      jax.random.key(0), jnp.zeros((2, 32, 32, channels)), train=False
    )
  )
  assert _count(gv["params"]) == g_count
  assert _count(dv["params"]) == d_count
  assert set(gv) == {"params", layers.BATCH_STATS}
  assert set(dv) == {"params", layers.SPECTRAL}


def test_shapes_and_heads():
  c = tiny_config()
  g, d = models.build_models(c)
  z = jnp.ones((4, c.model.z_dim))
  gv = g.init(jax.random.key(0), z, train=False)
  x = g.apply(gv, z, train=False)
  assert x.shape == (4, 32, 32, 1)
  assert float(jnp.max(jnp.abs(x))) <= 1.0  # tanh
  dv = d.init(jax.random.key(1), x, train=False)
  logits, extras = d.apply(dv, x, train=False)
  assert logits.shape == (4,)
  assert extras["aux_logits"]["rotation"].shape == (4, 4)
  assert extras["features"].shape == (4, c.model.discriminator.width)
  assert len(extras["block_features"]) == 4


def test_gan_only_discriminator_has_no_aux_head():
  c = tiny_config()
  c.ssl = {}
  _, d = models.build_models(c)
  dv = d.init(jax.random.key(1), jnp.zeros((2, 32, 32, 1)), train=False)
  assert "rotation_head" not in dv["params"]
  assert "gan_head" in dv["params"]
  _, extras = d.apply(dv, jnp.zeros((2, 32, 32, 1)), train=False)
  assert extras["aux_logits"] == {}


def test_spectral_norm_sigma_converges_to_top_singular_value():
  d = resnet32.Discriminator32(width=8)
  x = jax.random.normal(jax.random.key(2), (2, 32, 32, 1))
  v = d.init(jax.random.key(3), x, train=False)
  step = jax.jit(lambda v: d.apply(v, x, train=True, mutable=["spectral"])[1])
  spectral = v["spectral"]
  for _ in range(60):  # power iteration: one step per call
    spectral = step({**v, "spectral": spectral})["spectral"]
  kernel = v["params"]["block2"]["conv1"]["kernel"]
  top = np.linalg.svd(
    np.asarray(kernel).reshape(-1, kernel.shape[-1]), compute_uv=False
  )[0]
  sigma = spectral["block2"]["conv1_sn"]["SpectralNorm_0"]["conv1/kernel/sigma"]
  assert float(sigma) == pytest.approx(top, rel=1e-3)


def test_spectral_state_unchanged_in_eval():
  d = resnet32.Discriminator32(width=8)
  x = jnp.ones((2, 32, 32, 1))
  v = d.init(jax.random.key(3), x, train=False)
  out = d.apply(v, x, train=False)  # no mutable collections needed
  assert out[0].shape == (2,)


def test_batchnorm_stats_move_only_in_train():
  g = resnet32.Generator32(width=8, out_channels=1)
  z = jax.random.normal(jax.random.key(0), (4, 16))
  v = g.init(jax.random.key(1), z, train=False)
  _, new = g.apply(v, z, train=True, mutable=["batch_stats"])
  before = jax.tree.leaves(v["batch_stats"])
  after = jax.tree.leaves(new["batch_stats"])
  assert any(not np.allclose(a, b) for a, b in zip(before, after))
  # Eval mode uses running averages and needs no mutable collection.
  y1 = g.apply(v, z, train=False)
  y2 = g.apply(v, z[:1], train=False)
  np.testing.assert_allclose(y1[:1], y2, atol=1e-5)  # per-example in eval


def test_unknown_architecture_and_bad_size():
  with pytest.raises(errors.ConfigError, match="choose one of: .*resnet32"):
    models.build_models(tiny_config(**{"model.generator.name": "dcgan9"}))
  with pytest.raises(errors.ConfigError, match="image sizes"):
    models.build_models(tiny_config(**{"dataset.image_size": 64}))


@pytest.mark.parametrize("arch,size", [("resnet32", 32), ("sndcgan", 32)])
def test_sn_discriminator_stores_the_initialisers_raw_kernels(arch, size):
  """D's stored kernels at init are W0, not Flax's W0 / sigma(W0).

  Adam's step is scale-free, so a kernel stored at a fraction of its drawn
  scale would train faster relative to its size than compare_gan's and
  torch-mimicry's, which store the draw and normalise only in the forward.
  """
  from ssgan_jax import state as state_lib  # pylint: disable=g-import-not-at-top

  c = tiny_config(
    **{
      "model.generator.name": arch,
      "model.discriminator.name": arch,
      "dataset.image_size": size,
    }
  )
  comps = state_lib.build_components(c)
  s = state_lib.init_state(comps, jax.random.key(3))
  _, d_rng = jax.random.split(jax.random.key(3))
  x = jnp.zeros((2, size, size, 1), jnp.float32)
  d_plain = comps.discriminator.clone(spectral_norm=False)
  drawn = d_plain.init(d_rng, x, train=False)["params"]
  flax_sn = comps.discriminator.init(d_rng, x, train=False)
  stored = jax.tree_util.tree_flatten_with_path(s.d.params)[0]
  assert len(stored) == len(jax.tree.leaves(drawn))
  kernels = 0
  for (path, got), want, flax_kernel in zip(
    stored, jax.tree.leaves(drawn), jax.tree.leaves(flax_sn["params"])
  ):
    np.testing.assert_array_equal(got, want, err_msg=jax.tree_util.keystr(path))
    if got.ndim >= 2:
      kernels += 1
      # Flax's SN init stores a rescaled copy of the same draw: every
      # entry divided by one estimate of sigma(W0), which is not 1.
      ratio = np.asarray(flax_kernel) / np.asarray(got)
      assert np.ptp(ratio) < 1e-5 * np.abs(ratio).max()
      assert abs(ratio.mean() - 1.0) > 1e-3, jax.tree_util.keystr(path)
  assert kernels >= 5
  # The function at init is the one Flax's SN init gives: SN divides by the
  # same sigma in the forward pass (one power iteration from the same u).
  xr = jax.random.normal(jax.random.key(4), (4, size, size, 1))
  ours = comps.discriminator.apply(
    {"params": s.d.params, **s.d.variables}, xr, train=False
  )
  flax_out = comps.discriminator.apply(flax_sn, xr, train=False)
  for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(flax_out)):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5)


def test_upsample2_is_bilinear_with_clamped_edges():
  # Hand-computed, one row [0, 4, 8]: out[2k] = 3/4 x[k] + 1/4 x[k-1],
  # out[2k+1] = 3/4 x[k] + 1/4 x[k+1], edges clamped.
  row = jnp.array([0.0, 4.0, 8.0]).reshape(1, 1, 3, 1)
  got = layers.upsample2(row)[0, 0, :, 0]
  np.testing.assert_allclose(got, [0, 1, 3, 5, 7, 8])
  x = jax.random.normal(jax.random.key(0), (2, 4, 8, 3))
  np.testing.assert_allclose(
    layers.upsample2(x),
    jax.image.resize(x, (2, 8, 16, 3), method="bilinear"),
    atol=1e-6,
  )
