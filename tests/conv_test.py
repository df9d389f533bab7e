"""The convolution algorithms equal lax.conv_general_dilated.

Every `model.conv` choice (conv.IMPLS) is compared with XLA's own
convolution: values and first derivatives on 3x3 and 1x1 SAME layers,
explicit and VALID padding; second derivatives (WGAN-GP); bfloat16; the
fallback for what the fast paths do not cover (strides); and which
algorithm `cpu_plan` picks for the architectures' layers. Winograd rounds
differently from direct convolution, so its results are compared with the
relative bounds that tests/winograd_test.py states; the direct forms (XLA's
and the per-tap weight gradient) agree to the last bits of float32 sums.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from ssgan_jax.models import conv

_DN = ("NHWC", "HWIO", "NHWC")
# max|ours - XLA| / max|XLA| allowed, per algorithm (winograd_test.py says
# why Winograd's bound is larger: its transforms amplify float32 rounding).
_REL = {"xla": 1e-6, "taps": 2e-6, "winograd2": 2e-6, "winograd4": 1.5e-5}


def _xla(x, w, strides=(1, 1), padding="SAME"):
  return lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=_DN)


def _ours(x, w, strides=(1, 1), padding="SAME", impl="auto"):
  dn = lax.conv_dimension_numbers(x.shape, w.shape, _DN)
  return conv.conv_general_dilated(
    x, w, strides, padding, dimension_numbers=dn, impl=impl
  )


def _inputs(shape_x, shape_w, dtype=jnp.float32, seed=0):
  kx, kw, kg = jax.random.split(jax.random.key(seed), 3)
  x = jax.random.normal(kx, shape_x, dtype)
  w = jax.random.normal(kw, shape_w, dtype)
  return x, w, kg


def _rel(got, want):
  got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
  return np.max(np.abs(got - want)) / np.max(np.abs(want))


@pytest.mark.parametrize("impl", conv.IMPLS)
@pytest.mark.parametrize(
  "shape_x,shape_w,padding",
  [
    ((2, 8, 8, 3), (3, 3, 3, 5), "SAME"),
    ((2, 8, 8, 4), (1, 1, 4, 6), "SAME"),
    ((1, 7, 9, 2), (3, 3, 2, 3), "VALID"),
    ((2, 6, 6, 3), (3, 3, 3, 2), ((2, 0), (1, 3))),
    # cpu_plan's Winograd case (>= 128 channels on a 32x32 map).
    ((1, 32, 32, 128), (3, 3, 128, 128), "SAME"),
  ],
)
def test_value_and_gradients_match_xla(impl, shape_x, shape_w, padding):
  x, w, kg = _inputs(shape_x, shape_w)
  w = w / np.sqrt(9 * shape_w[2])  # unit-scale outputs at any width
  y_ref = _xla(x, w, padding=padding)
  g = jax.random.normal(kg, y_ref.shape)

  def run(f):
    def y_dx_dw(x, w, g):
      y, vjp = jax.vjp(f, x, w)
      return (y, *vjp(g))

    return jax.jit(y_dx_dw)(x, w, g)

  ref = run(lambda a, b: _xla(a, b, padding=padding))
  got = run(lambda a, b: _ours(a, b, padding=padding, impl=impl))
  bound = _REL[conv._algorithm(impl, x, w)]
  for name, a, b in zip(("y", "dx", "dw"), got, ref):
    assert a.shape == b.shape and a.dtype == b.dtype, name
    assert _rel(a, b) <= bound, (name, _rel(a, b), bound)


@pytest.mark.parametrize(
  "shape_x,shape_w,dtype,want",
  [
    # G's 256-channel 32x32 / 16x16 layers and D's 128-channel 32x32 one.
    ((64, 32, 32, 256), (3, 3, 256, 256), jnp.float32, "winograd2"),
    ((64, 16, 16, 256), (3, 3, 256, 256), jnp.float32, "winograd2"),
    ((176, 32, 32, 128), (3, 3, 128, 128), jnp.float32, "winograd2"),
    # ... but not D's 16x16 or any 8x8 map, bfloat16, or 1x1 kernels.
    ((176, 16, 16, 128), (3, 3, 128, 128), jnp.float32, "taps"),
    ((176, 8, 8, 128), (3, 3, 128, 128), jnp.float32, "taps"),
    ((64, 32, 32, 256), (3, 3, 256, 256), jnp.bfloat16, "taps"),
    ((64, 16, 16, 256), (1, 1, 256, 256), jnp.float32, "taps"),
    # D's first layer reads the 1-3 channel image.
    ((176, 32, 32, 3), (3, 3, 3, 128), jnp.float32, "taps"),
    ((176, 32, 32, 1), (3, 3, 1, 32), jnp.float32, "taps"),
    # Width-32 layers on 32x32 maps: XLA's weight gradient is CPU-dependent.
    ((176, 32, 32, 32), (3, 3, 32, 32), jnp.float32, "taps"),
    ((64, 32, 32, 32), (3, 3, 32, 32), jnp.float32, "taps"),
    # Width 32 on smaller maps and G's image output layer.
    ((176, 16, 16, 32), (3, 3, 32, 32), jnp.float32, "xla"),
    ((176, 8, 8, 32), (3, 3, 32, 32), jnp.float32, "xla"),
    ((64, 32, 32, 32), (3, 3, 32, 1), jnp.float32, "xla"),
    ((64, 32, 32, 256), (3, 3, 256, 3), jnp.float32, "xla"),
  ],
)
def test_cpu_plan_per_layer_without_threaded_convs(
  shape_x, shape_w, dtype, want
):
  plan = conv.cpu_plan(shape_x, shape_w, dtype, threaded_convs=False)
  assert plan == want


def test_cpu_plan_with_threaded_convs_is_xla_for_every_layer():
  for shape_x, shape_w in [
    ((64, 32, 32, 256), (3, 3, 256, 256)),
    ((176, 32, 32, 32), (3, 3, 32, 32)),
    ((176, 32, 32, 3), (3, 3, 3, 128)),
  ]:
    plan = conv.cpu_plan(shape_x, shape_w, jnp.float32, threaded_convs=True)
    assert plan == "xla"


def _optimized_grad_hlo(compiler_options):
  x, w = jnp.zeros((8, 32, 32, 32)), jnp.zeros((3, 3, 32, 32))
  loss = lambda x, w: jnp.sum(_xla(x, w))
  jitted = jax.jit(jax.grad(loss, (0, 1)), compiler_options=compiler_options)
  return jitted.lower(x, w).compile().as_text()


def test_compiler_options_move_convolutions_off_ynnpack():
  assert jax.default_backend() == "cpu"
  assert conv.threaded_convs_supported()  # jaxlib 0.10 has the option
  options = conv.compiler_options("cpu")
  assert options == conv._THREADED_CONVS
  # This jaxlib's default hands the convolutions (weight gradient included)
  # to YNNPACK fusions; with the options XLA keeps them, on its own kernels.
  assert "ynn_fusion" in _optimized_grad_hlo(None)
  hlo = _optimized_grad_hlo(options)
  assert "ynn_fusion" not in hlo
  assert hlo.count("convolution(") == 2  # input and weight gradient
  assert conv.compiler_options("gpu") is None
  assert conv.compiler_options("tpu") is None


def _lowered(impl, shape_x, shape_w):
  x = jnp.zeros(shape_x)
  w = jnp.zeros(shape_w)
  loss = lambda x, w: jnp.sum(_ours(x, w, impl=impl))
  return jax.jit(jax.grad(loss, 1)).lower(x, w).compile().as_text()


def test_auto_runs_the_cpu_plan_on_cpu_and_xla_elsewhere(monkeypatch):
  assert jax.default_backend() == "cpu"
  # The plan for an XLA without threaded convolutions: winograd2 here.
  monkeypatch.setattr(conv, "threaded_convs_supported", lambda: False)
  shape_x, shape_w = (1, 32, 32, 128), (3, 3, 128, 128)
  assert "convolution" not in _lowered("auto", shape_x, shape_w)
  assert "convolution" in _lowered("xla", shape_x, shape_w)
  # The branch other platforms lower is XLA's own convolution, bit for bit.
  x, w, _ = _inputs(shape_x, shape_w)
  pads = ((1, 1), (1, 1))
  np.testing.assert_array_equal(
    jax.jit(lambda x, w: conv._apply("xla", x, w, pads, None))(x, w),
    jax.jit(_xla)(x, w),
  )


def test_unknown_impl_is_rejected_with_the_choices():
  with pytest.raises(ValueError, match="winograd4"):
    conv.make("fft")
  x, w, _ = _inputs((1, 4, 4, 2), (3, 3, 2, 2))
  with pytest.raises(ValueError, match="one of auto, xla"):
    _ours(x, w, impl="fft")


def test_weight_gradient_by_hand():
  # 1x1 image, 3x3 SAME kernel: only the centre tap sees the pixel, so
  # dL/dW[1, 1] = x^T g and every other tap is 0.
  x = jnp.array([[[[2.0, -1.0]]]])  # [1, 1, 1, 2]
  w = jnp.zeros((3, 3, 2, 1))
  dw = jax.grad(lambda w: jnp.sum(_ours(x, w, impl="taps") * 3.0))(w)
  want = np.zeros((3, 3, 2, 1), np.float32)
  want[1, 1, :, 0] = [6.0, -3.0]
  np.testing.assert_array_equal(dw, want)


@pytest.mark.parametrize("impl", ["taps", "winograd2", "winograd4"])
def test_second_order_gradient_matches_xla(impl):
  # WGAN-GP differentiates the norm of an input gradient w.r.t. the weights.
  x, w, _ = _inputs((2, 6, 6, 3), (3, 3, 3, 4))
  ours = lambda x, w: _ours(x, w, impl=impl)

  def penalty(f):
    def fn(w):
      dx = jax.grad(lambda x: jnp.sum(jnp.tanh(f(x, w))))(x)
      return jnp.sum(dx**2)

    return jax.jit(jax.grad(fn))

  # Two more differentiations of tanh(conv) compound the rounding: 10x the
  # first-order bound, relative to the largest entry.
  assert _rel(penalty(ours)(w), penalty(_xla)(w)) <= 10 * _REL[impl]


@pytest.mark.parametrize("impl", ["taps", "winograd2"])
def test_bfloat16_gradients_close_to_float32(impl):
  x, w, kg = _inputs((2, 8, 8, 4), (3, 3, 4, 4))
  g = jax.random.normal(kg, (2, 8, 8, 4))
  grad = lambda f, dt: jax.jit(
    jax.grad(lambda w: jnp.sum(f(x.astype(dt), w) * g.astype(dt)))
  )(w.astype(dt))
  dw = grad(lambda x, w: _ours(x, w, impl=impl), jnp.bfloat16)
  assert dw.dtype == jnp.bfloat16
  ref = grad(_xla, jnp.float32)
  np.testing.assert_allclose(
    dw.astype(jnp.float32),
    ref,
    rtol=0.05,
    atol=0.05 * float(jnp.abs(ref).max()),
  )


@pytest.mark.parametrize("impl", conv.IMPLS)
def test_strided_convolution_falls_back_to_xla(impl):
  x, w, _ = _inputs((2, 8, 8, 3), (4, 4, 3, 2))
  ours = lambda w: _ours(x, w, strides=(2, 2), impl=impl)
  np.testing.assert_array_equal(ours(w), _xla(x, w, strides=(2, 2)))
  dw = jax.grad(lambda w: jnp.sum(ours(w) ** 2))(w)
  dw_ref = jax.grad(lambda w: jnp.sum(_xla(x, w, strides=(2, 2)) ** 2))(w)
  np.testing.assert_allclose(dw, dw_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("impl", ["taps", "winograd4"])
def test_flax_conv_with_it_trains_like_the_default(impl):
  x, _, _ = _inputs((2, 8, 8, 3), (3, 3, 3, 4))
  ours = nn.Conv(4, (3, 3), conv_general_dilated=conv.make(impl))
  ref = nn.Conv(4, (3, 3))
  params = ref.init(jax.random.key(1), x)
  grads = [
    jax.grad(lambda p, m=m: jnp.sum(m.apply(p, x) ** 2))(params)
    for m in (ours, ref)
  ]
  for a, b in zip(jax.tree.leaves(grads[0]), jax.tree.leaves(grads[1])):
    assert _rel(a, b) <= _REL[impl], (_rel(a, b), _REL[impl])
