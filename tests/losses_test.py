"""GAN losses and penalties against hand-computed numbers."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssgan_jax import errors
from ssgan_jax import losses
from ssgan_jax import penalties
from ssgan_jax.ssl import base

R = jnp.array([2.0, -1.0])  # D logits on real images
F = jnp.array([0.5, -3.0])  # D logits on fake images


def sp(x):  # softplus
  return math.log1p(math.exp(x))


def test_non_saturating():
  loss = losses.get("non_saturating")
  want_d = (sp(-2.0) + sp(1.0)) / 2 + (sp(0.5) + sp(-3.0)) / 2
  want_g = (sp(-0.5) + sp(3.0)) / 2
  assert loss.d(R, F) == pytest.approx(want_d, rel=1e-6)
  assert loss.g(F) == pytest.approx(want_g, rel=1e-6)


def test_hinge():
  loss = losses.get("hinge")
  # relu(1 - r): [0, 2] -> 1; relu(1 + f): [1.5, 0] -> 0.75
  assert loss.d(R, F) == pytest.approx(1.0 + 0.75)
  assert loss.g(F) == pytest.approx(1.25)


def test_wasserstein():
  loss = losses.get("wasserstein")
  assert loss.d(R, F) == pytest.approx(-1.25 - 0.5)
  assert loss.g(F) == pytest.approx(1.25)


def test_unknown_loss_lists_known():
  with pytest.raises(
    errors.ConfigError, match="choose one of: hinge, non_saturating"
  ):
    losses.get("hinj")


def test_no_penalty_is_zero():
  assert penalties.get("none")(None, None, None, None) == 0.0


def test_wgan_gp_linear_critic():
  # D(x) = <w, x>: the input gradient is w everywhere, so the penalty is
  # (||w|| - 1)^2 for any interpolate. ||w|| = 3 -> 4.
  w = jnp.zeros((2, 2, 1)).at[0, 0, 0].set(2.0).at[1, 1, 0].set(math.sqrt(5.0))
  d_fn = lambda x: jnp.sum(x * w, axis=(1, 2, 3))
  real = jnp.ones((3, 2, 2, 1))
  fake = -jnp.ones((3, 2, 2, 1))
  pen = penalties.get("wgan_gp")(d_fn, real, fake, jax.random.key(0))
  assert pen == pytest.approx(4.0, rel=1e-5)


def test_wgan_gp_quadratic_critic_uses_interpolates():
  # D(x) = 0.5 * sum(x^2): gradient x_hat; with real = fake = c the
  # interpolate is c whatever eps is, so the penalty is (||c|| - 1)^2.
  c = jnp.full((2, 1, 4, 1), 0.5)  # per example ||c|| = 1 -> penalty 0
  d_fn = lambda x: 0.5 * jnp.sum(x**2, axis=(1, 2, 3))
  pen = penalties.get("wgan_gp")(d_fn, c, c, jax.random.key(1))
  assert pen == pytest.approx(0.0, abs=1e-6)
  pen2 = penalties.get("wgan_gp")(d_fn, 2 * c, 2 * c, jax.random.key(1))
  assert pen2 == pytest.approx(1.0, rel=1e-5)


def test_cross_entropy_and_accuracy_by_hand():
  logits = jnp.array([[0.0, math.log(3.0)], [2.0, 0.0]])
  labels = jnp.array([1, 1])
  # p(1) = 3/4 for row 0, 1/(1+e^2) for row 1.
  want = (-math.log(0.75) - math.log(1 / (1 + math.exp(2.0)))) / 2
  assert base.cross_entropy(logits, labels) == pytest.approx(want, rel=1e-6)
  assert base.accuracy(logits, labels) == pytest.approx(0.5)
  np.testing.assert_allclose(base.accuracy(logits, jnp.array([1, 0])), 1.0)
