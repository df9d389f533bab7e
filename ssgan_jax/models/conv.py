"""A drop-in `conv_general_dilated` whose weight gradient is fast on CPU.

  nn.Conv(features, (3, 3), conv_general_dilated=conv.conv_general_dilated)

XLA:CPU computes the weight gradient of a convolution (the correlation of
the layer input with the output gradient) 3-5x slower than the forward pass
(benchmarks/RESULTS.md: 38-46 vs 130-170 GFLOP/s for the SN-ResNet's 3x3
convolutions), and in the SS-GAN step those gradients were ~43 % of the time.
Written as one matmul per kernel tap,

  dW[i, j] = X_shift(i, j)^T @ dY     X_shift: [N*H*W, C_in], dY: [N*H*W, C_out]

the same sum runs at matmul speed (1.4-2.2x XLA's own on those shapes,
`benchmarks/conv_probe.py --backend jax`). `lax.platform_dependent` picks
that form only when the computation is lowered for CPU; GPUs and TPUs keep
XLA's native gradient (cuDNN / the TPU convolution unit). The forward pass
and the input gradient are XLA's on every platform, and the results agree
with `lax.conv_general_dilated`'s to float round-off (tests/conv_test.py).

Only the case the architectures use takes this path: NHWC inputs, HWIO
kernels, stride 1, no dilation, one feature group. Anything else is passed
to `lax.conv_general_dilated` unchanged.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

_SPEC = ("NHWC", "HWIO", "NHWC")


def _conv(x, w, pads, precision):
  return lax.conv_general_dilated(
    x, w, (1, 1), pads, dimension_numbers=_SPEC, precision=precision
  )


def _weight_grad_taps(x, g, kernel_hw, pads, precision):
  """dL/dW as one [C_in, NHW] x [NHW, C_out] matmul per kernel tap.

  Args:
    x: [N, H, W, C_in] layer input.
    g: [N, H', W', C_out] output gradient.
    kernel_hw: (kh, kw).
    pads: ((top, bottom), (left, right)) as the forward pass used them.
    precision: the layer's matmul precision.

  Returns:
    [kh, kw, C_in, C_out] in float32 (accumulated in float32 for bf16).
  """
  kh, kw = kernel_hw
  n, ho, wo, c_out = g.shape
  c_in = x.shape[-1]
  xp = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
  g2 = g.reshape(n * ho * wo, c_out)  # [NHW, C_out]
  rows = []
  for i in range(kh):
    taps = []
    for j in range(kw):
      shifted = xp[:, i : i + ho, j : j + wo, :].reshape(-1, c_in)
      taps.append(
        jnp.matmul(
          shifted.T, g2, precision=precision, preferred_element_type=jnp.float32
        )
      )  # [C_in, C_out]
    rows.append(jnp.stack(taps))
  return jnp.stack(rows)  # [kh, kw, C_in, C_out]


def _weight_grad_xla(x, w, g, pads, precision):
  """dL/dW as XLA derives it (cuDNN / the TPU convolution unit)."""
  return jax.vjp(lambda w_: _conv(x, w_, pads, precision), w)[1](g)[0]


def _weight_grad_cpu(x, w, g, pads, precision):
  return _weight_grad_taps(x, g, w.shape[:2], pads, precision).astype(w.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_fast_wgrad(x, w, pads, precision):
  return _conv(x, w, pads, precision)


def _fwd(x, w, pads, precision):
  return _conv(x, w, pads, precision), (x, w)


def _bwd(pads, precision, residuals, g):
  x, w = residuals
  dx = jax.vjp(lambda x_: _conv(x_, w, pads, precision), x)[1](g)[0]
  dw = lax.platform_dependent(
    x,
    w,
    g,
    cpu=functools.partial(_weight_grad_cpu, pads=pads, precision=precision),
    default=functools.partial(_weight_grad_xla, pads=pads, precision=precision),
  )
  return dx, dw


_conv_fast_wgrad.defvjp(_fwd, _bwd)


def _is_nhwc_hwio(lhs, rhs, dimension_numbers) -> bool:
  if lhs.ndim != 4 or rhs.ndim != 4:
    return False
  want = lax.conv_dimension_numbers(lhs.shape, rhs.shape, _SPEC)
  got = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
  return got == want


def conv_general_dilated(
  lhs,
  rhs,
  window_strides,
  padding,
  lhs_dilation=None,
  rhs_dilation=None,
  dimension_numbers=None,
  feature_group_count=1,
  batch_group_count=1,
  precision=None,
  preferred_element_type=None,
):
  """`lax.conv_general_dilated` with the fast CPU weight gradient.

  Same arguments and results as `lax.conv_general_dilated`.
  """
  simple = (
    dimension_numbers is not None
    and _is_nhwc_hwio(lhs, rhs, dimension_numbers)
    and all(s == 1 for s in window_strides)
    and all(d == 1 for d in (lhs_dilation or (1, 1)))
    and all(d == 1 for d in (rhs_dilation or (1, 1)))
    and feature_group_count == 1
    and batch_group_count == 1
    and preferred_element_type is None
  )
  if not simple:
    return lax.conv_general_dilated(
      lhs,
      rhs,
      window_strides,
      padding,
      lhs_dilation=lhs_dilation,
      rhs_dilation=rhs_dilation,
      dimension_numbers=dimension_numbers,
      feature_group_count=feature_group_count,
      batch_group_count=batch_group_count,
      precision=precision,
      preferred_element_type=preferred_element_type,
    )
  if isinstance(padding, str):
    padding = lax.padtype_to_pads(
      lhs.shape[1:3], rhs.shape[:2], (1, 1), padding
    )
  pads = tuple((int(lo), int(hi)) for lo, hi in padding)
  return _conv_fast_wgrad(lhs, rhs, pads, precision)
