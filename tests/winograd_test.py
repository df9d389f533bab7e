"""Winograd conv3x3 equals lax.conv_general_dilated, values and gradients.

Values, input gradients and weight gradients (a vjp with a random
cotangent) are compared with XLA's convolution in float32 for F(2x2,3x3) and
F(4x4,3x3), on maps that are and are not multiples of the tile, odd sizes,
SAME / VALID / uneven explicit pads, and 1-16 channels; plus one output
written down by hand and a bfloat16 run.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from ssgan_jax.models import winograd

_DN = ("NHWC", "HWIO", "NHWC")
_SAME = ((1, 1), (1, 1))
_VALID = ((0, 0), (0, 0))

# Tolerances on max|ours - ref| / max|ref|, float32, unit-normal inputs.
# Winograd's transforms round at every step and their inexact coefficients
# amplify that rounding, so the error is a few float32 ulps of the largest
# output for F2 and ~3x that for F4 (with the better-conditioned points
# winograd.py uses; the usual (0, +-1, +-2) points gave ~7x). Measured maxima
# over these shapes, jitted (values / dx / dw): F2 4.4e-7 / 4.7e-7 / 6.6e-7,
# F4 1.3e-6 / 1.0e-6 / 2.0e-6 (dw is the largest: on 32x32 maps its sums run
# over N*H*W = 2048 terms). The bounds leave >= 2.5x headroom over these.
_RTOL = {2: 2e-6, 4: 5e-6}


# Jitted (not op-by-op) where called directly: one compile is much cheaper
# than dispatching each of Winograd's many small ops on its own.
_conv3x3_jit = jax.jit(winograd.conv3x3, static_argnames=("tile", "pads"))


def _ref(x, w, pads):
  return lax.conv_general_dilated(
    x, w, (1, 1), pads, dimension_numbers=_DN, precision=lax.Precision.HIGHEST
  )


def _value_and_grads(fn, x, w, g):
  """fn(x, w), and its vjp with cotangent g: (y, dx, dw), in one jit."""

  @jax.jit
  def run(x, w, g):
    y, vjp = jax.vjp(fn, x, w)
    return (y, *vjp(g))

  return run(x, w, g)


def _rel_err(got, want):
  got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
  return np.max(np.abs(got - want)) / np.max(np.abs(want))


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize(
  "n,h,w,c,o,pads",
  [
    (2, 4, 4, 1, 1, _SAME),  # Smaller than one F4 tile's input.
    (3, 8, 8, 3, 8, _SAME),
    (2, 16, 16, 8, 16, _SAME),
    (2, 32, 32, 16, 8, _SAME),
    (2, 9, 11, 3, 3, _SAME),  # Odd, not a multiple of either tile.
    (2, 7, 7, 8, 3, _VALID),  # 5x5 output: crop after the last tile.
    (3, 8, 8, 16, 16, _VALID),
    (2, 9, 11, 3, 8, ((2, 2), (0, 1))),  # Uneven explicit pads.
  ],
)
def test_matches_xla_values_and_gradients(tile, n, h, w, c, o, pads):
  kx, kw, kg = jax.random.split(jax.random.key(h * 100 + c * 10 + o), 3)
  x = jax.random.normal(kx, (n, h, w, c), jnp.float32)
  k = jax.random.normal(kw, (3, 3, c, o), jnp.float32)
  out_shape = (n, h + sum(pads[0]) - 2, w + sum(pads[1]) - 2, o)
  g = jax.random.normal(kg, out_shape, jnp.float32)

  want = _value_and_grads(lambda a, b: _ref(a, b, pads), x, k, g)
  got = _value_and_grads(
    lambda a, b: winograd.conv3x3(a, b, tile=tile, pads=pads), x, k, g
  )
  for name, gv, wv in zip(("y", "dx", "dw"), got, want):
    assert gv.shape == wv.shape and gv.dtype == jnp.float32, name
    err = _rel_err(gv, wv)
    assert err < _RTOL[tile], f"{name}: relative error {err:.2e}"


@pytest.mark.parametrize("tile", [2, 4])
def test_transform_matrices_are_exact_in_float64(tile):
  # Y = A^T [(G g G^T) * (B^T d B)] A must equal the direct 2-D correlation
  # of an (m+2)x(m+2) tile with a 3x3 kernel exactly, up to float64
  # rounding: a wrong coefficient shows as an O(1) error, not as noise.
  rng = np.random.default_rng(tile)
  bt, g_mat, at = winograd._BT[tile], winograd._G[tile], winograd._AT[tile]  # pylint: disable=protected-access
  for _ in range(5):
    d = rng.standard_normal((tile + 2, tile + 2))
    k = rng.standard_normal((3, 3))
    want = np.array(
      [
        [np.sum(d[i : i + 3, j : j + 3] * k) for j in range(tile)]
        for i in range(tile)
      ]
    )
    got = at @ ((g_mat @ k @ g_mat.T) * (bt @ d @ bt.T)) @ at.T
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("tile", [2, 4])
def test_hand_computed_4x4(tile):
  # x = 0..15 in row-major order on a 4x4 map, one channel:
  #    0  1  2  3
  #    4  5  6  7
  #    8  9 10 11
  #   12 13 14 15
  x = jnp.arange(16, dtype=jnp.float32).reshape(1, 4, 4, 1)
  ones = jnp.ones((3, 3, 1, 1), jnp.float32)
  # SAME with an all-ones kernel: 3x3 box sums over the zero-padded map.
  box_same = [
    [10, 18, 24, 18],
    [27, 45, 54, 39],
    [51, 81, 90, 63],
    [42, 66, 72, 50],
  ]
  # VALID: only the four windows fully inside the map.
  box_valid = [[45, 54], [81, 90]]
  # One tap at kernel row 0, column 2 (top right): a cross-correlation
  # reads y[i, j] = x[i - 1, j + 1] (zero outside), i.e. the map moves down
  # one and left one. A flipped (true) convolution would move it up-right.
  tap = jnp.zeros((3, 3, 1, 1), jnp.float32).at[0, 2].set(1.0)
  shifted = [
    [0, 0, 0, 0],
    [1, 2, 3, 0],
    [5, 6, 7, 0],
    [9, 10, 11, 0],
  ]
  for k, pads, want in [
    (ones, _SAME, box_same),
    (ones, "SAME", box_same),
    (ones, _VALID, box_valid),
    (tap, _SAME, shifted),
  ]:
    y = _conv3x3_jit(x, k, tile=tile, pads=pads)
    np.testing.assert_allclose(
      np.asarray(y)[0, :, :, 0], np.array(want, np.float32), atol=1e-4
    )


@pytest.mark.parametrize("tile", [2, 4])
def test_bfloat16(tile):
  # bf16 inputs: the matmul's operands V and U are rounded to bf16's 8-bit
  # mantissa (relative step 2^-8 ~ 4e-3) and the output transform amplifies
  # that, by much more for F4 (its output transform's coefficients reach 8)
  # than for F2; the matmul accumulates in float32. Compared with float32 XLA
  # on the same (bf16-representable) values. Measured over 3 seeds (y / dx /
  # dw): F2 <= 4.7e-3 / 5.5e-3 / 6.0e-3, F4 <= 3.2e-2 / 3.2e-2 / 2.4e-2.
  kx, kw, kg = jax.random.split(jax.random.key(7), 3)
  x = jax.random.normal(kx, (2, 9, 8, 8), jnp.bfloat16)
  k = jax.random.normal(kw, (3, 3, 8, 4), jnp.bfloat16)
  g = jax.random.normal(kg, (2, 9, 8, 4), jnp.bfloat16)
  want = _value_and_grads(
    lambda a, b: _ref(a, b, _SAME),
    x.astype(jnp.float32),
    k.astype(jnp.float32),
    g.astype(jnp.float32),
  )
  got = _value_and_grads(
    lambda a, b: winograd.conv3x3(a, b, tile=tile), x, k, g
  )
  tol = {2: 2e-2, 4: 8e-2}[tile]
  for name, gv, wv in zip(("y", "dx", "dw"), got, want):
    assert gv.dtype == jnp.bfloat16 and gv.shape == wv.shape, name
    err = _rel_err(gv, wv)
    assert err < tol, f"{name}: relative error {err:.2e}"


@pytest.mark.parametrize(
  "kwargs,shape_w",
  [
    ({"tile": 3}, (3, 3, 2, 4)),  # Only F(2x2) and F(4x4) are implemented.
    ({"tile": 2}, (5, 5, 2, 4)),  # Not a 3x3 kernel.
    ({"tile": 2}, (3, 3, 3, 4)),  # Input channels differ from x's.
    ({"tile": 4, "pads": ((0, 0), (-1, 0))}, (3, 3, 2, 4)),  # No output.
  ],
)
def test_rejects_what_it_cannot_compute(kwargs, shape_w):
  x = jnp.zeros((1, 2, 2, 2), jnp.float32)
  with pytest.raises(ValueError):
    winograd.conv3x3(x, jnp.zeros(shape_w, jnp.float32), **kwargs)
