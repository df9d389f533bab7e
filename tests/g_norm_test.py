"""G's normalisation layers: plain BN, self-modulated BN (sBN), conditional BN.

Hand-computed: the modulated layers output gamma(c) * x_hat + beta(c) with
x_hat the batch-standardised input; sBN's gamma bias starts at 1.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tiny_config

from ssgan_jax import config_lib
from ssgan_jax import errors
from ssgan_jax import models
from ssgan_jax import state as state_lib
from ssgan_jax import train_step
from ssgan_jax.models import layers


def _standardise(x):
  mean = x.mean(axis=(0, 1, 2))
  var = x.var(axis=(0, 1, 2))
  return (x - mean) / np.sqrt(var + 1e-5)


def test_self_modulated_bn_by_hand():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3, 2, 2, 4)).astype(np.float32)
  z = rng.normal(size=(3, 5)).astype(np.float32)
  mod = layers.ModulatedBatchNorm("self_modulated", hidden=6)
  variables = mod.init(jax.random.key(0), x, z, train=False)
  p = variables["params"]
  # sBN starts near plain BN: gamma's bias is 1, beta's 0, no own affine.
  np.testing.assert_array_equal(p["gamma"]["bias"], np.ones(4))
  np.testing.assert_array_equal(p["beta"]["bias"], np.zeros(4))
  assert set(p) == {"hidden", "gamma", "beta"}
  out, _ = mod.apply(variables, x, z, train=True, mutable=["batch_stats"])
  h = np.maximum(z @ p["hidden"]["kernel"] + p["hidden"]["bias"], 0)
  gamma = h @ p["gamma"]["kernel"] + p["gamma"]["bias"]  # [3, 4]
  beta = h @ p["beta"]["kernel"] + p["beta"]["bias"]
  want = _standardise(x) * gamma[:, None, None] + beta[:, None, None]
  np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)


def test_conditional_bn_by_hand():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(4, 2, 2, 3)).astype(np.float32)
  y = np.array([2, 0, 2, 1])
  mod = layers.ModulatedBatchNorm("conditional", num_classes=3)
  variables = mod.init(jax.random.key(0), x, y, train=False)
  # Initialised as a plain BN for every class.
  np.testing.assert_array_equal(variables["params"]["gamma"]["embedding"], 1)
  np.testing.assert_array_equal(variables["params"]["beta"]["embedding"], 0)
  gamma = rng.normal(size=(3, 3)).astype(np.float32)
  beta = rng.normal(size=(3, 3)).astype(np.float32)
  params = {"gamma": {"embedding": gamma}, "beta": {"embedding": beta}}
  out, _ = mod.apply(
    {**variables, "params": params}, x, y, train=True, mutable=["batch_stats"]
  )
  want = _standardise(x) * gamma[y][:, None, None] + beta[y][:, None, None]
  np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)


def test_sbn_generator_output_depends_on_z_through_the_norms():
  config = tiny_config(**{"model.generator.norm": "self_modulated"})
  g, _ = models.build_models(config)
  z = jax.random.normal(jax.random.key(0), (4, config.model.z_dim))
  variables = g.init(jax.random.key(1), z, train=False)
  names = set(variables["params"])
  assert {"bn_out", "block1", "dense", "conv_out"} <= names
  assert set(variables["params"]["bn_out"]) == {"hidden", "gamma", "beta"}
  assert set(variables["params"]["block1"]["bn1"]) == {
    "hidden",
    "gamma",
    "beta",
  }
  out = g.apply(variables, z, train=False)
  assert out.shape == (4, 32, 32, 1)
  assert np.all(np.isfinite(out))


def test_plain_bn_keeps_its_parameter_paths():
  config = tiny_config()
  g, _ = models.build_models(config)
  variables = jax.eval_shape(
    lambda: g.init(jax.random.key(0), jnp.zeros((2, 16)), train=False)
  )
  assert set(variables["params"]["block1"]["bn1"]) == {"scale", "bias"}


def test_unknown_norm_is_one_line():
  config = tiny_config(**{"model.generator.norm": "layer_norm"})
  with pytest.raises(errors.ConfigError, match="choose one of: batch_norm"):
    config_lib.validate(config)


def test_sbn_trains_one_step():
  config = tiny_config(**{"model.generator.norm": "self_modulated"})
  comps = state_lib.build_components(config)
  st = state_lib.init_state(comps, jax.random.key(0))
  step = jax.jit(train_step.make_train_step(comps))
  images = jax.random.uniform(
    jax.random.key(1), (1, 8, 32, 32, 1), minval=-1, maxval=1
  )
  new, metrics = step(st, images, jax.random.key(2))
  assert all(np.isfinite(float(v)) for v in metrics.values())
  before = st.g.params["bn_out"]["gamma"]["kernel"]
  after = new.g.params["bn_out"]["gamma"]["kernel"]
  assert not np.allclose(before, after)  # the sBN MLP is trained
