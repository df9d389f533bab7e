"""Images from a trained G: many samples in batches, and latent interpolations.

  sampler = sampling.make_sampler(comps, mesh, batch_size=500)
  images = sampling.generate(comps, state, mesh, 10_000, 500, sampler=sampler)
  images, labels = sampling.generate(..., with_labels=True)   # Cond-GAN
  grid, labels = sampling.interpolate_codes(comps, state, mesh, 8, 10)
  sampling.sample_workdir("runs/x", out="samples.npz", grid="grid.png")

Every tool that draws samples (the periodic evaluation, `python -m
ssgan_jax.evaluate`, `python -m ssgan_jax.sample`, the experiment scripts)
uses these, so a seed means the same images everywhere: batch `i` takes its
codes from `fold_in(key(seed), i)`, whatever the number of samples.
"""

import os
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import tqdm
from absl import logging

from ssgan_jax import atomic
from ssgan_jax import errors
from ssgan_jax import images as images_lib
from ssgan_jax import sharding
from ssgan_jax import state as state_lib
from ssgan_jax import workdir as workdir_lib
from ssgan_jax.models import conv

# See state.EMA_BN_STATS: with ema.bn_stats='batch' EMA weights use the
# sampled batch's statistics, which are noisy below this many codes.
MIN_EMA_BATCH = 64
DEFAULT_BATCH_SIZE = 500
# How a Cond-GAN sampler picks the class of each sample.
#   uniform: drawn at random with the codes (the samples cover the classes
#     as a balanced dataset does; the evaluators' choice).
#   cycle: sample k of the whole stream draws class k mod K, so any K
#     consecutive samples hold every class once (grids, per-class files).
CLASS_ORDERS = ("uniform", "cycle")
# How sample files store images: as image files do, or exactly as G made them.
DTYPES = ("uint8", "float32")


def default_batch_size() -> int:
  """500 codes, rounded down to a multiple of the device count."""
  n = jax.device_count()
  return max(n, DEFAULT_BATCH_SIZE - DEFAULT_BATCH_SIZE % n)


def check_sampling(num_samples: int, batch_size: int, minimum: int = 1) -> None:
  """Sample count and batch size that the mesh can serve, or a UserError."""
  if num_samples < minimum:
    raise errors.UserError(
      f"--num_samples={num_samples} must be at least {minimum}"
      " (10000 for numbers worth comparing)."
    )
  n = jax.device_count()
  if batch_size <= 0 or batch_size % n:
    raise errors.UserError(
      f"--batch_size={batch_size} must be a positive multiple of the"
      f" {n} device(s), e.g. {max(n, batch_size - batch_size % n)}."
    )


def warn_small_ema_batch(
  comps: state_lib.Components, state: state_lib.GANState, batch_size: int
) -> None:
  if (
    state.g_ema is not None
    and comps.config.ema.bn_stats == "batch"
    and batch_size < MIN_EMA_BATCH
  ):
    logging.warning(
      "--batch_size=%d: the EMA generator normalises with each batch's own"
      " statistics (ema.bn_stats='batch'), which are noisy below %d codes;"
      " the scores may suffer.",
      batch_size,
      MIN_EMA_BATCH,
    )


def generator_weights(comps: state_lib.Components, state) -> str:
  """Which weights made the samples, as results record it."""
  if state.g_ema is None:
    return "live"
  return f"ema, {comps.config.ema.bn_stats} statistics"


def _jit(fn, mesh):
  return jax.jit(
    fn,
    out_shardings=sharding.replicated(mesh),
    compiler_options=conv.jit_options(mesh),
  )


def make_sampler(
  comps: state_lib.Components,
  mesh,
  batch_size: int,
  class_order: str = "uniform",
):
  """Jitted `(state, key, i) -> (images [B, H, W, C], labels [B] | None)`.

  The codes (and classes) of a batch are sharded over the mesh's `data`
  axis, so every device generates only its share, as in training; the
  images come back replicated, so that every process can read the whole
  batch (a batch-sharded array spans other processes' devices on a
  multi-host mesh). A batch that does not divide over the devices is
  generated whole on every device (correct, only slower).
  Build it once and pass it to `generate` for repeated evaluations: each
  new sampler is compiled again. `class_order`: see CLASS_ORDERS (Cond-GAN
  only).
  """
  if class_order not in CLASS_ORDERS:
    raise errors.UserError(
      f"class order {class_order!r} is unknown; known: {', '.join(CLASS_ORDERS)}."
    )
  config = comps.config
  n_data = sharding.data_size(mesh)
  shard = batch_size % n_data == 0
  if not shard:
    logging.warning(
      "Sampling batch %d does not divide over %d devices; every device"
      " generates the whole batch. Use a multiple of %d for speed.",
      batch_size,
      n_data,
      n_data,
    )

  def sample(st, key, i):
    key = jax.random.fold_in(key, i)
    z, y = state_lib.sample_latents(
      key, batch_size, config, comps.num_classes if comps.conditional else 0
    )  # [B, Z], [B] | None
    if y is not None and class_order == "cycle":
      y = (i * batch_size + jnp.arange(batch_size, dtype=jnp.int32)) % (
        comps.num_classes
      )  # [B]
    if shard:
      z = jax.lax.with_sharding_constraint(z, sharding.batch_sharding(mesh, 2))
      if y is not None:
        y = jax.lax.with_sharding_constraint(
          y, sharding.batch_sharding(mesh, 1)
        )
    return state_lib.generate_samples(comps, st, z, y), y

  def constrain(a):  # standing statistics' code batches: config.batch_size
    return jax.lax.with_sharding_constraint(
      a, sharding.batch_sharding(mesh, a.ndim)
    )

  standing = _jit(
    lambda st, key: state_lib.standing_state(comps, st, key, constrain), mesh
  )
  return Sampler(comps, _jit(sample, mesh), standing)


class Sampler:
  """`make_sampler`'s result: `prepare` a state once, then draw batches.

  `sampler.prepare(state, seed)` is the state to sample from: with an EMA
  and ema.bn_stats='standing', the EMA G with its standing statistics
  (state.standing_state, one jitted pass over ema.standing_batches code
  batches), else `state` itself. `sampler(prepared, key, i)` is batch `i`.
  """

  def __init__(self, comps, batch_fn, standing_fn):
    self._comps = comps
    self._batch = batch_fn
    self._standing = standing_fn

  def prepare(self, state: state_lib.GANState, seed: int):
    if not state_lib.uses_standing_stats(self._comps, state):
      return state
    return self._standing(state, state_lib.standing_key(seed))

  def __call__(self, state, key, i):
    return self._batch(state, key, i)


def generate(
  comps: state_lib.Components,
  state: state_lib.GANState,
  mesh,
  num_samples: int,
  batch_size: int,
  seed: int = 0,
  progress: bool = True,
  sampler=None,
  with_labels: bool = False,
):
  """`num_samples` images [N, H, W, C] from G, in batches over the mesh.

  Every batch has `batch_size` codes (the last one is cut afterwards), so
  the step compiles once and, for an EMA G with ema.bn_stats='batch', every
  image is normalised under the same conditions; with standing statistics
  (the default) they are computed once per call, from the codes of
  `state.standing_key(seed)`, and no image depends on the batch. Batch `i`
  uses the codes of `fold_in(key(seed), i)`: the same seed gives the same
  images whatever `num_samples` is. `sampler`: a `make_sampler` result for
  this mesh and batch size, to reuse its compilation (and choose the class
  order). With `with_labels`, returns (images, labels [N] int32), labels
  None for an unconditional G.
  """
  sample_fn = sampler or make_sampler(comps, mesh, batch_size)
  state = sample_fn.prepare(state, seed)
  key = jax.random.key(seed)
  images, labels = [], []
  with tqdm.tqdm(
    total=num_samples,
    desc="sampling",
    unit="img",
    disable=not progress,
    file=sys.stderr,
  ) as bar:
    for i, start in enumerate(range(0, num_samples, batch_size)):
      x, y = sharding.to_host(sample_fn(state, key, np.int32(i)))
      m = min(batch_size, num_samples - start)
      images.append(np.asarray(x[:m], np.float32))
      if y is not None:
        labels.append(np.asarray(y[:m], np.int32))
      bar.update(m)
  images = np.concatenate(images)
  if not with_labels:
    return images
  return images, (np.concatenate(labels) if labels else None)


def interpolate_codes(
  comps: state_lib.Components,
  state: state_lib.GANState,
  mesh,
  rows: int,
  cols: int,
  seed: int = 0,
):
  """Rows of images along straight lines between pairs of latent codes.

  Row r walks from code a_r to code b_r in `cols` equal steps (both ends
  included), so a smooth row shows a G that maps nearby codes to nearby
  images. A Cond-GAN row keeps one class, class r mod K.

  Returns:
    (images [rows * cols, H, W, C] in row order, labels [rows * cols] or
    None).
  """
  if rows < 1 or cols < 2:
    raise errors.UserError(
      f"--interpolate {rows}x{cols}: need at least 1 row and 2 columns."
    )
  config = comps.config
  k_a, k_b = jax.random.split(jax.random.key(seed))
  ends_a = state_lib.sample_z(k_a, rows, config)  # [R, Z]
  ends_b = state_lib.sample_z(k_b, rows, config)  # [R, Z]
  t = jnp.linspace(0.0, 1.0, cols)[None, :, None]  # [1, C, 1]
  z = (1.0 - t) * ends_a[:, None] + t * ends_b[:, None]  # [R, C, Z]
  z = z.reshape(rows * cols, -1)  # [R*C, Z]
  y = None
  if comps.conditional:
    y = jnp.repeat(jnp.arange(rows, dtype=jnp.int32) % comps.num_classes, cols)
  images = _jit(
    lambda st: state_lib.generate_samples(comps, st, z, y, standing_seed=seed),
    mesh,
  )(state)
  images = np.asarray(sharding.to_host(images), np.float32)
  return images, (None if y is None else np.asarray(y))


# --- Samples of a saved run (python -m ssgan_jax.sample) --------------------


def parse_grid_shape(text: str) -> tuple[int, int]:
  """'8x10' -> (8, 10): rows x columns, or a one-line UserError."""
  parts = text.lower().split("x")
  try:
    rows, cols = (int(p) for p in parts)
  except ValueError:
    rows = cols = 0
  if len(parts) != 2 or rows < 1 or cols < 2:
    raise errors.UserError(
      f"--interpolate={text!r} must be ROWSxCOLUMNS with at least 1 row and"
      " 2 columns, e.g. 8x10."
    )
  return rows, cols


def _check_output(path: str, suffix: str, flag: str) -> pathlib.Path:
  out = pathlib.Path(path)
  if out.suffix != suffix:
    raise errors.UserError(
      f"--{flag}={path} must end in {suffix} (e.g. {out.with_suffix(suffix)})."
    )
  parent = out.absolute().parent
  while not parent.exists():
    parent = parent.parent
  if not parent.is_dir() or not os.access(parent, os.W_OK):
    raise errors.UserError(
      f"--{flag}={path}: cannot create files under {parent} (not a writable"
      " directory)."
    )
  if out.is_dir():
    raise errors.UserError(f"--{flag}={path} is a directory; name a file.")
  return out


def sample_workdir(
  workdir: str | os.PathLike,
  out: str | None = None,
  grid: str | None = None,
  interpolate: str | None = None,
  interpolate_out: str | None = None,
  step: int | None = None,
  best: bool = False,
  num_samples: int = 10_000,
  grid_size: int = 64,
  batch_size: int | None = None,
  seed: int = 0,
  class_order: str = "cycle",
  dtype: str = "uint8",
  progress: bool = True,
  ema_bn_stats: str | None = None,
  live_weights: bool = False,
) -> dict:
  """Samples any run's checkpoint to files; returns what was written.

  Args:
    workdir: a training workdir (any dataset; nothing is scored here).
    out: .npz to write `num_samples` images to, key `images` ([N, H, W, C],
      uint8 0..255 or float32 in [-1, 1] by `dtype`), with `labels` [N] for
      a Cond-GAN, and the run's `step` and the `seed`. `python -m
      ssgan_jax.evaluate --images` (Fashion-MNIST) and `python -m
      ssgan_jax.evaluation.fid --images` read it as it is.
    grid: .png of the first `grid_size` samples (a Cond-GAN grid with
      `class_order` cycle has one class per column).
    interpolate: 'ROWSxCOLUMNS': a grid of latent interpolations, written
      to `interpolate_out` (.png).
    step, best: which checkpoint (default the newest; `best`: the one
      periodic evaluation kept).
    num_samples: images for `out`.
    grid_size: images in `grid`.
    batch_size: codes per device call (default `default_batch_size()`).
    seed: seed of the codes (and classes); the same seed gives the same
      images whatever the counts and as `python -m ssgan_jax.evaluate`.
    class_order: a Cond-GAN's classes, see CLASS_ORDERS.
    dtype: of the stored images, "uint8" (as image files hold them) or
      "float32" (exactly what G made, clipped to [-1, 1]).
    progress: tqdm bar on stderr.
    live_weights: sample G's live weights even when the run keeps an EMA.
    ema_bn_stats: how an EMA G normalises (state.EMA_BN_STATS); default
      the run's ema.bn_stats.

  Raises:
    errors.UserError: one line for every bad argument, before any file is
      written, and for every problem with the workdir.
  """
  # Every argument is checked before the run is loaded and any file written.
  if not (out or grid or interpolate):
    raise errors.UserError(
      "nothing to write: pass --out FILE.npz, --grid FILE.png and/or"
      " --interpolate RxC --interpolate_out FILE.png."
    )
  outputs = {}
  if out:
    outputs["out"] = _check_output(out, ".npz", "out")
  if grid:
    outputs["grid"] = _check_output(grid, ".png", "grid")
  shape = None
  if interpolate:
    shape = parse_grid_shape(interpolate)
    if not interpolate_out:
      raise errors.UserError(
        "--interpolate needs --interpolate_out FILE.png to write the grid to."
      )
    outputs["interpolate_out"] = _check_output(
      interpolate_out, ".png", "interpolate_out"
    )
  elif interpolate_out:
    raise errors.UserError(
      "--interpolate_out needs --interpolate ROWSxCOLUMNS (e.g. 8x10)."
    )
  paths = [p.absolute() for p in outputs.values()]
  if len(set(paths)) != len(paths):
    raise errors.UserError(
      "--out, --grid and --interpolate_out must name different files."
    )
  if class_order not in CLASS_ORDERS:
    raise errors.UserError(
      f"--class_order={class_order!r} is unknown; known:"
      f" {', '.join(CLASS_ORDERS)}."
    )
  if dtype not in DTYPES:
    raise errors.UserError(
      f"--dtype={dtype!r} is unknown; known: {', '.join(DTYPES)}."
    )
  if grid and grid_size < 1:
    raise errors.UserError(f"--grid_size={grid_size} must be at least 1.")
  if batch_size is None:
    batch_size = default_batch_size()
  check_sampling(num_samples if out else 1, batch_size)
  workdir_lib.check_weights_flags(live_weights, ema_bn_stats)

  run = workdir_lib.load(
    workdir,
    step,
    best,
    workdir_lib.load_components(workdir, ema_bn_stats),
    live=live_weights,
  )
  warn_small_ema_batch(run.comps, run.state, batch_size)
  result = {
    "workdir": str(run.workdir),
    "step": run.step,
    "checkpoint": (
      f"{workdir_lib.BEST_CHECKPOINT if best else workdir_lib.CHECKPOINTS}"
      f"/{run.step}"
    ),
    "generator_weights": generator_weights(run.comps, run.state),
    "seed": seed,
    "files": {},
  }
  count = max(num_samples if out else 0, grid_size if grid else 0)
  if count:
    sampler = make_sampler(run.comps, run.mesh, batch_size, class_order)
    images, labels = generate(
      run.comps,
      run.state,
      run.mesh,
      count,
      batch_size,
      seed,
      progress,
      sampler,
      with_labels=True,
    )
    if not np.all(np.isfinite(images)):
      raise errors.UserError(
        f"G at step {run.step} of {run.workdir} produces non-finite images;"
        " the run diverged before this checkpoint, sample an earlier --step."
      )
    images = np.clip(images, -1.0, 1.0)
    if out:
      _save_npz(outputs["out"], images[:num_samples], labels, dtype, result)
      result["files"]["out"] = str(outputs["out"])
      result["num_samples"] = num_samples
    if grid:
      cols = None
      if labels is not None and class_order == "cycle":
        cols = run.comps.num_classes
      images_lib.save_grid(images[:grid_size], outputs["grid"], cols=cols)
      result["files"]["grid"] = str(outputs["grid"])
  if shape:
    rows, cols = shape
    images, _ = interpolate_codes(
      run.comps, run.state, run.mesh, rows, cols, seed
    )
    images_lib.save_grid(
      np.clip(images, -1.0, 1.0), outputs["interpolate_out"], cols=cols
    )
    result["files"]["interpolate_out"] = str(outputs["interpolate_out"])
    result["interpolate"] = f"{rows}x{cols}"
  return result


def _save_npz(path, images, labels, dtype, meta) -> None:
  arrays = {
    "images": (
      images_lib.to_uint8(images) if dtype == "uint8" else images
    ),  # [N, H, W, C]
    "step": np.int64(meta["step"]),
    "seed": np.int64(meta["seed"]),
  }
  if labels is not None:
    arrays["labels"] = labels  # [N] int32
  try:
    with atomic.replacing(path) as tmp, open(tmp, "wb") as f:
      np.savez(f, **arrays)
  except OSError as e:
    raise errors.UserError(
      f"cannot write {path} ({e.strerror or errors.first_line(e)})."
    ) from None
