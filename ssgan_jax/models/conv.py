"""A drop-in `conv_general_dilated` that picks the fastest algorithm per layer.

  nn.Conv(features, (3, 3), conv_general_dilated=conv.make("auto"))

On GPU and TPU XLA's own convolution is the right choice (cuDNN and the TPU
convolution unit pick their algorithms, Winograd included). On CPU it is too
once the jit carries compiler_options(), which put XLA's convolutions on its
multi-threaded kernels: then `cpu_plan` picks XLA's for every layer. For an
XLA without that option no single algorithm wins for every layer of the
SN-ResNets (benchmarks/RESULTS.md, `benchmarks/conv_probe.py --layers`), so
`cpu_plan` chooses one per layer from its shape, and
`lax.platform_dependent` applies that choice only when the computation is
lowered for CPU:

- "winograd2": Winograd F(2x2, 3x3) (winograd.py): 2.25x fewer
  multiplications than direct convolution, in the forward pass and, through
  autodiff, in both gradients. Wins on the large maps with >= 128 channels,
  which are most of the paper-scale FLOPs. (F(4x4) does 4x fewer and is
  faster still, but trained measurably worse; see cpu_plan.)
- "taps": XLA's forward pass and input gradient, and the weight gradient as
  one matmul per kernel tap,

    dW[i, j] = X_shift(i, j)^T @ dY   X_shift: [N*H*W, C_in], dY: [N*H*W, C_out]

  XLA:CPU computes that correlation 3-5x slower than the forward pass at 64+
  channels; as matmuls it runs 1.3-2.7x faster.
- "xla": XLA's convolution and its own gradients: fastest at width 32 on
  16x16 and smaller maps, where the per-tap matmuls are too thin.

`model.conv` in the config forces one of IMPLS on any platform (A/B runs,
tests). All of them compute the same function up to float rounding
(tests/conv_test.py bounds it per algorithm; Winograd's is the largest).

Only the case the architectures use takes these paths: NHWC inputs, HWIO
kernels, stride 1, no dilation, one feature group. Anything else is passed
to `lax.conv_general_dilated` unchanged.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from ssgan_jax.models import winograd

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


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_taps(x, w, pads, precision):
  """XLA's forward pass and input gradient, the per-tap weight gradient."""
  return _conv(x, w, pads, precision)


def _taps_fwd(x, w, pads, precision):
  return _conv(x, w, pads, precision), (x, w)


def _taps_bwd(pads, precision, residuals, g):
  x, w = residuals
  dx = jax.vjp(lambda x_: _conv(x_, w, pads, precision), x)[1](g)[0]
  dw = _weight_grad_taps(x, g, w.shape[:2], pads, precision).astype(w.dtype)
  return dx, dw


_conv_taps.defvjp(_taps_fwd, _taps_bwd)


# XLA:CPU (jaxlib 0.10) hands each convolution to YNNPACK by default, which
# runs it on one thread: at width 32 half of the default job's step had one
# core idle, and XLA's weight gradient there ran 5-12x slower than its
# forward pass. With YNNPACK kept for dots only (XLA's default before it took
# convolutions too), convolutions run on XLA's multi-threaded Eigen kernels:
# forward, input and weight gradient at 90-110 GFLOP/s on 2 AVX2 cores, and
# XLA's own convolution is then the fastest algorithm for every layer of the
# SN-ResNets (benchmarks/RESULTS.md, 2026-12-02 fourth run). Every jit that
# runs the models on CPU passes these options (compiler_options()).
_THREADED_CONVS = {
  "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"
}


@functools.cache
def threaded_convs_supported() -> bool:
  """Whether this jaxlib accepts _THREADED_CONVS (checked once, on CPU)."""
  try:
    cpu = jax.devices("cpu")[0]
  except RuntimeError:  # no CPU backend
    return False
  x = jax.device_put(jnp.zeros((1, 4, 4, 1), jnp.float32), cpu)
  w = jax.device_put(jnp.zeros((3, 3, 1, 1), jnp.float32), cpu)
  try:
    jax.jit(
      lambda x, w: _conv(x, w, ((1, 1), (1, 1)), None),
      compiler_options=_THREADED_CONVS,
    ).lower(x, w).compile()
  except Exception:  # pylint: disable=broad-exception-caught
    # An XLA without this option (its name or value changed): keep its
    # default lowering and the per-layer plan written for it.
    return False
  return True


def compiler_options(platform: str) -> dict | None:
  """`jax.jit(..., compiler_options=...)` for code that runs the models.

  Args:
    platform: the platform the jit runs on ("cpu", "gpu", "tpu"), e.g.
      `mesh.devices.flat[0].platform`.

  Returns:
    The options that put XLA:CPU's convolutions on its multi-threaded
    kernels, or None (other platforms, or an XLA that lacks the option).
  """
  if platform != "cpu" or not threaded_convs_supported():
    return None
  return dict(_THREADED_CONVS)


def jit_options(mesh) -> dict | None:
  """`compiler_options` for a jit that runs the models on `mesh`.

  Every jit that runs G or D passes these (train step, samplers, the
  evaluator, the benchmark): on CPU the plan below assumes them, and a jit
  without them runs its convolutions' gradients on YNNPACK's single thread
  (3-4x slower at width 32).
  """
  return compiler_options(mesh.devices.flat[0].platform)


def cpu_plan(
  x_shape, w_shape, dtype, threaded_convs: bool | None = None
) -> str:
  """The algorithm that ran fastest on CPU for one layer (forward + both grads).

  With threaded convolutions (compiler_options(), the default where this
  jaxlib supports it) that is XLA's own convolution for every layer: per
  layer it was 1.0-1.5x the per-tap form and 1.1-1.6x Winograd F(2x2), and
  F(4x4) beat it only on G's 256-channel maps (which it trains worse on).
  `threaded_convs=False` gives the plan measured under YNNPACK's
  single-threaded convolutions, for an XLA without the option:

  Measured per layer of the SN-ResNets at batch 64 / 176 on a 2-core AMD
  EPYC (`benchmarks/conv_probe.py --layers`, benchmarks/RESULTS.md):

  - Winograd F(2x2) wins on G's 256-channel 16x16 and 32x32 layers and D's
    128-channel 32x32 ones (1.1-1.25x the per-tap form). F(4x4) is faster
    still (1.2-1.4x) but is not used: trained with it, the default job
    reached a clearly worse FD-FMNIST at equal steps on each of three seeds
    (experiments/2026-12-02_conv_algorithms/), which F(2x2), whose rounding
    is close to direct convolution's, did not. Better-conditioned F(4x4)
    points (winograd.py; 3x less rounding) still trained worse on two of
    three seeds (experiments/2026-12-03_winograd_points/). Float32 only: in bfloat16
    the transforms' rounding grows to ~0.5 % (winograd.py).
  - The per-tap weight gradient wins at >= 64 channels otherwise (1.3-2.7x
    XLA's) and for the 1-3 channel image input of D's first layer.
  - Width-32 layers on 32x32 maps take the taps too. How fast XLA's own
    weight gradient runs there depends on the CPU: on an AVX-512 EPYC it
    matched the taps, on an AVX2 one it was 4.7x slower at 176 x 32x32
    32->32 (942 vs 198 ms) and 7.8x at 128 channels, which made the
    default job's step 1.9x slower (0.45 vs 0.84 steps/s). The taps are
    never far from the best on either, so the plan does not depend on
    which CPU it runs on.
  - Below that (width 32 on 16x16 and 8x8 maps, G's 1-3 channel output
    layer) XLA's own weight gradient is as fast or up to 3.7x faster than
    the taps, whose [C, N*H*W] x [N*H*W, C] matmuls are too thin there.

  Args:
    x_shape: [N, H, W, C_in].
    w_shape: [kh, kw, C_in, C_out].
    dtype: the compute dtype.
    threaded_convs: whether the enclosing jit has compiler_options();
      None: whenever this jaxlib supports them.

  Returns:
    One of "winograd2", "taps", "xla".
  """
  if threaded_convs is None:
    threaded_convs = threaded_convs_supported()
  if threaded_convs:
    return "xla"
  kh, kw, c_in, c_out = w_shape
  side = min(x_shape[1], x_shape[2])
  channels = min(c_in, c_out)
  if (
    (kh, kw) == (3, 3)
    and jnp.dtype(dtype) == jnp.float32
    and channels >= 128
    and (side >= 32 or (side >= 16 and channels >= 256))
  ):
    return "winograd2"
  if channels >= 64 or c_in < 8 or (side >= 32 and c_out >= 8):
    return "taps"
  return "xla"


# What each name of `model.conv` computes. "auto" and "tuned" consult
# cpu_plan per layer; the others force one algorithm where it applies
# (Winograd: 3x3 kernels only, other layers take cpu_plan's choice).
IMPLS = ("auto", "xla", "tuned", "taps", "winograd2", "winograd4")


def _apply(algo, x, w, pads, precision):
  if algo == "xla":
    return _conv(x, w, pads, precision)
  if algo == "taps":
    return _conv_taps(x, w, pads, precision)
  tile = {"winograd2": 2, "winograd4": 4}[algo]
  return winograd.conv3x3(x, w, tile=tile, pads=pads, precision=precision)


def _check_impl(impl: str) -> None:
  if impl not in IMPLS:
    raise ValueError(f"conv impl {impl!r} is not one of {', '.join(IMPLS)}")


def _algorithm(impl, x, w):
  """The algorithm `impl` runs for this layer on the platform it names."""
  if impl in ("tuned", "auto"):
    return cpu_plan(x.shape, w.shape, x.dtype)
  if impl.startswith("winograd") and w.shape[:2] != (3, 3):
    return cpu_plan(x.shape, w.shape, x.dtype)
  return impl


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
  *,
  impl: str = "auto",
):
  """`lax.conv_general_dilated`, by the fastest algorithm for the platform.

  Same arguments and results as `lax.conv_general_dilated` (to float
  rounding: Winograd rounds differently, see winograd.py), plus `impl`, one
  of IMPLS:

  - "auto": cpu_plan's choice for the layer when lowered for CPU, XLA's own
    convolution elsewhere (cuDNN and the TPU convolution unit pick their
    own algorithms, Winograd included). The default.
  - "xla": XLA's convolution and its autodiff gradients on every platform.
  - "tuned": cpu_plan's choice on every platform.
  - "taps", "winograd2", "winograd4": that algorithm for every layer it
    applies to, on every platform (A/B runs and tests).
  """
  _check_impl(impl)
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
  algo = _algorithm(impl, lhs, rhs)
  if impl != "auto" or algo == "xla":
    return _apply(algo, lhs, rhs, pads, precision)
  return lax.platform_dependent(
    lhs,
    rhs,
    cpu=functools.partial(_apply, algo, pads=pads, precision=precision),
    default=functools.partial(_apply, "xla", pads=pads, precision=precision),
  )


def make(impl: str):
  """conv_general_dilated with `impl` bound, for nn.Conv's argument.

  Raises:
    ValueError: for an impl not in IMPLS.
  """
  _check_impl(impl)
  return functools.partial(conv_general_dilated, impl=impl)
