"""Scores a training run or a file of images with the offline FD-FMNIST metrics.

  from ssgan_jax.evaluation import run
  result, path = run.evaluate_workdir("runs/fmnist_ssgan")  # latest step
  result = run.evaluate_file("samples.npz")                 # key "images"
  print(run.summary(result))

`evaluate_workdir` rebuilds the run from `<workdir>/config.json`, restores a
checkpoint, draws samples from G (the EMA weights when the run keeps them)
and writes the numbers to `<workdir>/eval/step_<N>.json`. `evaluate_file`
scores images someone else produced. Both return the flat dict of
`fmnist.evaluate_images` plus where the images came from; every number is
in the committed classifier's features, so it is FD-FMNIST, never FID.

Every mistake in the inputs raises `errors.UserError` with one line.
"""

import functools
import json
import os
import pathlib
import sys
import zipfile

import jax
import ml_collections
import numpy as np
import tqdm
from absl import logging

from configs import common
from ssgan_jax import checkpointing
from ssgan_jax import config_lib
from ssgan_jax import errors
from ssgan_jax import input_pipeline
from ssgan_jax import sharding
from ssgan_jax import state as state_lib
from ssgan_jax.evaluation import classifier
from ssgan_jax.evaluation import fmnist
from ssgan_jax.evaluation import image_checks
from ssgan_jax.models import conv

REFERENCES = ("fashion_mnist:test", "fashion_mnist:train")
DEFAULT_REFERENCE = REFERENCES[0]
IMAGES_KEY = "images"
# Precision/recall take each set's k = 3 nearest neighbours, so a set needs
# at least k + 1 images; with fewer the metrics are undefined.
MIN_IMAGES = 4
_SIZE = fmnist.IMAGE_SIZE  # 32
_PAD = (_SIZE - 28) // 2  # Fashion-MNIST 28 -> 32, 2 pixels each side
# See state.generate_samples: EMA weights use the sampled batch's statistics.
_MIN_EMA_BATCH = 64
DEFAULT_BATCH_SIZE = 500


def _first_line(e: BaseException) -> str:
  text = str(e).strip().splitlines()
  detail = text[0][:200] if text else ""
  return f"{type(e).__name__}: {detail}" if detail else type(e).__name__


def parse_reference(reference: str) -> str:
  """'fashion_mnist:test' -> 'test'; anything else is a one-line UserError."""
  if reference not in REFERENCES:
    raise errors.UserError(
      f"--reference={reference!r} is not available offline; only"
      f" {' / '.join(REFERENCES)} are (the embedded Fashion-MNIST splits)."
    )
  return reference.split(":", 1)[1]


# --- Images from a file ------------------------------------------------------


def _read_npz_images(path: pathlib.Path) -> np.ndarray:
  """The raw `images` array of an .npz file, or a one-line UserError."""
  if not path.exists():
    hint = ""
    if path.with_name(path.name + ".npz").is_file():
      hint = f" (did you mean {path}.npz? np.savez adds .npz to the name)"
    raise errors.UserError(f"--images {path} does not exist{hint}.")
  if not path.is_file():
    raise errors.UserError(f"--images {path} is not a file.")
  how = f"save one with np.savez({str(path)!r}, {IMAGES_KEY}=array)"
  with open(path, "rb") as f:
    magic = f.read(6)
  if magic == b"\x93NUMPY":
    raise errors.UserError(
      f"--images {path} is a single .npy array, not an .npz archive; {how}."
    )
  if not magic.startswith(b"PK"):
    raise errors.UserError(
      f"--images {path} is not an .npz archive (not a zip file); {how}."
    )
  try:
    archive = np.load(path, allow_pickle=False)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.UserError(
      f"--images {path} is a damaged .npz archive ({_first_line(e)}); {how}."
    ) from None
  with archive:
    if IMAGES_KEY not in archive.files:
      found = ", ".join(repr(k) for k in archive.files) or "none"
      raise errors.UserError(
        f"--images {path} has no {IMAGES_KEY!r} array (keys found: {found});"
        f" {how}."
      )
    try:
      return archive[IMAGES_KEY]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
      raise errors.UserError(
        f"--images {path}: {IMAGES_KEY!r} cannot be read ({_first_line(e)});"
        " store a plain uint8 or float array."
      ) from None


def check_images(images: np.ndarray, name: str = "images") -> np.ndarray:
  """Validates images and returns them as float32 [N, 32, 32, 1] in [-1, 1].

  Args:
    images: uint8 in 0..255 or float in [-1, 1], shaped [N, 32, 32, 1],
      [N, 28, 28, 1] or [N, 28, 28]. 28x28 images are padded to 32x32 with
      the background (uint8 0, float -1), as the training data is.
    name: how to call the array in messages.

  Returns:
    float32 [N, 32, 32, 1] in [-1, 1].

  Raises:
    errors.UserError: one line per problem (shape, dtype, values, count).
  """
  images = np.asarray(images)
  shape = images.shape
  if shape[1:] == (28, 28):
    images = images[..., None]
  if images.ndim != 4 or images.shape[1:] not in ((32, 32, 1), (28, 28, 1)):
    hint = ""
    if len(shape) == 4 and shape[1] == 1 and shape[2:] in ((28, 28), (32, 32)):
      hint = " (channels-first? transpose to [N, H, W, 1])"
    raise errors.UserError(
      f"{name} has shape {shape}; expected [N, 32, 32, 1], [N, 28, 28, 1] or"
      f" [N, 28, 28] grey Fashion-MNIST-sized images{hint}."
    )
  is_float = np.issubdtype(images.dtype, np.floating)
  if images.dtype != np.uint8 and not is_float:
    raise errors.UserError(
      f"{name} has dtype {images.dtype}; use uint8 in 0..255 or float in"
      " [-1, 1]."
    )
  if len(images) < MIN_IMAGES:
    raise errors.UserError(
      f"{name} holds {len(images)} image(s); at least {MIN_IMAGES} are needed"
      " (precision/recall use 3 nearest neighbours; use thousands for"
      " numbers worth comparing)."
    )
  if not is_float:
    return input_pipeline.to_float(_pad(images, 0))
  images = image_checks.checked_float_images(
    images, name, "the background must be -1"
  )
  return _pad(images, -1.0)


def _pad(images: np.ndarray, background) -> np.ndarray:
  if images.shape[1] == _SIZE:
    return images
  return np.pad(
    images,
    ((0, 0), (_PAD, _PAD), (_PAD, _PAD), (0, 0)),
    constant_values=background,
  )


def load_images_file(path: str | os.PathLike) -> np.ndarray:
  """Reads `images` from an .npz file as float32 [N, 32, 32, 1] in [-1, 1]."""
  path = pathlib.Path(path)
  return check_images(_read_npz_images(path), f"{IMAGES_KEY!r} in {path}")


def evaluate_file(
  path: str | os.PathLike, reference: str = DEFAULT_REFERENCE
) -> dict:
  """Scores the images of an .npz file against a real split."""
  split = parse_reference(reference)
  images = load_images_file(path)
  result = fmnist.evaluate_images(images, reference_split=split)
  return {
    **result,
    "reference": reference,
    "source": "images",
    "images_file": str(pathlib.Path(path).absolute()),
  }


# --- A training run ----------------------------------------------------------


def _tuples(value):
  """JSON lists back to the tuples the config held (e.g. mesh.shape)."""
  if isinstance(value, dict):
    return {k: _tuples(v) for k, v in value.items()}
  if isinstance(value, list):
    return tuple(_tuples(v) for v in value)
  return value


# Config fields added after runs were already being written, with the value
# that gives the behaviour of the versions before them, so that an older
# workdir can still be sampled and scored. Older runs trained at a constant
# rate, so decay_start is unused and takes the base config's default.
_ADDED_FIELDS = {
  **{("optimizer", net, "schedule"): "constant" for net in ("g", "d")},
  **{
    ("optimizer", net, "decay_start"): common.base().optimizer[net].decay_start
    for net in ("g", "d")
  },
}


def _with_added_fields(raw: dict) -> dict:
  for keys, value in _ADDED_FIELDS.items():
    block = raw
    for key in keys[:-1]:
      block = block.get(key)
      if not isinstance(block, dict):
        break
    else:
      block.setdefault(keys[-1], value)
  return raw


def load_config(workdir: pathlib.Path) -> ml_collections.ConfigDict:
  """The resolved config that train.py wrote to `workdir/config.json`."""
  if not workdir.is_dir():
    raise errors.UserError(
      f"--workdir {workdir} does not exist or is not a directory."
    )
  path = workdir / "config.json"
  if not path.is_file():
    raise errors.UserError(
      f"--workdir {workdir} has no config.json; pass the directory of a run"
      " made with `python -m ssgan_jax.main --workdir ...`."
    )
  try:
    raw = json.loads(path.read_text())
  except (OSError, UnicodeDecodeError, ValueError) as e:
    raise errors.UserError(
      f"{path} cannot be read ({_first_line(e)}); restore it from the run."
    ) from None
  if not isinstance(raw, dict):
    raise errors.UserError(f"{path} does not hold a config (a JSON object).")
  return ml_collections.ConfigDict(_tuples(_with_added_fields(raw)))


def _check_fmnist_run(config, workdir: pathlib.Path) -> None:
  dc = config.dataset
  if dc.name != "fashion_mnist":
    raise errors.UserError(
      f"the run in {workdir} trained on {dc.name!r}; only"
      f" {' / '.join(REFERENCES)} are available offline, so only Fashion-MNIST"
      " runs can be scored."
    )
  if (dc.image_size, dc.channels) != (_SIZE, 1):
    raise errors.UserError(
      f"the run in {workdir} makes {dc.image_size}x{dc.image_size}x"
      f"{dc.channels} images; the Fashion-MNIST classifier scores"
      f" {_SIZE}x{_SIZE}x1 images only."
    )


def _build(config, workdir: pathlib.Path):
  """Validated components, or a UserError naming config.json."""
  try:
    config_lib.validate(config)
    return state_lib.build_components(config)
  except errors.UserError as e:
    raise errors.UserError(f"{workdir}/config.json: {e}") from None
  except (KeyError, AttributeError, TypeError, ValueError) as e:
    raise errors.UserError(
      f"{workdir}/config.json does not describe a run of this version of"
      f" ssgan_jax ({_first_line(e)})."
    ) from None


def _mesh(config, workdir: pathlib.Path):
  try:
    return sharding.make_mesh(config.mesh)
  except errors.UserError as e:
    raise errors.UserError(
      f"the mesh in {workdir}/config.json does not fit this machine: {e}"
    ) from None


def _restore(workdir: pathlib.Path, step: int | None, abstract, mesh):
  """(state, step) from `workdir/checkpoints`, or a one-line UserError."""
  directory = workdir / "checkpoints"
  if not directory.is_dir():
    raise errors.UserError(
      f"{directory} does not exist; the run has saved no checkpoint yet."
    )
  ckpt = checkpointing.Checkpointer(directory)
  try:
    steps = ckpt.all_steps()
    if not steps:
      raise errors.UserError(
        f"{directory} holds no checkpoint; the run has saved none yet."
      )
    if step is None:
      step = steps[-1]
    elif step not in steps:
      raise errors.UserError(
        f"no checkpoint for --step={step} in {directory}; available steps:"
        f" {', '.join(map(str, steps))}."
      )
    target = checkpointing.abstract_with_shardings(
      abstract, sharding.replicated(mesh)
    )
    try:
      state = ckpt.restore(step, target)
    except errors.UserError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      raise errors.UserError(
        f"checkpoint {directory}/{step} cannot be read ({_first_line(e)});"
        f" pick another with --step (available: {', '.join(map(str, steps))})."
      ) from None
  finally:
    ckpt.close()
  return state, step


def default_batch_size() -> int:
  """500 codes, rounded down to a multiple of the device count."""
  n = jax.device_count()
  return max(n, DEFAULT_BATCH_SIZE - DEFAULT_BATCH_SIZE % n)


def check_sampling(num_samples: int, batch_size: int) -> None:
  """Sample count and batch size that the mesh can serve, or a UserError."""
  if num_samples < MIN_IMAGES:
    raise errors.UserError(
      f"--num_samples={num_samples} must be at least {MIN_IMAGES}"
      " (10000 for numbers worth comparing)."
    )
  n = jax.device_count()
  if batch_size <= 0 or batch_size % n:
    raise errors.UserError(
      f"--batch_size={batch_size} must be a positive multiple of the"
      f" {n} device(s), e.g. {max(n, batch_size - batch_size % n)}."
    )


def make_sampler(comps: state_lib.Components, mesh, batch_size: int):
  """Jitted `(state, key, i) -> images [batch_size, H, W, C]` over `mesh`.

  The codes (and classes) of a batch are sharded over the mesh's `data`
  axis, so every device generates only its share, as in training; the
  images come back replicated, so that every process can read the whole
  batch (a batch-sharded array spans other processes' devices on a
  multi-host mesh). A batch that does not divide over the devices is
  generated whole on every device (correct, only slower).
  Build it once and pass it to `generate` for repeated evaluations: each
  new sampler is compiled again.
  """
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
    y = None
    if comps.conditional:
      key, k_y = jax.random.split(key)
      y = jax.random.randint(
        k_y, (batch_size,), 0, comps.num_classes, np.int32
      )  # [batch_size]
    z = state_lib.sample_z(key, batch_size, config)  # [batch_size, Z]
    if shard:
      z = jax.lax.with_sharding_constraint(z, sharding.batch_sharding(mesh, 2))
      if y is not None:
        y = jax.lax.with_sharding_constraint(
          y, sharding.batch_sharding(mesh, 1)
        )
    return state_lib.generate_samples(comps, st, z, y)

  return jax.jit(
    sample,
    out_shardings=sharding.replicated(mesh),
    compiler_options=conv.jit_options(mesh),
  )


def generate(
  comps: state_lib.Components,
  state: state_lib.GANState,
  mesh,
  num_samples: int,
  batch_size: int,
  seed: int = 0,
  progress: bool = True,
  sampler=None,
) -> np.ndarray:
  """`num_samples` images [N, H, W, C] from G, in batches over the mesh.

  Every batch has `batch_size` codes (the last one is cut afterwards), so
  with an EMA, whose BatchNorm uses the batch's own statistics, every image
  is made under the same conditions and the step compiles once. Batch `i`
  uses the codes of `fold_in(key(seed), i)`: the same seed gives the same
  images whatever `num_samples` is. A Cond-GAN's batch splits that key into
  codes and classes, drawn uniformly, so the samples cover the classes as
  a balanced dataset does. `sampler`: a `make_sampler` result for this
  mesh and batch size, to reuse its compilation.
  """
  sample_fn = sampler or make_sampler(comps, mesh, batch_size)
  key = jax.random.key(seed)
  out = []
  with tqdm.tqdm(
    total=num_samples,
    desc="sampling",
    unit="img",
    disable=not progress,
    file=sys.stderr,
  ) as bar:
    for i, start in enumerate(range(0, num_samples, batch_size)):
      images = sharding.to_host(sample_fn(state, key, np.int32(i)))
      m = min(batch_size, num_samples - start)
      out.append(np.asarray(images[:m], np.float32))
      bar.update(m)
  return np.concatenate(out)


def write_json_atomic(path: pathlib.Path, obj) -> None:
  """Writes `obj` to a temporary file and renames it over `path`."""
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
  tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
  os.replace(tmp, path)


def evaluate_workdir(
  workdir: str | os.PathLike,
  step: int | None = None,
  num_samples: int = 10_000,
  batch_size: int | None = None,
  reference: str = DEFAULT_REFERENCE,
  seed: int = 0,
  progress: bool = True,
) -> tuple[dict, pathlib.Path]:
  """Samples a run's checkpoint and scores the samples.

  Args:
    workdir: a training workdir (config.json and checkpoints/<step>/).
    step: checkpoint to score; default the newest.
    num_samples: images to draw (10k as for the paper's numbers).
    batch_size: codes per device call, a multiple of the device count;
      default `default_batch_size()` (500 rounded down to one).
    reference: real split to compare with, "fashion_mnist:test" or
      "fashion_mnist:train".
    seed: seed of the latent codes.
    progress: show a tqdm bar on stderr while sampling.

  Returns:
    (result, path): the `fmnist.evaluate_images` dict plus the run's
    `workdir`, `step` and how the images were made, and the JSON file it
    was written to, `<workdir>/eval/step_<step>.json`.

  Raises:
    errors.UserError: one line for every problem with the arguments, the
      workdir or its checkpoints.
  """
  split = parse_reference(reference)
  if batch_size is None:
    batch_size = default_batch_size()
  check_sampling(num_samples, batch_size)
  if step is not None and step < 0:
    raise errors.UserError(f"--step={step} must be >= 0.")
  workdir = pathlib.Path(workdir).absolute()
  config = load_config(workdir)
  _check_fmnist_run(config, workdir)
  comps = _build(config, workdir)
  mesh = _mesh(config, workdir)
  abstract = jax.eval_shape(
    functools.partial(state_lib.init_state, comps), jax.random.key(0)
  )
  state, step = _restore(workdir, step, abstract, mesh)
  if state.g_ema is not None and batch_size < _MIN_EMA_BATCH:
    logging.warning(
      "--batch_size=%d: the EMA generator normalises with each batch's own"
      " statistics, which are noisy below %d codes; the scores may suffer.",
      batch_size,
      _MIN_EMA_BATCH,
    )
  samples = generate(
    comps, state, mesh, num_samples, batch_size, seed, progress
  )
  if not np.all(np.isfinite(samples)):
    raise errors.UserError(
      f"G at step {step} of {workdir} produces non-finite images; the run"
      " diverged before this checkpoint, score an earlier --step."
    )
  result = fmnist.evaluate_images(
    np.clip(samples, -1.0, 1.0), reference_split=split
  )
  result = {
    **result,
    "reference": reference,
    "source": "generator",
    "workdir": str(workdir),
    "step": step,
    "generator_weights": (
      "ema, batch statistics" if state.g_ema is not None else "live"
    ),
    "sample_seed": seed,
    "sample_batch_size": batch_size,
  }
  path = workdir / "eval" / f"step_{step}.json"
  try:
    write_json_atomic(path, result)
  except OSError as e:
    raise errors.UserError(
      f"cannot write {path} ({e.strerror or _first_line(e)})."
    ) from None
  return result, path


# --- Command line ------------------------------------------------------------


def evaluate(
  workdir: str | None = None,
  images: str | None = None,
  reference: str = DEFAULT_REFERENCE,
  step: int | None = None,
  num_samples: int | None = None,
  batch_size: int | None = None,
  seed: int | None = None,
  progress: bool = True,
) -> dict:
  """What `python -m ssgan_jax.evaluate` does; None means "flag not given".

  Exactly one of `workdir` and `images`; the sampling options belong to
  `workdir` only.
  """
  if bool(workdir) == bool(images):
    raise errors.UserError(
      "pass exactly one of --workdir DIR (score a run's checkpoint) or"
      " --images FILE.npz (score images from a file)."
    )
  if images:
    given = [
      f"--{k}"
      for k, v in (
        ("step", step),
        ("num_samples", num_samples),
        ("batch_size", batch_size),
        ("seed", seed),
      )
      if v is not None
    ]
    if given:
      raise errors.UserError(
        f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only"
        " with --workdir; --images scores the file's images as they are."
      )
    return evaluate_file(images, reference)
  result, _ = evaluate_workdir(
    workdir,
    step=step,
    num_samples=10_000 if num_samples is None else num_samples,
    batch_size=batch_size,
    reference=reference,
    seed=0 if seed is None else seed,
    progress=progress,
  )
  return result


def summary(result: dict) -> str:
  """Human-readable lines; every number names N and the reference split."""
  n, ref = result["num_images"], result["reference"]
  tag = f"[N={n} vs {ref}]"
  if result["source"] == "generator":
    what = (
      f"{n} samples of {result['workdir']} at step {result['step']}"
      f" (G weights: {result['generator_weights']})"
    )
  else:
    what = f"{n} images from {result['images_file']}"
  lines = [
    f"Scored {what} against {ref} ({result['num_reference']} real images),",
    f"in the features of {result['network']}. FD-FMNIST is not FID.",
    f"  fd_fmnist   {result['fd_fmnist']:.4f}  {tag}",
    f"  kid         {result['kid_mean']:.5f} +- {result['kid_std']:.5f}"
    f" (subsets of {result['kid_subset_size']})  {tag}",
    f"  precision   {result['precision']:.4f} (k={result['pr_k']})  {tag}",
    f"  recall      {result['recall']:.4f} (k={result['pr_k']})  {tag}",
    f"  coverage    {result['coverage_classes']}/{classifier.NUM_CLASSES}"
    " classes, TV from uniform"
    f" {result['coverage_tv']:.4f}, rarest class"
    f" {result['min_class_fraction']:.3f}  {tag}",
    f"  is_fmnist   {result['is_fmnist']:.4f}  {tag}",
  ]
  if "step" in result:
    lines.append(
      f"Written to {result['workdir']}/eval/step_{result['step']}.json."
    )
  return "\n".join(lines)
