"""3x3 stride-1 convolution by Winograd minimal filtering (Lavin & Gray 2016).

  y = winograd.conv3x3(x, w, tile=4)   # == lax.conv_general_dilated(
                                       #      x, w, (1, 1), ((1, 1), (1, 1)),
                                       #      dimension_numbers=NHWC/HWIO/NHWC)

Why: on CPU a 3x3 convolution is bound by its multiply-adds. F(m x m, 3 x 3)
computes an m x m output tile from an (m+2) x (m+2) input tile with
(m+2)^2 multiplications per (input, output) channel pair instead of 9 m^2:
2.25x fewer for F(2x2,3x3) (16 vs 36) and 4x fewer for F(4x4,3x3) (36 vs
144). The transforms are cheap additions by comparison, and all the
multiplications become ONE batched matmul over the (m+2)^2 transform points,
which XLA:CPU runs at matmul speed:

  U = G g G^T          kernel transform      [P, C, O]   P = (m+2)^2
  V = B^T d B          input transform       [P, T, C]   T = N * tiles
  M = V @ U            batched over P        [P, T, O]
  Y = A^T M A          output transform      m x m outputs per tile

The price is accuracy: the transforms' inexact coefficients amplify float
rounding, the more so the larger the tile. Which interpolation points the
transforms are built from matters as much as the tile (Barabasz, Anderson,
Soodhalter & Gregg, "Error analysis and improving the accuracy of Winograd
convolution for deep neural networks", ACM TOMS 2020). F(2x2) uses
(0, 1, -1, inf). For F(4x4) we use (0, 1, -1, 2, -1/2, inf) instead of the
usual (0, 1, -1, 2, -2, inf) of Lavin & Gray: mixing a point with a
reciprocal keeps the coefficients of the three transforms closer to 1. On
unit-normal inputs at the models' shapes (128 channels, 32x32 maps, against
float64) the float32 error relative to the largest entry fell from 1.2e-5 /
6.6e-6 / 1.1e-5 (values / input gradient / weight gradient) to 3.4e-6 /
2.3e-6 / 4.0e-6, within ~2.5x of XLA's direct convolution's own 1.4e-6 /
1.7e-6 / 2.8e-6 (F(2x2): 6.4e-7 / 4.4e-7 / 1.5e-6); the matrices were
derived exactly by the Toom-Cook construction and tests/winograd_test.py
checks them in float64. With bfloat16 inputs the matmul operands V and U
are bf16, and F(4x4)'s output transform amplifies their rounding to a few
percent of the largest output (~10x F(2x2)'s ~0.5 %): prefer tile=2 for
bf16. The input transform also grows the activations: V holds
(m+2)^2 / m^2 times the input (4x for F2, 2.25x for F4).

Performance notes (measured on CPU): gathering tiles with index arrays and
applying the small transform matrices with einsum was slow, because XLA turns
each into tiny matmuls. The input and output transforms are therefore written
as explicit linear combinations of strided slices (every m-th row starting at
row k), first along H and then along W, skipping zero coefficients and using
plain additions/subtractions for +-1, so that XLA fuses them into elementwise
loops. Autodiff sees only slices, pads, adds, scales and one dot_general,
so both gradients come out in the same cheap form (a strided slice transposes
to an interior pad).
"""

import jax.numpy as jnp
import numpy as np
from jax import lax

# Transform matrices, indexed [tile m]. Y = A^T [(G g G^T) * (B^T d B)] A.
# Interpolation points: F(2x2) (0, 1, -1, inf); F(4x4) (0, 1, -1, 2, -1/2,
# inf), better conditioned than (0, +-1, +-2, inf) (see the docstring).
_BT = {
  2: np.array(
    [
      [1, 0, -1, 0],
      [0, 1, 1, 0],
      [0, -1, 1, 0],
      [0, 1, 0, -1],
    ],
    np.float64,
  ),
  4: np.array(
    [
      [1, 3 / 2, -2, -3 / 2, 1, 0],
      [0, -1, -5 / 2, -1 / 2, 1, 0],
      [0, 1, 1 / 2, -5 / 2, 1, 0],
      [0, -1 / 2, -1, 1 / 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 1, 3 / 2, -2, -3 / 2, 1],
    ],
    np.float64,
  ),
}
_G = {
  2: np.array(
    [
      [1, 0, 0],
      [1 / 2, 1 / 2, 1 / 2],
      [1 / 2, -1 / 2, 1 / 2],
      [0, 0, 1],
    ],
    np.float64,
  ),
  4: np.array(
    [
      [1, 0, 0],
      [-1 / 3, -1 / 3, -1 / 3],
      [1 / 3, -1 / 3, 1 / 3],
      [1 / 15, 2 / 15, 4 / 15],
      [-16 / 15, 8 / 15, -4 / 15],
      [0, 0, 1],
    ],
    np.float64,
  ),
}
_AT = {
  2: np.array(
    [
      [1, 1, 1, 0],
      [0, 1, -1, -1],
    ],
    np.float64,
  ),
  4: np.array(
    [
      [1, 1, 1, 1, 1, 0],
      [0, 1, -1, 2, -1 / 2, 0],
      [0, 1, 1, 4, 1 / 4, 0],
      [0, 1, -1, 8, -1 / 8, 1],
    ],
    np.float64,
  ),
}


def _lincomb(coeffs, terms):
  """sum_k coeffs[k] * terms[k] as adds/subs/scales XLA fuses elementwise.

  Zero coefficients are skipped and +-1 become plain additions or
  subtractions, so no multiplication is spent where none is needed.

  Args:
    coeffs: 1-D numpy array of Python-representable constants.
    terms: same-shaped arrays, one per coefficient.

  Returns:
    The combination, in the terms' dtype (constants are weakly typed).
  """
  out = None
  for c, t in zip(coeffs.tolist(), terms):
    if c == 0:
      continue
    if out is None:
      out = t if c == 1 else (-t if c == -1 else c * t)
    elif c == 1:
      out = out + t
    elif c == -1:
      out = out - t
    else:
      out = out + c * t
  if out is None:  # An all-zero row; none of the matrices above has one.
    out = jnp.zeros_like(terms[0])
  return out


def _strided_rows(a, axis, start, count, step):
  """a[..., start : start + (count-1)*step + 1 : step, ...] along `axis`."""
  starts = [0] * a.ndim
  limits = list(a.shape)
  strides = [1] * a.ndim
  starts[axis] = start
  limits[axis] = start + (count - 1) * step + 1
  strides[axis] = step
  return lax.slice(a, starts, limits, strides)


def _normalize_pads(pads):
  if isinstance(pads, str):
    if pads.upper() not in ("SAME", "VALID"):
      raise ValueError(f"pads={pads!r}: use 'SAME', 'VALID' or explicit pairs")
    p = 1 if pads.upper() == "SAME" else 0
    return ((p, p), (p, p))
  try:
    (top, bottom), (left, right) = pads
  except (TypeError, ValueError):
    raise ValueError(
      f"pads={pads!r}: expected ((top, bottom), (left, right))"
    ) from None
  return ((int(top), int(bottom)), (int(left), int(right)))


def conv3x3(x, w, *, tile: int, pads=((1, 1), (1, 1)), precision=None):
  """A 3x3, stride-1 NHWC/HWIO cross-correlation by Winograd F(m x m, 3 x 3).

  Equals `lax.conv_general_dilated(x, w, (1, 1), pads,
  dimension_numbers=("NHWC", "HWIO", "NHWC"))` up to float rounding, for any
  spatial size: the padded input is extended at the bottom/right so that the
  output is a whole number of m x m tiles, and the extra outputs are cropped.

  Args:
    x: [N, H, W, C] input.
    w: [3, 3, C, O] kernel (HWIO).
    tile: m, the output tile side: 2 for F(2x2,3x3), 4 for F(4x4,3x3).
    pads: ((top, bottom), (left, right)) explicit padding (negative values
      crop, as in lax.pad), or "SAME" / "VALID".
    precision: passed to the batched matmul (lax.dot_general).

  Returns:
    [N, H + top + bottom - 2, W + left + right - 2, O] in x's dtype. The
    matmul accumulates in (at least) float32, and the output transform runs
    in that type before the final cast.

  Raises:
    ValueError: for a tile other than 2 or 4, a kernel that is not 3x3 or
      whose input channels differ from x's, or pads that leave no output.
  """
  if tile not in _BT:
    raise ValueError(f"tile={tile!r}: Winograd conv3x3 supports tile 2 or 4")
  if x.ndim != 4 or w.ndim != 4:
    raise ValueError(
      f"expected x [N, H, W, C] and w [3, 3, C, O]; got {x.shape}, {w.shape}"
    )
  if w.shape[:2] != (3, 3) or w.shape[2] != x.shape[3]:
    raise ValueError(
      f"w {w.shape} is not a [3, 3, C, O] kernel for x {x.shape}"
    )
  (top, bottom), (left, right) = _normalize_pads(pads)
  m = tile
  r = m + 2  # Input tile side.
  n, h, wd, c = x.shape
  o = w.shape[3]
  ho = h + top + bottom - 2
  wo = wd + left + right - 2
  if ho < 1 or wo < 1:
    raise ValueError(f"pads {pads!r} leave no output for x {x.shape}")
  th = -(-ho // m)  # Tiles along H and W.
  tw = -(-wo // m)
  dtype = x.dtype
  acc_dtype = jnp.promote_types(dtype, jnp.float32)

  # Pad so that the padded input is exactly th*m + 2 by tw*m + 2: the
  # requested pads plus (possibly) extra zeros at the bottom/right that only
  # feed the outputs cropped at the end. lax.pad also accepts negative pads.
  # The input transform runs in float32 (XLA:CPU widens bf16 elementwise
  # math anyway) and V is rounded to x's dtype once, rather than after each
  # of its up to 8 adds: for bf16 F4 that cut the error of the values by
  # 1.5-3x in our measurements. For bf16 x the padded copy is float32.
  hp, wp = th * m + 2, tw * m + 2
  xp = lax.pad(
    x.astype(acc_dtype),
    jnp.zeros((), acc_dtype),
    (
      (0, 0, 0),
      (top, hp - h - top, 0),
      (left, wp - wd - left, 0),
      (0, 0, 0),
    ),
  )  # [N, hp, wp, C]

  # Kernel transform U = G g G^T (tiny), in float32, then in x's dtype for
  # the matmul so that bf16 inputs take bf16 x bf16 -> f32 products.
  g_mat = jnp.asarray(_G[m], acc_dtype)  # [r, 3]
  u = jnp.einsum(
    "ia,abco,jb->ijco",
    g_mat,
    w.astype(acc_dtype),
    g_mat,
    precision=lax.Precision.HIGHEST,
  )  # [r, r, C, O]
  u = u.reshape(r * r, c, o).astype(dtype)  # [P, C, O]

  # Input transform V = B^T d B on every tile at once. Row k of every input
  # tile is the strided slice xp[:, k::m] (th rows); combining those slices
  # with B^T's rows transforms along H. The W pass then slices all r
  # H-transformed arrays together (stacked on a leading axis), so the whole
  # transform is 2r slices and 2r combinations, not r + r^2: the same
  # elementwise work in fewer HLO ops, which XLA compiles faster.
  bt = _BT[m]
  rows = [_strided_rows(xp, 1, k, th, m) for k in range(r)]  # r x [N,th,wp,C]
  v_h = jnp.stack([_lincomb(bt[i], rows) for i in range(r)])  # [r,N,th,wp,C]
  cols = [_strided_rows(v_h, 3, k, tw, m) for k in range(r)]  # [r,N,th,tw,C]
  v = jnp.stack([_lincomb(bt[j], cols) for j in range(r)], axis=1)
  # v: [r(i), r(j), N, th, tw, C], i along H and j along W.
  v = v.reshape(r * r, n * th * tw, c).astype(dtype)  # [P, T, C]

  # The multiplications: one matmul per transform point, batched over P.
  mm = lax.dot_general(
    v,
    u,
    dimension_numbers=(((2,), (1,)), ((0,), (0,))),
    precision=precision,
    preferred_element_type=acc_dtype,
  )  # [P, T, O]
  mm = mm.reshape(r, r, n, th, tw, o)  # [r(i), r(j), N, th, tw, O]

  # Output transform Y = A^T M A, again as slices combined along H then W.
  # Each stack puts its output index where the final layout wants it, so
  # the result reshapes to the image without a transpose.
  at = _AT[m]
  pts = [mm[k] for k in range(r)]  # r x [r(j), N, th, tw, O]
  z = jnp.stack([_lincomb(at[i], pts) for i in range(m)], axis=3)
  # z: [r(j), N, th, m(i), tw, O]
  pts = [z[k] for k in range(r)]  # r x [N, th, m(i), tw, O]
  y = jnp.stack([_lincomb(at[j], pts) for j in range(m)], axis=4)
  # y: [N, th, m(i), tw, m(j), O]
  y = y.reshape(n, th * m, tw * m, o)[:, :ho, :wo, :]  # [N, ho, wo, O]
  return y.astype(dtype)
