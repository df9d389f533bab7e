"""Standard FID, Inception Score and KID in the FID Inception network.

  python -m ssgan_jax.evaluation.fid --inception fid_inception.npz \
      --make_stats --images cifar10_test.npz --out cifar10_test_stats.npz
  python -m ssgan_jax.evaluation.fid --inception fid_inception.npz \
      --make_stats --config configs/cifar10_ssgan.py --out cifar10_test.npz
  python -m ssgan_jax.evaluation.fid --inception fid_inception.npz \
      --images samples.npz --stats cifar10_test_stats.npz

  from ssgan_jax.evaluation import fid, inception
  variables = inception.load_params("fid_inception.npz")
  stats = fid.load_stats("cifar10_test_stats.npz", variables)
  result = fid.evaluate_images(samples, stats, variables)  # [N, H, W, C]
  result["fid"], result["inception_score"], result["kid_mean"], ...

Reference statistics (mean and covariance of the real images' pool3
features) are computed once and saved, from an .npz of images or from an
experiment config's dataset (`--config`: its `dataset.eval_split`, or
`--split`, read and preprocessed for evaluation by the project's own input
pipeline, so that the statistics see exactly what the run's evaluations
compare with); scoring a sample set then costs
only its own features. A stats file names the network that made it (the
weights' checksum and input size) and is refused by another network.

KID needs the reference *features*, not only their moments. They are kept
in the stats file when there are at most `MAX_KEPT_FEATURES` (10,000, the
CIFAR-10 test split: 82 MB as float32, which is exactly what the network
produces); for larger references pass `keep_features=True` (or
`--keep_features=yes`) or KID is left out of the result.

The numbers follow pytorch-fid's network and preprocessing; see docs/fid.md
for how they relate to the TF numbers in papers (compare_gan, TF-GAN).
"""

import hashlib
import json
import os
import pathlib
import sys
import zipfile
from collections.abc import Iterable
from typing import Any

import numpy as np
import scipy.special
from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from ssgan_jax import atomic
from ssgan_jax import cli
from ssgan_jax import errors
from ssgan_jax import input_pipeline
from ssgan_jax.evaluation import image_checks
from ssgan_jax.evaluation import inception
from ssgan_jax.evaluation import metrics

STATS_FORMAT = "ssgan_jax/fid_stats/v1"
MAX_KEPT_FEATURES = 10_000
IMAGES_KEY = "images"
MIN_IMAGES = 2  # a covariance needs two; thousands are needed for meaning
_STATS_KEYS = (
  "format",
  "mu",
  "sigma",
  "n",
  "feature_sha256",
  "network",
  "resize_to",
)

Stats = dict[str, Any]


def features_sha256(features: np.ndarray) -> str:
  """sha256 of the float64 C-order bytes of [N, 2048] features.

  Equal only for the same images, weights, preprocessing *and* backend
  (CPU and GPU round differently), so it records what produced a stats
  file rather than being checked against anything.
  """
  data = np.ascontiguousarray(features, dtype="<f8")
  return hashlib.sha256(data.tobytes()).hexdigest()


# --- Images ------------------------------------------------------------------


def check_images(
  images: np.ndarray, name: str = "images", min_images: int = MIN_IMAGES
) -> np.ndarray:
  """Validates images for the Inception network; returns them unconverted.

  Args:
    images: [N, H, W, C] with C in {1, 3} (or [N, H, W] grey); uint8 in
      0..255 or float in [-1, 1]. Any size: they are resized to 299.
    name: how to call the array in messages.
    min_images: fewest images accepted.

  Returns:
    uint8 as given, or float32 clipped to [-1, 1]; [N, H, W, C]. Conversion
    to float happens per batch, so 50k uint8 images stay 4x smaller.

  Raises:
    errors.UserError: one line per problem (shape, dtype, values, count).
  """
  images = np.asarray(images)
  if images.ndim == 3:
    images = images[..., None]
  shape = images.shape
  if images.ndim != 4 or shape[-1] not in (1, 3):
    hint = ""
    if images.ndim == 4 and shape[1] in (1, 3):
      hint = " (channels-first? transpose to [N, H, W, C])"
    raise errors.UserError(
      f"{name} has shape {shape}; expected [N, H, W, 3], [N, H, W, 1] or"
      f" [N, H, W] images{hint}."
    )
  if len(images) < min_images:
    raise errors.UserError(
      f"{name} holds {len(images)} image(s); at least {min_images} are needed"
      " (10000 for numbers worth comparing)."
    )
  if images.dtype == np.uint8:
    return images
  if not np.issubdtype(images.dtype, np.floating):
    raise errors.UserError(
      f"{name} has dtype {images.dtype}; use uint8 in 0..255 or float in"
      " [-1, 1]."
    )
  return image_checks.checked_float_images(
    images, name, "otherwise every FID is far off"
  )


def load_images_npz(path: str | os.PathLike) -> np.ndarray:
  """The checked `images` array of an .npz file, or a one-line UserError."""
  path = pathlib.Path(path)
  how = f"save one with np.savez({str(path)!r}, {IMAGES_KEY}=array)"
  if not path.is_file():
    hint = ""
    if path.with_name(path.name + ".npz").is_file():
      hint = f" (did you mean {path}.npz?)"
    what = "is not a file" if path.exists() else "does not exist"
    raise errors.UserError(f"--images {path} {what}{hint}.")
  with open(path, "rb") as f:
    magic = f.read(6)
  if not magic.startswith(b"PK"):
    kind = "a single .npy array" if magic == b"\x93NUMPY" else "not a zip"
    raise errors.UserError(
      f"--images {path} is not an .npz archive ({kind}); {how}."
    )
  try:
    with np.load(path, allow_pickle=False) as archive:
      if IMAGES_KEY not in archive.files:
        found = ", ".join(repr(k) for k in archive.files) or "none"
        raise errors.UserError(
          f"--images {path} has no {IMAGES_KEY!r} array (keys: {found}); {how}."
        )
      images = archive[IMAGES_KEY]
  except errors.UserError:
    raise
  except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
    raise errors.UserError(
      f"--images {path} cannot be read ({errors.first_line(e)}); {how}."
    ) from None
  return check_images(images, f"{IMAGES_KEY!r} in {path}")


# --- Reference statistics ----------------------------------------------------


def compute_reference_stats(
  images: np.ndarray | Iterable[np.ndarray],
  variables: inception.Variables,
  batch_size: int = inception.DEFAULT_BATCH_SIZE,
  resize_to: int | None = inception.IMAGE_SIZE,
  keep_features: bool | None = None,
) -> Stats:
  """Gaussian statistics of real images' pool3 features, for FID and KID.

  Args:
    images: [N, H, W, C] (see `check_images`), or an iterable of such
      chunks (e.g. a dataset read in pieces), all of one size.
    variables: the FID Inception weights (`inception.load_params`).
    batch_size: images per device call.
    resize_to: 299 for real FID; others only for tests.
    keep_features: store the features (needed for KID); None keeps them
      when N <= MAX_KEPT_FEATURES.

  Returns:
    {"mu": [2048], "sigma": [2048, 2048], "n", "feature_sha256",
    "network", "resize_to", "format"} float64 arrays, plus "features"
    [N, 2048] float32 when kept.
  """
  if hasattr(images, "ndim"):  # one numpy (or jax) array, not chunks
    images = [images]
  chunks = []
  for i, chunk in enumerate(images):
    chunk = check_images(chunk, f"reference chunk {i}", min_images=1)
    pool, _ = inception.features_and_logits(
      variables, chunk, batch_size, resize_to
    )
    chunks.append(pool)
  feats = np.concatenate(chunks) if chunks else np.zeros((0, 1))
  if len(feats) < MIN_IMAGES:
    raise errors.UserError(
      f"reference statistics need at least {MIN_IMAGES} images, got"
      f" {len(feats)} (10000 for numbers worth comparing)."
    )
  # feats: [N, 2048] float64 holding the network's float32 values exactly.
  mu, sigma = metrics.feature_stats(feats)
  stats = {
    "format": STATS_FORMAT,
    "mu": mu,
    "sigma": sigma,
    "n": len(feats),
    "feature_sha256": features_sha256(feats),
    "network": inception.network_id(variables, resize_to),
    "resize_to": resize_to or 0,
  }
  if keep_features or (
    keep_features is None and len(feats) <= MAX_KEPT_FEATURES
  ):
    stats["features"] = feats.astype(np.float32)  # lossless
  return stats


def reference_images(config, split: str | None = None, num_images: int = 0):
  """A config's real images for reference statistics, and their name.

  Returns (uint8 [N, S, S, C], "dataset:split"): `split` (default
  `dataset.eval_split`) of `config.dataset`, through
  `input_pipeline.load_split`, which preprocesses every split but the
  training one as evaluation does; the first `num_images` (0: all).
  """
  dc = config.dataset
  split = split or dc.eval_split
  images, _ = input_pipeline.load_split(dc, split)
  if num_images:
    images = images[:num_images]
  return images, f"{dc.name}:{split}"


def save_stats(path: str | os.PathLike, stats: Stats) -> None:
  """Writes stats as .npz via a temporary file and a rename (atomic)."""
  path = pathlib.Path(path)
  if path.suffix != ".npz":
    raise errors.UserError(f"stats file {path} must end in .npz.")
  arrays = {k: np.asarray(v) for k, v in stats.items()}
  try:
    with atomic.replacing(path) as tmp, open(tmp, "wb") as f:
      np.savez(f, **arrays)
  except OSError as e:
    raise errors.UserError(
      f"cannot write stats {path} ({e.strerror or errors.first_line(e)})."
    ) from None


def _remake_hint(path: pathlib.Path) -> str:
  return (
    "make it with `python -m ssgan_jax.evaluation.fid --inception W.npz"
    f" --make_stats --images REAL.npz --out {path}`"
  )


def load_stats(
  path: str | os.PathLike, variables: inception.Variables | None = None
) -> Stats:
  """Reads a stats file; with `variables`, also checks it is their network.

  Raises:
    errors.UserError: missing, damaged or incomplete file, or statistics of
      another network (different weights or input size).
  """
  path = pathlib.Path(path)
  if not path.is_file():
    what = "is not a file" if path.exists() else "does not exist"
    raise errors.UserError(f"FID stats {path} {what}; {_remake_hint(path)}.")
  try:
    with np.load(path, allow_pickle=False) as z:
      raw = {k: z[k] for k in z.files}
  except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
    raise errors.UserError(
      f"FID stats {path} are damaged ({errors.first_line(e)}); {_remake_hint(path)}."
    ) from None
  missing = [k for k in _STATS_KEYS if k not in raw]
  if missing or str(raw["format"]) != STATS_FORMAT:
    what = f"lack {missing[0]!r}" if missing else "have another format"
    raise errors.UserError(
      f"FID stats {path} {what} (not written by save_stats);"
      f" {_remake_hint(path)}."
    )
  stats = {
    "format": STATS_FORMAT,
    "mu": raw["mu"].astype(np.float64),
    "sigma": raw["sigma"].astype(np.float64),
    "n": int(raw["n"]),
    "feature_sha256": str(raw["feature_sha256"]),
    "network": str(raw["network"]),
    "resize_to": int(raw["resize_to"]),
  }
  if "reference" in raw:  # what the images were, when made from a config
    stats["reference"] = str(raw["reference"])
  d = inception.FEATURE_DIM
  ok = stats["mu"].shape == (d,) and stats["sigma"].shape == (d, d)
  if "features" in raw:
    stats["features"] = raw["features"]
    ok = ok and raw["features"].ndim == 2 and raw["features"].shape[1] == d
  if not ok or stats["n"] < MIN_IMAGES:
    raise errors.UserError(
      f"FID stats {path} have mu {stats['mu'].shape}, sigma"
      f" {stats['sigma'].shape}, n={stats['n']}; expected [{d}], [{d}, {d}],"
      f" n >= {MIN_IMAGES}; {_remake_hint(path)}."
    )
  if not (np.isfinite(stats["mu"]).all() and np.isfinite(stats["sigma"]).all()):
    raise errors.UserError(
      f"FID stats {path} hold NaN or infinite values; {_remake_hint(path)}."
    )
  if variables is not None:
    check_network(stats, variables, str(path))
  return stats


def check_network(
  stats: Stats, variables: inception.Variables, where: str = "the stats"
) -> None:
  """UserError unless `stats` were made with these weights and input size."""
  resize_to = stats["resize_to"] or None
  ours = inception.network_id(variables, resize_to)
  if stats["network"] != ours:
    raise errors.UserError(
      f"{where} were computed with network {stats['network']}, but the"
      f" loaded Inception is {ours}; recompute the reference statistics"
      " with these weights (--make_stats)."
    )


# --- Scoring -----------------------------------------------------------------


def frechet_distance_features(feat_a: np.ndarray, feat_b: np.ndarray) -> float:
  """Exact FD of the Gaussian fits of two feature sets, without sqrtm.

  With centred features scaled to A = (X - mu_x) / sqrt(n_a - 1) (and B
  likewise), sigma_a = A^T A and sigma_b = B^T B, and the non-zero
  eigenvalues of sigma_a sigma_b are the squared singular values of the
  [n_a, n_b] matrix A B^T; so tr sqrtm(sigma_a sigma_b) is the nuclear norm
  of A B^T. That costs O(n_a n_b D) instead of a 2048x2048 sqrtm (minutes
  on two CPU cores) and is exact where the covariances are singular (N <
  2048), where `metrics.frechet_distance` must add 1e-6 to the diagonals
  (moving FD by ~1e-3). For N >= 2048 on both sides, use that function.

  Args:
    feat_a: [Na, D] features, Na >= 2.
    feat_b: [Nb, D] features, Nb >= 2.

  Returns:
    The squared distance (FID when the features are pool3), a float.
  """
  a = np.asarray(feat_a, np.float64)
  b = np.asarray(feat_b, np.float64)
  diff = a.mean(axis=0) - b.mean(axis=0)
  a = (a - a.mean(axis=0)) / np.sqrt(len(a) - 1)  # [Na, D]
  b = (b - b.mean(axis=0)) / np.sqrt(len(b) - 1)  # [Nb, D]
  cross = np.linalg.svd(a @ b.T, compute_uv=False).sum()
  return float(diff @ diff + (a * a).sum() + (b * b).sum() - 2.0 * cross)


def evaluate_images(
  images: np.ndarray,
  stats: Stats,
  variables: inception.Variables,
  batch_size: int = inception.DEFAULT_BATCH_SIZE,
  kid_subsets: int = 100,
  kid_subset_size: int = 1000,
  seed: int = 0,
) -> dict[str, Any]:
  """FID, Inception Score and KID of a set of images against reference stats.

  The Inception Score is exp(E_x KL(p(y|x) || p(y))) over all N images in
  one split, with p the softmax of all 1008 logits, as compare_gan computed
  it (TF-GAN's `classifier_score_from_logits`), not the mean over 10 splits
  of the original IS code. FID from N < 2048 images uses a singular
  covariance and is biased upwards; use 10,000 as the paper did. When
  either side has fewer than 2048 images and the reference features are
  stored, FD is computed exactly from the features
  (`frechet_distance_features`); otherwise from the moments with
  `metrics.frechet_distance`, as pytorch-fid does.

  Args:
    images: [N, H, W, C] uint8 or float in [-1, 1] (see `check_images`).
    stats: from `load_stats` / `compute_reference_stats`; their input size
      is used for the images too.
    variables: the FID Inception weights that made `stats`.
    batch_size: images per device call.
    kid_subsets: KID subset pairs.
    kid_subset_size: KID subset size (clipped to the smaller set).
    seed: seed of the KID subset draws.

  Returns:
    A flat dict: `fid`, `inception_score`, `num_images`, `num_reference`,
    `network`, `feature_sha256` (of these images' features), and, when the
    stats hold reference features, `kid_mean`, `kid_std`,
    `kid_subset_size`, `kid_subsets`; without them the KID keys are absent.
  """
  images = check_images(images)
  check_network(stats, variables)
  resize_to = stats["resize_to"] or None
  feats, logits = inception.features_and_logits(
    variables, images, batch_size, resize_to
  )
  if len(images) < inception.FEATURE_DIM:
    logging.warning(
      "FID from %d < %d images is biased upwards (singular covariance);"
      " use 10000 for numbers worth comparing.",
      len(images),
      inception.FEATURE_DIM,
    )
  ref = stats.get("features")  # [Nr, 2048] float32, or None
  if ref is not None and min(len(ref), len(feats)) < inception.FEATURE_DIM:
    fd = frechet_distance_features(ref, feats)  # exact; see its docstring
  else:
    mu, sigma = metrics.feature_stats(feats)
    fd = metrics.frechet_distance(stats["mu"], stats["sigma"], mu, sigma)
  probs = scipy.special.softmax(logits, axis=-1)  # [N, 1008] float64
  result = {
    "fid": fd,
    "inception_score": metrics.inception_score_like(probs),
    "num_images": len(images),
    "num_reference": stats["n"],
    "network": stats["network"],
    "feature_sha256": features_sha256(feats),
  }
  if ref is not None:
    kid_mean, kid_std = metrics.kid(
      ref, feats, kid_subsets, kid_subset_size, np.random.default_rng(seed)
    )
    result.update(
      kid_mean=kid_mean,
      kid_std=kid_std,
      kid_subset_size=min(kid_subset_size, len(ref), len(feats)),
      kid_subsets=kid_subsets,
    )
  return result


def summary(result: dict[str, Any]) -> str:
  """Human-readable lines; every number names N and the network."""
  tag = f"[N={result['num_images']} vs {result['num_reference']} reference]"
  lines = [
    f"In {result['network']} (pytorch-fid preprocessing; see docs/fid.md):",
    f"  fid              {result['fid']:.4f}  {tag}",
    f"  inception_score  {result['inception_score']:.4f}"
    f"  [N={result['num_images']}, 1 split]",
  ]
  if "kid_mean" in result:
    lines.append(
      f"  kid              {result['kid_mean']:.6f} +- {result['kid_std']:.6f}"
      f" (subsets of {result['kid_subset_size']})  {tag}"
    )
  else:
    lines.append("  kid              omitted: the stats file keeps no features")
  return "\n".join(lines)


# --- Command line ------------------------------------------------------------


def _define_flags() -> None:
  # Only when run as a program: ssgan_jax.evaluate and the trainer import
  # this module, and their own --images etc. would clash at import time.
  flags.DEFINE_string(
    "inception", None, "FID Inception weights: converted .npz or the .pth."
  )
  flags.DEFINE_string(
    "images",
    None,
    ".npz whose 'images' array to score (or, with --make_stats, the real"
    " images): [N, H, W, 3|1], uint8 0..255 or float in [-1, 1].",
  )
  flags.DEFINE_string(
    "stats", None, "Reference statistics .npz to score against."
  )
  config_flags.DEFINE_config_file(
    "config",
    None,
    "--make_stats: an experiment config whose dataset gives the real images"
    " (instead of --images); --config.<field> overrides apply.",
    lock_config=False,
  )
  flags.DEFINE_string(
    "split", None, "--config: the split to read (default dataset.eval_split)."
  )
  flags.DEFINE_integer(
    "num_images", 0, "--config: use the split's first N images (0: all)."
  )
  flags.DEFINE_bool("make_stats", False, "Compute reference stats instead.")
  flags.DEFINE_string("out", None, "--make_stats: stats file to write (.npz).")
  flags.DEFINE_enum(
    "keep_features",
    "auto",
    ["auto", "yes", "no"],
    "--make_stats: store features for KID (auto: when N <= 10000).",
  )
  flags.DEFINE_integer(
    "batch_size", inception.DEFAULT_BATCH_SIZE, "Images per call."
  )
  flags.DEFINE_integer("kid_subsets", 100, "KID subset pairs.")
  flags.DEFINE_integer("kid_subset_size", 1000, "KID subset size.")
  flags.DEFINE_integer("seed", 0, "Seed of the KID subsets.")


def run(f) -> dict[str, Any]:
  """What the command line does, given parsed flag values `f`."""
  if not f.inception:
    raise errors.UserError(
      "pass --inception FILE (.npz from convert_inception, or the .pth)."
    )
  config = _config(f)
  if config is not None and not f.make_stats:
    raise errors.UserError(
      "--config gives real images for --make_stats only; score samples with"
      " --images FILE.npz --stats REF.npz."
    )
  if config is None and (f.split is not None or f.num_images):
    raise errors.UserError("--split and --num_images apply only with --config.")
  if config is not None and f.images:
    raise errors.UserError(
      "pass one source of real images: --images FILE.npz or --config CONFIG."
    )
  if config is None and not f.images:
    raise errors.UserError(
      "pass --images FILE.npz (key 'images'), or --make_stats --config CONFIG"
      " for a dataset's real images."
    )
  if f.num_images < 0:
    raise errors.UserError(f"--num_images={f.num_images} must be >= 0.")
  if f.batch_size <= 0:
    raise errors.UserError(f"--batch_size={f.batch_size} must be positive.")
  if f.make_stats:
    if f.stats:
      raise errors.UserError(
        "--stats scores against stats; with --make_stats pass --out instead."
      )
    if not f.out or not f.out.endswith(".npz"):
      raise errors.UserError("--make_stats needs --out FILE.npz.")
  elif not f.stats:
    raise errors.UserError(
      "pass --stats REF.npz to score, or --make_stats --out REF.npz to make it."
    )
  reference = None
  if config is not None:  # cheap checks before the weights
    images, reference = reference_images(config, f.split, f.num_images)
  else:
    images = load_images_npz(f.images)
  variables = inception.load_params(f.inception)
  if f.make_stats:
    keep = {"auto": None, "yes": True, "no": False}[f.keep_features]
    stats = compute_reference_stats(
      images, variables, f.batch_size, keep_features=keep
    )
    if reference:
      stats["reference"] = reference
    save_stats(f.out, stats)
    kept = "features" in stats
    print(
      f"wrote {f.out}: statistics of {stats['n']}"
      f" {reference + ' ' if reference else ''}images in"
      f" {stats['network']}; features {'kept' if kept else 'not kept'}"
      f"{'' if kept else ' (KID will be omitted)'}.",
      file=sys.stderr,
    )
    return {
      "out": str(pathlib.Path(f.out).absolute()),
      "n": stats["n"],
      "network": stats["network"],
      "feature_sha256": stats["feature_sha256"],
      "kept_features": kept,
      "reference": reference or str(pathlib.Path(f.images).absolute()),
    }
  stats = load_stats(f.stats, variables)
  result = evaluate_images(
    images,
    stats,
    variables,
    f.batch_size,
    f.kid_subsets,
    f.kid_subset_size,
    f.seed,
  )
  print(summary(result), file=sys.stderr)
  return result


def _config(f):
  """The --config flag's config, None when not given; load errors in a line.

  config_flags loads the file when first read, and raises plain exceptions
  for a bad file or override.
  """
  try:
    return getattr(f, "config", None)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.UserError(f"--config: {errors.first_line(e)}") from None


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {' '.join(argv[1:])} (see --help)")
  logging.set_verbosity(logging.WARNING)  # JAX's backend probing is INFO
  try:
    result = run(flags.FLAGS)
  except errors.UserError as e:
    cli.fail(str(e))
  print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
  _define_flags()
  app.run(main, flags_parser=cli.parse_flags)
