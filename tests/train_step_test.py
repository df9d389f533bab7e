"""The train step: which variables each update changes, one step for every
(loss x penalty x ssl) choice compiled once, and 1 device == 8 devices."""

import functools
import itertools

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from conftest import tiny_config
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from ssgan_jax import input_pipeline
from ssgan_jax import losses
from ssgan_jax import penalties
from ssgan_jax import state as state_lib
from ssgan_jax import train_step


def _images(n_dis, b, seed=0):
  x = np.random.default_rng(seed).uniform(-1, 1, size=(n_dis, b, 32, 32, 1))
  return jnp.asarray(x, jnp.float32)


def _changed(a, b):
  return any(
    not np.array_equal(x, y)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
  )


def _setup(**overrides):
  c = tiny_config(**overrides)
  comps = state_lib.build_components(c)
  st = state_lib.init_state(comps, jax.random.key(0))
  return c, comps, st


def test_d_update_changes_only_d():
  _, comps, st = _setup(**{"ema.decay": 0.9})
  d_update, _ = train_step.make_updates(comps)
  new, metrics = jax.jit(d_update)(st, _images(1, 8)[0], jax.random.key(1))
  assert _changed(st.d.params, new.d.params)
  assert _changed(st.d.variables["spectral"], new.d.variables["spectral"])
  assert _changed(st.d.opt_state, new.d.opt_state)
  assert not _changed(st.g.params, new.g.params)
  assert not _changed(st.g.variables, new.g.variables)  # BN updates dropped
  assert not _changed(st.g.opt_state, new.g.opt_state)
  assert not _changed(st.g_ema, new.g_ema)
  assert "ssl/rotation/acc_real" in metrics


def test_g_update_changes_only_g_and_d_sn_state():
  _, comps, st = _setup(**{"ema.decay": 0.9})
  _, g_update = train_step.make_updates(comps)
  new, metrics = jax.jit(g_update, static_argnums=1)(st, 8, jax.random.key(1))
  assert _changed(st.g.params, new.g.params)
  assert _changed(st.g.variables["batch_stats"], new.g.variables["batch_stats"])
  assert _changed(st.g_ema, new.g_ema)
  assert not _changed(st.d.params, new.d.params)
  # SN's u advances in G steps too (compare_gan); nothing else of D moves.
  assert _changed(st.d.variables["spectral"], new.d.variables["spectral"])
  assert new.d.variables.keys() == st.d.variables.keys()
  assert not _changed(st.d.opt_state, new.d.opt_state)
  assert "ssl/rotation/acc_fake" in metrics


def test_ema_is_exact_average():
  _, comps, st = _setup(**{"ema.decay": 0.75, "ema.start_step": 0})
  _, g_update = train_step.make_updates(comps)
  new, _ = jax.jit(g_update, static_argnums=1)(st, 8, jax.random.key(1))
  want = jax.tree.map(lambda e, p: 0.75 * e + 0.25 * p, st.g_ema, new.g.params)
  chex.assert_trees_all_close(new.g_ema, want, rtol=1e-6)


def test_rotation_weight_changes_d_loss_by_its_term():
  # d/loss = gan + weight_d * rotation CE: doubling weight_d adds one CE.
  outs = []
  for w in (1.0, 2.0):
    _, comps, st = _setup(**{"ssl.rotation.weight_d": w})
    d_update, _ = train_step.make_updates(comps)
    _, m = jax.jit(d_update)(st, _images(1, 8)[0], jax.random.key(1))
    outs.append(m)
  np.testing.assert_allclose(
    outs[1]["d/loss"] - outs[0]["d/loss"],
    outs[0]["ssl/rotation/d_loss"],
    rtol=1e-5,
  )


COMBOS = list(
  itertools.product(
    losses.LOSSES.names(), penalties.PENALTIES.names(), [False, True]
  )
)


@pytest.mark.parametrize("loss,penalty,use_ssl", COMBOS)
def test_one_step_every_combination(loss, penalty, use_ssl):
  c = tiny_config(
    **{
      "loss.name": loss,
      "penalty.name": penalty,
      "penalty.weight": 10.0 if penalty != "none" else 0.0,
    }
  )
  if not use_ssl:
    c.ssl = ml_collections.ConfigDict()
  comps = state_lib.build_components(c)
  st = state_lib.init_state(comps, jax.random.key(0))
  chex.clear_trace_counter()  # counters are keyed by code, shared by params
  step = chex.assert_max_traces(train_step.make_train_step(comps), n=1)
  step = jax.jit(step)
  new, metrics = step(st, _images(1, 8), jax.random.key(1))
  new2, metrics2 = step(new, _images(1, 8, seed=1), jax.random.key(1))
  # Same tree structure, finite scalars, both nets trained, step counted.
  assert jax.tree.structure(new2) == jax.tree.structure(st)
  for k, v in {**metrics, **metrics2}.items():
    assert v.shape == () and np.isfinite(v), k
  assert int(new2.step) == 2
  assert _changed(st.g.params, new2.g.params)
  assert _changed(st.d.params, new2.d.params)
  assert ("ssl/rotation/d_loss" in metrics) == use_ssl
  if penalty != "none":
    assert metrics["d/penalty"] > 0


@pytest.mark.parametrize("impl", ["taps", "winograd2", "winograd4"])
def test_every_conv_algorithm_gives_xlas_step(impl):
  # The same SGD step (see the next test for why not Adam) with every 3x3
  # layer of G and D on one algorithm vs on XLA's own convolution: the
  # algorithms differ only in float rounding (tests/conv_test.py bounds it
  # per layer), so losses and updated weights agree to ~1e-4.
  sgd = {"name": "sgd", "learning_rate": 0.05}
  results = []
  for conv in ("xla", impl):
    c = tiny_config(**{"model.conv": conv})
    c.optimizer.g.update(sgd)
    c.optimizer.d.update(sgd)
    comps = state_lib.build_components(c)
    st = state_lib.init_state(comps, jax.random.key(0))
    step = jax.jit(train_step.make_train_step(comps))
    results.append(jax.device_get(step(st, _images(1, 8), jax.random.key(1))))
  (st_x, m_x), (st_i, m_i) = results
  assert _changed(st_x.d.params, st_i.d.params)  # not the same code path
  chex.assert_trees_all_close(
    st_i.g.params, st_x.g.params, rtol=1e-4, atol=1e-5
  )
  chex.assert_trees_all_close(
    st_i.d.params, st_x.d.params, rtol=1e-4, atol=1e-5
  )
  chex.assert_trees_all_close(m_i, m_x, rtol=1e-4, atol=1e-5)


def _sharded_step(comps, mesh):
  repl = NamedSharding(mesh, P())
  return jax.jit(
    train_step.make_train_step(comps, mesh),
    in_shardings=(repl, NamedSharding(mesh, P(None, "data")), repl),
    out_shardings=(repl, repl),
  )


@pytest.mark.parametrize("fraction", [1.0, 0.5])
def test_one_device_equals_eight(devices8, fraction):
  # SGD, not Adam: Adam's first update is ~lr * sign(grad), and G's conv
  # biases in front of BatchNorm have exactly-zero gradients whose round-off
  # sign differs between device counts. SGD keeps updates proportional to
  # the (global) gradients this test compares.
  sgd = {"name": "sgd", "learning_rate": 0.05}
  c = tiny_config(
    **{"batch_size": 16, "disc_iters": 2, "ssl.rotation.fraction": fraction}
  )
  c.optimizer.g.update(sgd)
  c.optimizer.d.update(sgd)
  comps = state_lib.build_components(c)
  init = jax.jit(functools.partial(state_lib.init_state, comps))
  images = _images(2, 16, seed=3)
  results = []
  for devs in (devices8[:1], devices8):
    mesh = Mesh(np.asarray(devs), ("data",))
    st = jax.device_put(init(jax.random.key(0)), NamedSharding(mesh, P()))
    x = jax.device_put(images, NamedSharding(mesh, P(None, "data")))
    step = _sharded_step(comps, mesh)
    for i in range(2):
      st, metrics = step(st, x, jax.random.key(7 + i))
    results.append(jax.device_get((st, metrics)))
  (st1, m1), (st8, m8) = results
  chex.assert_trees_all_close(st1.g.params, st8.g.params, rtol=2e-4, atol=2e-5)
  chex.assert_trees_all_close(st1.d.params, st8.d.params, rtol=2e-4, atol=2e-5)
  # Global BatchNorm statistics: identical running averages.
  chex.assert_trees_all_close(
    st1.g.variables, st8.g.variables, rtol=2e-4, atol=2e-5
  )
  chex.assert_trees_all_close(m1, m8, rtol=2e-4, atol=2e-5)


def test_step_input_from_real_data(devices8):
  # Real embedded data through the real source on 8 devices.
  c = tiny_config(**{"batch_size": 16})
  comps = state_lib.build_components(c)
  mesh = Mesh(np.asarray(devices8), ("data",))
  src = input_pipeline.create_source(c)
  from ssgan_jax import sharding  # pylint: disable=g-import-not-at-top

  x = sharding.host_to_global(src.host_batch(0), mesh)
  assert x.shape == (1, 16, 32, 32, 1)
  st = jax.device_put(
    state_lib.init_state(comps, jax.random.key(0)), NamedSharding(mesh, P())
  )
  st, m = _sharded_step(comps, mesh)(st, x, jax.random.key(0))
  assert np.isfinite(jax.device_get(m["d/loss"]))


def test_sampling_uses_ema_with_batch_statistics():
  # ema.bn_stats='batch'; the default, standing statistics, is tested in
  # tests/standing_stats_test.py.
  _, comps, st = _setup(**{"ema.decay": 0.5, "ema.bn_stats": "batch"})
  _, g_update = train_step.make_updates(comps)
  st, _ = jax.jit(g_update, static_argnums=1)(st, 8, jax.random.key(1))
  z = jax.random.normal(jax.random.key(2), (16, 16))
  got = state_lib.generate_samples(comps, st, z)
  want, _ = comps.generator.apply(
    {"params": st.g_ema, **st.g.variables},
    z,
    train=True,
    mutable=["batch_stats"],
  )
  np.testing.assert_allclose(got, want, atol=1e-6)
  # Without EMA: the live weights in eval mode (running averages).
  plain = st.replace(g_ema=None)
  got = state_lib.generate_samples(comps, plain, z)
  want = comps.generator.apply(
    {"params": st.g.params, **st.g.variables}, z, train=False
  )
  np.testing.assert_allclose(got, want, atol=1e-6)


def test_ema_copies_g_before_start_step():
  _, comps, st = _setup(**{"ema.decay": 0.75, "ema.start_step": 5})
  _, g_update = train_step.make_updates(comps)
  new, _ = jax.jit(g_update, static_argnums=1)(st, 8, jax.random.key(1))
  chex.assert_trees_all_close(new.g_ema, new.g.params, rtol=1e-6)


def test_bfloat16_compute_keeps_float32_state():
  _, comps, st = _setup(**{"model.compute_dtype": "bfloat16"})
  step = jax.jit(train_step.make_train_step(comps))
  new, metrics = step(st, _images(1, 8), jax.random.key(1))
  new, metrics = step(new, _images(1, 8, seed=1), jax.random.key(2))
  for k, v in metrics.items():
    assert v.dtype == jnp.float32 and np.isfinite(v), k
  for leaf in jax.tree.leaves((new.g, new.d)):
    assert leaf.dtype in (jnp.float32, jnp.int32), leaf.dtype
  assert _changed(st.g.params, new.g.params)
  assert _changed(st.g.variables, new.g.variables)  # BN stats in float32
  # The networks really compute in bfloat16.
  z = jnp.ones((2, comps.config.model.z_dim))
  jaxpr = jax.make_jaxpr(
    lambda p: comps.generator.apply(
      {"params": p, **new.g.variables}, z, train=False
    )
  )(new.g.params)
  assert "bf16" in str(jaxpr)


def test_g_update_advances_sn_by_one_power_iteration():
  """Hand-computed: the G step's D call takes u one power iteration further
  from where the D step left it, with D's updated kernel (compare_gan)."""
  _, comps, st0 = _setup()
  d_update, g_update = train_step.make_updates(comps)
  st1, _ = jax.jit(d_update)(st0, _images(1, 8)[0], jax.random.key(1))
  st2, _ = jax.jit(g_update, static_argnums=1)(st1, 8, jax.random.key(2))

  def sn(st):
    v = st.d.variables["spectral"]["block1"]["conv1_sn"]["SpectralNorm_0"]
    return np.asarray(v["conv1/kernel/u"]), np.asarray(v["conv1/kernel/sigma"])

  w = np.asarray(st1.d.params["block1"]["conv1"]["kernel"], np.float64)
  w = w.reshape(-1, w.shape[-1])  # [kh * kw * cin, cout]
  u1, _ = sn(st1)

  def normalize(x):
    return x / np.sqrt(np.sum(x**2) + 1e-12)

  v = normalize(u1 @ w.T)  # [1, kh * kw * cin]
  u2 = normalize(v @ w)  # [1, cout]
  sigma2 = (v @ w @ u2.T).item()
  u, sigma = sn(st2)
  np.testing.assert_allclose(u, u2, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(sigma, sigma2, rtol=1e-4)
  assert not np.allclose(u1, u2, atol=1e-6)  # it did move


@pytest.mark.parametrize(
  "net, expected",
  [
    # G: 4 updates, decay from update 2: lr, lr, then 2 steps down to 0.
    ("g", [0.1, 0.1, 0.1, 0.05]),
    # D (n_dis 2): 8 updates, decay from update 4 over 4 updates.
    ("d", [0.1, 0.1, 0.1, 0.1, 0.1, 0.075, 0.05, 0.025]),
  ],
)
def test_linear_decay_counts_each_nets_own_updates(net, expected):
  # SGD's update is -lr(count) * grad; with grad 1 it is the schedule itself.
  c = tiny_config(**{"total_steps": 4, "disc_iters": 2})
  c.optimizer[net].update(
    {"name": "sgd", "learning_rate": 0.1, "schedule": "linear_decay"}
  )
  c.optimizer[net].decay_start = 0.5
  tx = state_lib.make_optimizer(c, net)
  params = jnp.zeros(())
  opt_state = tx.init(params)
  got = []
  for _ in expected:
    updates, opt_state = tx.update(jnp.ones(()), opt_state, params)
    got.append(-float(updates))
  np.testing.assert_allclose(got, expected, rtol=1e-6)
