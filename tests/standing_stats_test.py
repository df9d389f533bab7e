"""Standing statistics for the EMA generator (state.standing_state).

An EMA G normalised with standing statistics makes each image from its own
code alone, so samples (and every score of them) no longer depend on the
sampling batch size; with batch statistics they do.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tiny_config

from ssgan_jax import config_lib
from ssgan_jax import errors
from ssgan_jax import sampling
from ssgan_jax import sharding
from ssgan_jax import state as state_lib
from ssgan_jax import train_step
from ssgan_jax.models import layers


def _ema_run(**overrides):
  """A tiny SS-GAN with an EMA G after 3 G updates (EMA != live weights)."""
  c = tiny_config(**{"ema.decay": 0.5, "batch_size": 8, **overrides})
  comps = state_lib.build_components(c)
  st = state_lib.init_state(comps, jax.random.key(0))
  _, g_update = train_step.make_updates(comps)
  g_update = jax.jit(g_update, static_argnums=1)
  for i in range(3):
    st, _ = g_update(st, 8, jax.random.key(i + 1))
  return c, comps, st


def test_pooled_statistics_are_those_of_all_batches_together():
  # Two batches of one channel: [1, 3] (mean 2, var 1), [5, 9] (7, 4).
  a = np.array([1.0, 3.0])
  b = np.array([5.0, 9.0])
  sums = {"bn": {"mean": jnp.asarray([a.mean() + b.mean()])}}
  sums["bn"]["var"] = jnp.asarray([a.var() + b.var()])
  squares = {"bn": {"mean": jnp.asarray([a.mean() ** 2 + b.mean() ** 2])}}
  squares["bn"]["var"] = jnp.asarray([a.var() ** 2 + b.var() ** 2])
  got = state_lib._pool_stats(sums, squares, 2)  # pylint: disable=protected-access
  both = np.concatenate([a, b])  # [1, 3, 5, 9]: mean 4.5, var 8.75
  np.testing.assert_allclose(got["bn"]["mean"], [4.5])
  np.testing.assert_allclose(got["bn"]["var"], [both.var()])
  assert both.var() == 8.75


def test_one_standing_batch_reproduces_that_batch_in_training_mode():
  # With one batch, the standing statistics are that batch's own, so eval
  # mode on its codes gives exactly what training mode gives on them.
  c, comps, st = _ema_run(**{"ema.standing_batches": 1})
  key = state_lib.standing_key(0)
  z, _ = state_lib.sample_latents(jax.random.fold_in(key, 0), 8, c, 0)
  got = jax.jit(lambda s: state_lib.generate_samples(comps, s, z))(st)
  want, _ = comps.generator.apply(
    {"params": st.g_ema, **st.g.variables},
    z,
    train=True,
    mutable=["batch_stats"],
  )
  np.testing.assert_allclose(got, want, atol=2e-5)
  standing = jax.jit(lambda s: state_lib.standing_state(comps, s, key))(st)
  assert standing.g_ema is None
  for x, y in zip(
    jax.tree.leaves(standing.g.params), jax.tree.leaves(st.g_ema)
  ):
    np.testing.assert_array_equal(x, y)
  # The live G's running averages are not what the EMA G is normalised by.
  assert any(
    not np.allclose(x, y)
    for x, y in zip(
      jax.tree.leaves(standing.g.variables[layers.BATCH_STATS]),
      jax.tree.leaves(st.g.variables[layers.BATCH_STATS]),
    )
  )


@pytest.mark.parametrize("bn_stats", ["standing", "batch"])
def test_samples_depend_on_the_batch_only_with_batch_statistics(bn_stats):
  c, comps, st = _ema_run(**{"ema.bn_stats": bn_stats})
  mesh = sharding.make_mesh(c.mesh)
  z = jax.random.normal(jax.random.key(7), (64, c.model.z_dim))  # [64, Z]
  sampler = sampling.make_sampler(comps, mesh, 16)
  prepared = sampler.prepare(st, seed=0)
  gen = jax.jit(lambda s, z: state_lib.generate_samples(comps, s, z))
  in_16 = np.concatenate(
    [gen(prepared, z[i : i + 16]) for i in (0, 16, 32, 48)]
  )
  in_32 = np.concatenate([gen(prepared, z[i : i + 32]) for i in (0, 32)])
  if bn_stats == "standing":
    np.testing.assert_allclose(in_16, in_32, atol=1e-5)
  else:
    assert np.abs(in_16 - in_32).max() > 1e-3


def test_standing_statistics_do_not_depend_on_the_sampling_batch_size():
  c, comps, st = _ema_run()
  mesh = sharding.make_mesh(c.mesh)
  a = sampling.make_sampler(comps, mesh, 16).prepare(st, seed=3)
  b = sampling.make_sampler(comps, mesh, 48).prepare(st, seed=3)
  other = sampling.make_sampler(comps, mesh, 16).prepare(st, seed=4)
  stats = lambda s: jax.tree.leaves(s.g.variables[layers.BATCH_STATS])
  for x, y in zip(stats(a), stats(b)):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
  # Another seed draws other codes, so (slightly) other statistics.
  assert any(not np.allclose(x, y) for x, y in zip(stats(a), stats(other)))
  # Scores of the same codes at two sampling batch sizes agree: the first
  # 48 images of a 16-batch draw are those made in 48-image batches from the
  # same codes, so FD-FMNIST-style statistics of them do too.
  gen = jax.jit(lambda s, z: state_lib.generate_samples(comps, s, z))
  z = jax.random.normal(jax.random.key(9), (48, c.model.z_dim))
  small = np.concatenate([gen(a, z[i : i + 16]) for i in (0, 16, 32)])
  whole = np.asarray(gen(b, z))
  np.testing.assert_allclose(small.mean(0), whole.mean(0), atol=1e-5)
  np.testing.assert_allclose(small.std(0), whole.std(0), atol=1e-5)


def test_no_ema_means_no_standing_pass():
  c = tiny_config()
  comps = state_lib.build_components(c)
  st = state_lib.init_state(comps, jax.random.key(0))
  assert st.g_ema is None
  sampler = sampling.make_sampler(comps, sharding.make_mesh(c.mesh), 8)
  assert sampler.prepare(st, seed=0) is st
  assert sampling.generator_weights(comps, st) == "live"


def test_bad_settings_are_one_line_errors():
  with pytest.raises(errors.ConfigError, match="ema.bn_stats='x' is unknown"):
    config_lib.validate(tiny_config(**{"ema.bn_stats": "x"}))
  with pytest.raises(errors.ConfigError, match="standing_batches=0"):
    config_lib.validate(tiny_config(**{"ema.standing_batches": 0}))
