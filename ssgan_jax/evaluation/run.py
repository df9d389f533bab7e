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
import os
import pathlib
import zipfile

import numpy as np

from ssgan_jax import atomic
from ssgan_jax import errors
from ssgan_jax import preprocess
from ssgan_jax import sampling
from ssgan_jax import workdir as workdir_lib
from ssgan_jax.evaluation import classifier
from ssgan_jax.evaluation import evaluators
from ssgan_jax.evaluation import fid
from ssgan_jax.evaluation import fmnist
from ssgan_jax.evaluation import image_checks
from ssgan_jax.evaluation import inception

EVALUATORS = tuple(evaluators.EVALUATORS.names())
IMAGES_KEY = "images"
# Precision/recall take each set's k = 3 nearest neighbours, so a set needs
# at least k + 1 images; with fewer the metrics are undefined.
MIN_IMAGES = 4
_SIZE = fmnist.IMAGE_SIZE  # 32
_PAD = (_SIZE - 28) // 2  # Fashion-MNIST 28 -> 32, 2 pixels each side


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
      f"--images {path} is a damaged .npz archive ({errors.first_line(e)}); {how}."
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
        f"--images {path}: {IMAGES_KEY!r} cannot be read ({errors.first_line(e)});"
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
    return preprocess.to_float(_pad(images, 0))
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
  path: str | os.PathLike, reference: str = fmnist.DEFAULT_REFERENCE
) -> dict:
  """Scores the images of an .npz file against a real split."""
  split = fmnist.parse_reference(reference)
  images = load_images_file(path)
  result = fmnist.evaluate_images(images, reference_split=split)
  return {
    **result,
    "reference": reference,
    "source": "images",
    "images_file": str(pathlib.Path(path).absolute()),
  }


# --- A training run ----------------------------------------------------------


_INCEPTION_HINT = (
  "score it with --evaluator inception --inception_weights W.npz"
  " --reference_stats S.npz (see docs/fid.md)"
)


def check_fmnist_run(config, workdir: pathlib.Path) -> None:
  """A UserError unless the run makes images the offline metrics can score."""
  dc = config.dataset
  if dc.name != "fashion_mnist":
    raise errors.UserError(
      f"the run in {workdir} trained on {dc.name!r}; FD-FMNIST compares with"
      f" {' / '.join(fmnist.REFERENCES)} only, so {_INCEPTION_HINT}."
    )
  if (dc.image_size, dc.channels) != (_SIZE, 1):
    raise errors.UserError(
      f"the run in {workdir} makes {dc.image_size}x{dc.image_size}x"
      f"{dc.channels} images; the Fashion-MNIST classifier scores"
      f" {_SIZE}x{_SIZE}x1 images only; {_INCEPTION_HINT}."
    )


def check_sampling(num_samples: int, batch_size: int) -> None:
  """`sampling.check_sampling` with the metrics' minimum sample count."""
  sampling.check_sampling(num_samples, batch_size, MIN_IMAGES)


def evaluate_workdir(
  workdir: str | os.PathLike,
  step: int | None = None,
  num_samples: int = 10_000,
  batch_size: int | None = None,
  reference: str = fmnist.DEFAULT_REFERENCE,
  seed: int = 0,
  progress: bool = True,
  best: bool = False,
  evaluator: str | None = None,
  inception_weights: str | None = None,
  reference_stats: str | None = None,
  ema_bn_stats: str | None = None,
  live_weights: bool = False,
) -> tuple[dict, pathlib.Path]:
  """Samples a run's checkpoint and scores the samples.

  Args:
    workdir: a training workdir (config.json and checkpoints/<step>/).
    step: checkpoint to score; default the newest.
    num_samples: images to draw (10k as for the paper's numbers).
    batch_size: codes per device call, a multiple of the device count;
      default `sampling.default_batch_size()` (500 rounded down to one).
    reference: real split to compare with, "fashion_mnist:test" or
      "fashion_mnist:train".
    seed: seed of the latent codes.
    progress: show a tqdm bar on stderr while sampling.
    best: score the best checkpoint periodic evaluation kept
      (`best_checkpoint/`) instead of one of `checkpoints/`.
    evaluator: "fmnist" (FD-FMNIST and friends, offline) or "inception"
      (FID / IS / KID); default fmnist for a Fashion-MNIST run, else the
      run's eval.evaluator.
    inception_weights, reference_stats: the inception evaluator's files;
      default the run's eval.inception_weights / eval.reference_stats.
    ema_bn_stats: how an EMA G normalises its samples
      (state.EMA_BN_STATS); default the run's ema.bn_stats.
    live_weights: sample G's live weights even when the run keeps an EMA.

  Returns:
    (result, path): the evaluator's dict plus the run's `workdir`, `step`
    and how the images were made, and the JSON file it was written to,
    `<workdir>/eval/step_<step>.json` (fmnist) or
    `<workdir>/eval/inception_step_<step>.json`; with `live_weights` the
    names start with `live_`, with `ema_bn_stats` with `ema_<stats>_`
    (e.g. `ema_batch_step_<step>.json`), so that they do not replace the
    scores of G sampled as the run's config says.

  Raises:
    errors.UserError: one line for every problem with the arguments, the
      workdir or its checkpoints.
  """
  if evaluator is not None and evaluator not in EVALUATORS:
    raise errors.UserError(
      f"--evaluator={evaluator!r} is unknown; known: {', '.join(EVALUATORS)}."
    )
  if evaluator is not None and evaluators.EVALUATORS.get(evaluator).reads != (
    "samples"
  ):
    raise errors.UserError(
      f"--evaluator={evaluator!r} scores no samples; use probe_run.probe_workdir"
      " (python -m ssgan_jax.evaluate --evaluator probe)."
    )
  if batch_size is None:
    batch_size = sampling.default_batch_size()
  check_sampling(num_samples, batch_size)
  workdir_lib.check_weights_flags(live_weights, ema_bn_stats)
  workdir, config, comps = workdir_lib.load_components(workdir, ema_bn_stats)
  if evaluator is None:
    fmnist_run = config.dataset.name == "fashion_mnist"
    evaluator = "fmnist" if fmnist_run else config.eval.evaluator
  files = (("inception_weights", inception_weights),)
  files += (("reference_stats", reference_stats),)
  if evaluator == "fmnist":
    given = [f"--{name}" for name, value in files if value]
    if given:
      raise errors.UserError(
        f"{', '.join(given)} {'belongs' if len(given) == 1 else 'belong'} to"
        " --evaluator inception; FD-FMNIST uses the committed classifier."
      )
    split = fmnist.parse_reference(reference)
    check_fmnist_run(config, workdir)
    score = functools.partial(fmnist.evaluate_images, reference_split=split)
    name = "step_{}.json"
  else:
    if reference != fmnist.DEFAULT_REFERENCE:
      raise errors.UserError(
        "--reference names a Fashion-MNIST split of --evaluator fmnist; the"
        " inception evaluator compares with --reference_stats."
      )
    ec = config.eval
    weights = inception_weights or ec.inception_weights
    stats_path = reference_stats or ec.reference_stats
    for flag, value in (
      ("inception_weights", weights),
      ("reference_stats", stats_path),
    ):
      if not value:
        raise errors.UserError(
          f"--evaluator inception needs --{flag} (the run's config sets no"
          f" eval.{flag}; see docs/fid.md)."
        )
    variables = inception.load_params(weights)
    stats = fid.load_stats(stats_path, variables)
    reference = str(pathlib.Path(stats_path).absolute())

    def score(images):
      return fid.evaluate_images(images, stats, variables)

    name = "inception_step_{}.json"
  # Scores of G sampled otherwise than the run's config says are kept
  # apart from the run's own.
  if live_weights:
    name = "live_" + name
  elif ema_bn_stats is not None:
    name = f"ema_{ema_bn_stats}_" + name
  run = workdir_lib.load(
    workdir, step, best, (workdir, config, comps), live=live_weights
  )
  state, step = run.state, run.step
  sampling.warn_small_ema_batch(comps, state, batch_size)
  samples = sampling.generate(
    comps, state, run.mesh, num_samples, batch_size, seed, progress
  )
  if not np.all(np.isfinite(samples)):
    raise errors.UserError(
      f"G at step {step} of {workdir} produces non-finite images; the run"
      " diverged before this checkpoint, score an earlier --step."
    )
  result = {
    **score(np.clip(samples, -1.0, 1.0)),
    "evaluator": evaluator,
    "reference": reference,
    "source": "generator",
    "workdir": str(workdir),
    "step": step,
    "generator_weights": sampling.generator_weights(comps, state),
    "checkpoint": (
      f"{workdir_lib.BEST_CHECKPOINT if best else workdir_lib.CHECKPOINTS}"
      f"/{step}"
    ),
    "sample_seed": seed,
    "sample_batch_size": batch_size,
  }
  path = workdir / "eval" / name.format(step)
  result["result_file"] = str(path)
  try:
    atomic.write_json(path, result)
  except OSError as e:
    raise errors.UserError(
      f"cannot write {path} ({e.strerror or errors.first_line(e)})."
    ) from None
  return result, path


# --- Command line ------------------------------------------------------------


def evaluate(
  workdir: str | None = None,
  images: str | None = None,
  reference: str = fmnist.DEFAULT_REFERENCE,
  step: int | None = None,
  num_samples: int | None = None,
  batch_size: int | None = None,
  seed: int | None = None,
  progress: bool = True,
  best: bool = False,
  evaluator: str | None = None,
  inception_weights: str | None = None,
  reference_stats: str | None = None,
  ema_bn_stats: str | None = None,
  live_weights: bool = False,
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
        ("best", best or None),
        ("evaluator", evaluator),
        ("inception_weights", inception_weights),
        ("reference_stats", reference_stats),
        ("ema_bn_stats", ema_bn_stats),
        ("live_weights", live_weights or None),
      )
      if v is not None
    ]
    if given:
      raise errors.UserError(
        f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only"
        " with --workdir; --images scores the file's images as they are"
        " with FD-FMNIST (Inception FID of a file: python -m"
        " ssgan_jax.evaluation.fid --images)."
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
    best=best,
    evaluator=evaluator,
    inception_weights=inception_weights,
    reference_stats=reference_stats,
    ema_bn_stats=ema_bn_stats,
    live_weights=live_weights,
  )
  return result


def summary(result: dict) -> str:
  """Human-readable lines; every number names N and the reference split."""
  if result.get("evaluator") == "inception":
    return "\n".join(
      [
        f"Scored {result['num_images']} samples of {result['workdir']} at step"
        f" {result['step']} (G weights: {result['generator_weights']})"
        f" against {result['reference']}.",
        fid.summary(result),
        f"Written to {result['result_file']}.",
      ]
    )
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
  if "result_file" in result:
    lines.append(f"Written to {result['result_file']}.")
  return "\n".join(lines)
