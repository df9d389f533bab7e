"""The fast-weight-gradient convolution equals lax.conv_general_dilated.

Values and first and second derivatives are compared with XLA's own
convolution on the shapes the architectures use (3x3 and 1x1, SAME), plus
explicit and VALID padding, bfloat16, and the fallback for what the fast
path does not cover (strides).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from ssgan_jax.models import conv

_DN = ("NHWC", "HWIO", "NHWC")


def _xla(x, w, strides=(1, 1), padding="SAME"):
  return lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=_DN)


def _ours(x, w, strides=(1, 1), padding="SAME"):
  dn = lax.conv_dimension_numbers(x.shape, w.shape, _DN)
  return conv.conv_general_dilated(x, w, strides, padding, dimension_numbers=dn)


def _inputs(shape_x, shape_w, dtype=jnp.float32, seed=0):
  kx, kw, kg = jax.random.split(jax.random.key(seed), 3)
  x = jax.random.normal(kx, shape_x, dtype)
  w = jax.random.normal(kw, shape_w, dtype)
  return x, w, kg


@pytest.mark.parametrize(
  "shape_x,shape_w,padding",
  [
    ((2, 8, 8, 3), (3, 3, 3, 5), "SAME"),
    ((2, 8, 8, 4), (1, 1, 4, 6), "SAME"),
    ((1, 7, 9, 2), (3, 3, 2, 3), "VALID"),
    ((2, 6, 6, 3), (3, 3, 3, 2), ((2, 0), (1, 3))),
  ],
)
def test_value_and_gradients_match_xla(shape_x, shape_w, padding):
  x, w, kg = _inputs(shape_x, shape_w)
  y = _xla(x, w, padding=padding)
  g = jax.random.normal(kg, y.shape)
  np.testing.assert_array_equal(_ours(x, w, padding=padding), y)
  loss = lambda f: lambda x, w: jnp.sum(f(x, w, padding=padding) * g)
  dx_ref, dw_ref = jax.jit(jax.grad(loss(_xla), (0, 1)))(x, w)
  dx, dw = jax.jit(jax.grad(loss(_ours), (0, 1)))(x, w)
  np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(dw, dw_ref, rtol=1e-5, atol=1e-4)
  assert dw.dtype == w.dtype and dw.shape == w.shape


def test_both_platform_branches_agree():
  # lax.platform_dependent lowers only the CPU branch here; the other one
  # (GPU/TPU) is called directly.
  x, w, kg = _inputs((2, 8, 8, 3), (3, 3, 3, 5))
  g = jax.random.normal(kg, (2, 8, 8, 5))
  pads = ((1, 1), (1, 1))
  cpu = conv._weight_grad_cpu(x, w, g, pads, None)
  other = conv._weight_grad_xla(x, w, g, pads, None)
  np.testing.assert_allclose(cpu, other, rtol=1e-5, atol=1e-4)
  assert cpu.dtype == other.dtype == w.dtype


def test_weight_gradient_by_hand():
  # 1x1 image, 3x3 SAME kernel: only the centre tap sees the pixel, so
  # dL/dW[1, 1] = x^T g and every other tap is 0.
  x = jnp.array([[[[2.0, -1.0]]]])  # [1, 1, 1, 2]
  w = jnp.zeros((3, 3, 2, 1))
  dw = jax.grad(lambda w: jnp.sum(_ours(x, w) * 3.0))(w)
  want = np.zeros((3, 3, 2, 1), np.float32)
  want[1, 1, :, 0] = [6.0, -3.0]
  np.testing.assert_array_equal(dw, want)


def test_second_order_gradient_matches_xla():
  # WGAN-GP differentiates the norm of an input gradient w.r.t. the weights.
  x, w, _ = _inputs((2, 6, 6, 3), (3, 3, 3, 4))

  def penalty(f):
    def fn(w):
      dx = jax.grad(lambda x: jnp.sum(jnp.tanh(f(x, w))))(x)
      return jnp.sum(dx**2)

    return jax.jit(jax.grad(fn))

  np.testing.assert_allclose(
    penalty(_ours)(w), penalty(_xla)(w), rtol=1e-4, atol=1e-4
  )


def test_bfloat16_gradients_close_to_float32():
  x, w, kg = _inputs((2, 8, 8, 4), (3, 3, 4, 4))
  g = jax.random.normal(kg, (2, 8, 8, 4))
  grad = lambda f, dt: jax.jit(
    jax.grad(lambda w: jnp.sum(f(x.astype(dt), w) * g.astype(dt)))
  )(w.astype(dt))
  dw = grad(_ours, jnp.bfloat16)
  assert dw.dtype == jnp.bfloat16
  ref = grad(_xla, jnp.float32)
  np.testing.assert_allclose(
    dw.astype(jnp.float32),
    ref,
    rtol=0.05,
    atol=0.05 * float(jnp.abs(ref).max()),
  )


def test_strided_convolution_falls_back_to_xla():
  x, w, _ = _inputs((2, 8, 8, 3), (4, 4, 3, 2))
  np.testing.assert_array_equal(
    _ours(x, w, strides=(2, 2)), _xla(x, w, strides=(2, 2))
  )
  dw = jax.grad(lambda w: jnp.sum(_ours(x, w, strides=(2, 2)) ** 2))(w)
  dw_ref = jax.grad(lambda w: jnp.sum(_xla(x, w, strides=(2, 2)) ** 2))(w)
  np.testing.assert_allclose(dw, dw_ref, rtol=1e-5, atol=1e-5)


def test_flax_conv_with_it_trains_like_the_default():
  x, _, _ = _inputs((2, 8, 8, 3), (3, 3, 3, 4))
  ours = nn.Conv(4, (3, 3), conv_general_dilated=conv.conv_general_dilated)
  ref = nn.Conv(4, (3, 3))
  params = ref.init(jax.random.key(1), x)
  grads = [
    jax.grad(lambda p, m=m: jnp.sum(m.apply(p, x) ** 2))(params)
    for m in (ours, ref)
  ]
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
    *grads,
  )
