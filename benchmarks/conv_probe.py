"""Times single 3x3 convolutions (forward, input grad, weight grad), JAX vs torch.

  python benchmarks/conv_probe.py --backend jax
  TORCHENV/bin/python benchmarks/conv_probe.py --backend torch
  python benchmarks/conv_probe.py --layers paper     # or width32
  python benchmarks/conv_probe.py --shapes width32   # each pass, every layer

`--layers` times every 3x3 layer shape of the SN-ResNet at one scale (batch
64 for G, 176 for D: one D update at rotation fraction 0.25) with each
convolution algorithm of ssgan_jax/models/conv.py, forward alone and forward
plus both gradients, and prints what `conv.cpu_plan` picks for the layer:
the measurement that plan is written from.

The SS-GAN step is nearly all 3x3 convolutions (see benchmarks/RESULTS.md),
so how fast each library runs one such convolution on this CPU explains most
of the gap between the two train steps. Shapes are the largest ones of the
32x32 SN-ResNet at batch 64: G's last block (32x32, 256 -> 256) and D's first
block (32x32, 128 -> 128) on 176 images (one D update at fraction 0.25), or
with `--shapes paper|width32` every layer of one scale.
Prints one line per (shape, pass): GFLOP, best-of-n seconds and GFLOP/s.
For JAX, `grad_weight` is XLA's own gradient of `lax.conv_general_dilated`
and `grad_weight_models` that of `ssgan_jax.models.conv` with the models'
default `model.conv=auto` (XLA's own where the jit has the models' compiler
options, cpu_plan's per-layer choice without them, `--ynn_convs`).
"""

import argparse
import functools
import time

# (name, N, H=W, C_in, C_out); NHWC for JAX, NCHW for torch.
SHAPES = (
  ("G block3 conv 32x32 256->256, N=64", 64, 32, 256, 256),
  ("D block1 conv2 32x32 128->128, N=176", 176, 32, 128, 128),
  ("D block2 conv 16x16 128->128, N=176", 176, 16, 128, 128),
)


def _best(fn, reps):
  fn()
  best = float("inf")
  for _ in range(reps):
    t0 = time.perf_counter()
    fn()
    best = min(best, time.perf_counter() - t0)
  return best


def _jax_shape(n, hw, ci, co, reps, ynn_convs=False):
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  kx, kw = jax.random.split(jax.random.key(0))
  x = jax.random.normal(kx, (n, hw, hw, ci), jnp.float32)
  w = jax.random.normal(kw, (3, 3, ci, co), jnp.float32)

  def conv(x, w):
    return jax.lax.conv_general_dilated(
      x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )

  from ssgan_jax.models import conv as conv_lib  # pylint: disable=g-import-not-at-top

  def ours(x, w):
    dn = jax.lax.conv_dimension_numbers(
      x.shape, w.shape, ("NHWC", "HWIO", "NHWC")
    )
    return conv_lib.conv_general_dilated(
      x, w, (1, 1), "SAME", dimension_numbers=dn
    )

  # As the models' jits (see _jax_layers).
  options = None if ynn_convs else conv_lib.compiler_options("cpu")
  jit = functools.partial(jax.jit, compiler_options=options)
  fwd = jit(conv)
  g = jnp.ones_like(fwd(x, w))
  dx = jit(lambda x, w, g: jax.vjp(lambda x: conv(x, w), x)[1](g)[0])
  dw = jit(lambda x, w, g: jax.vjp(lambda w: conv(x, w), w)[1](g)[0])
  dw_models = jit(lambda x, w, g: jax.vjp(lambda w: ours(x, w), w)[1](g)[0])
  return {
    "fwd": _best(lambda: fwd(x, w).block_until_ready(), reps),
    "grad_input": _best(lambda: dx(x, w, g).block_until_ready(), reps),
    "grad_weight": _best(lambda: dw(x, w, g).block_until_ready(), reps),
    "grad_weight_models": _best(
      lambda: dw_models(x, w, g).block_until_ready(), reps
    ),
  }


def _torch_shape(n, hw, ci, co, reps):
  import torch  # pylint: disable=g-import-not-at-top

  x = torch.randn(n, ci, hw, hw, requires_grad=True)
  w = torch.randn(co, ci, 3, 3, requires_grad=True)
  y = torch.nn.functional.conv2d(x, w, padding=1)  # graph kept for backward
  g = torch.ones_like(y)

  def fwd():
    with torch.no_grad():
      torch.nn.functional.conv2d(x, w, padding=1)

  def grad(wrt):
    return lambda: torch.autograd.grad(y, wrt, g, retain_graph=True)

  return {
    "fwd": _best(fwd, reps),
    "grad_input": _best(grad(x), reps),
    "grad_weight": _best(grad(w), reps),
  }


# (N, H=W, C_in, C_out) of every 3x3 layer at each scale (C = 3 image).
LAYERS = {
  "paper": (
    (64, 8, 256, 256),
    (64, 16, 256, 256),
    (64, 32, 256, 256),
    (64, 32, 256, 3),
    (176, 32, 3, 128),
    (176, 32, 128, 128),
    (176, 16, 128, 128),
    (176, 8, 128, 128),
  ),
  "width32": (
    (64, 8, 32, 32),
    (64, 16, 32, 32),
    (64, 32, 32, 32),
    (64, 32, 32, 3),
    (64, 32, 32, 1),  # G's output layer on Fashion-MNIST
    (176, 32, 3, 32),
    (176, 32, 1, 32),  # D's input layer on Fashion-MNIST
    (176, 32, 32, 32),
    (176, 16, 32, 32),
    (176, 8, 32, 32),
  ),
}


def _jax_layers(scale, reps, ynn_convs=False, algos=None):
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from ssgan_jax.models import conv as conv_lib  # pylint: disable=g-import-not-at-top

  algos = algos or ("xla", "taps", "winograd2", "winograd4")
  for n, hw, ci, co in LAYERS[scale]:
    kx, kw, kg = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (n, hw, hw, ci), jnp.float32)
    w = jax.random.normal(kw, (3, 3, ci, co), jnp.float32) / (3 * ci**0.5)
    g = jax.random.normal(kg, (n, hw, hw, co), jnp.float32)
    dn = jax.lax.conv_dimension_numbers(
      x.shape, w.shape, ("NHWC", "HWIO", "NHWC")
    )
    times = {}
    for algo in algos:
      f = functools.partial(
        conv_lib.conv_general_dilated,
        window_strides=(1, 1),
        padding="SAME",
        dimension_numbers=dn,
        impl=algo,
      )
      # As the models' jits: XLA's convolutions on its threaded kernels,
      # unless --ynn_convs asks for this jaxlib's default (YNNPACK).
      options = None if ynn_convs else conv_lib.compiler_options("cpu")
      jit = functools.partial(jax.jit, compiler_options=options)
      fwd = jit(f)
      both = jit(lambda x, w, g, f=f: jax.vjp(f, x, w)[1](g))
      args = (x, w, g)
      times[algo] = (
        _best(lambda fwd=fwd, a=args: fwd(*a[:2]).block_until_ready(), reps),
        _best(lambda b=both, a=args: jax.block_until_ready(b(*a)), reps),
      )
    plan = conv_lib.cpu_plan(
      x.shape, w.shape, x.dtype, threaded_convs=not ynn_convs
    )
    cells = " ".join(
      f"{a} {t[0] * 1e3:7.1f}/{t[1] * 1e3:7.1f}" for a, t in times.items()
    )
    print(
      f"{n:4d} x {hw:2d}x{hw:<2d} {ci:3d}->{co:<3d} ms fwd/fwd+grads: {cells}"
      f" | fastest {min(times, key=lambda a: times[a][1])}, plan {plan}",
      flush=True,
    )


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--backend", choices=["jax", "torch"], default="jax")
  parser.add_argument(
    "--layers",
    choices=sorted(LAYERS),
    default=None,
    help="time every layer of one scale with each conv algorithm (jax)",
  )
  parser.add_argument(
    "--shapes",
    choices=["largest"] + sorted(LAYERS),
    default="largest",
    help="without --layers: each pass of the largest layers (SHAPES) or of"
    " every layer of one scale, JAX or torch",
  )
  parser.add_argument(
    "--ynn_convs",
    action="store_true",
    help="jax: XLA's default lowering (YNNPACK, one thread per"
    " convolution) instead of the models' compiler options",
  )
  parser.add_argument(
    "--algos",
    default="",
    help="--layers: comma-separated model.conv choices (default: all)",
  )
  parser.add_argument("--reps", type=int, default=3)
  parser.add_argument("--threads", type=int, default=0, help="torch only")
  args = parser.parse_args()
  if args.layers:
    algos = tuple(a for a in args.algos.split(",") if a)
    _jax_layers(args.layers, args.reps, args.ynn_convs, algos)
    return
  if args.backend == "torch" and args.threads:
    import torch  # pylint: disable=g-import-not-at-top

    torch.set_num_threads(args.threads)
  if args.backend == "jax":
    measure = functools.partial(_jax_shape, ynn_convs=args.ynn_convs)
  else:
    measure = _torch_shape
  shapes = SHAPES
  if args.shapes != "largest":
    shapes = tuple(
      (f"{n} x {hw}x{hw} {ci}->{co}", n, hw, ci, co)
      for n, hw, ci, co in LAYERS[args.shapes]
    )
  for name, n, hw, ci, co in shapes:
    flops = n * hw * hw * ci * co * 9 * 2
    for pas, sec in measure(n, hw, ci, co, args.reps).items():
      print(
        f"{args.backend:5s} {name:38s} {pas:11s} {flops / 1e9:5.1f} GFLOP"
        f" {sec:7.3f} s {flops / sec / 1e9:6.1f} GFLOP/s",
        flush=True,
      )


if __name__ == "__main__":
  main()
