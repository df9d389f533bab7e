"""All offline sample-quality numbers for Fashion-MNIST images in one call.

  from ssgan_jax.evaluation import fmnist
  result = fmnist.evaluate_images(samples)   # [N, 32, 32, 1] float in [-1, 1]
  result["fd_fmnist"], result["kid_mean"], result["precision"], ...

Every number is measured in the committed in-domain classifier
(`classifier.py`), against a real Fashion-MNIST split, so the result names
the network, N and the reference split, as PAPER.md section 7 asks. The
Fréchet distance is `fd_fmnist`, never "FID": it is not comparable with any
Inception-based FID.

Reference features are computed once per (split, weights) and kept in
memory, so evaluating many checkpoints costs only the samples' features.
"""

import functools

import numpy as np

from ssgan_jax import errors
from ssgan_jax import input_pipeline
from ssgan_jax import preprocess
from ssgan_jax.evaluation import classifier as classifier_lib
from ssgan_jax.evaluation import metrics

IMAGE_SIZE = 32
# The real splits FD-FMNIST can compare with (offline, embedded).
REFERENCES = ("fashion_mnist:test", "fashion_mnist:train")
DEFAULT_REFERENCE = REFERENCES[0]


def parse_reference(reference: str) -> str:
  """'fashion_mnist:test' -> 'test'; anything else is a one-line UserError."""
  if reference not in REFERENCES:
    raise errors.UserError(
      f"--reference={reference!r} is not available offline; only"
      f" {' / '.join(REFERENCES)} are (the embedded Fashion-MNIST splits)."
    )
  return reference.split(":", 1)[1]


@functools.lru_cache(maxsize=1)
def default_classifier() -> classifier_lib.Classifier:
  """The committed, checksummed classifier, loaded once per process."""
  return classifier_lib.load_classifier()


def reference_features(
  split: str = "test",
  clf: classifier_lib.Classifier | None = None,
  data_dir: str = "",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Features, probs and Gaussian statistics of a real split, cached.

  Args:
    split: "test" (10k, the default reference, as in the paper's CIFAR
      numbers) or "train" (60k).
    clf: classifier; default `default_classifier()`.
    data_dir: Fashion-MNIST directory; default the embedded copy.

  Returns:
    (features [Nr, 128], probs [Nr, 10], mu [128], sigma [128, 128]), all
    read-only because they are shared between callers.
  """
  return _reference_features(split, clf or default_classifier(), data_dir)


@functools.lru_cache(maxsize=4)
def _reference_features(split, clf, data_dir):
  images, _ = input_pipeline.load_embedded(
    "fashion_mnist", split, IMAGE_SIZE, data_dir
  )
  feats, probs = clf.features_and_probs(preprocess.to_float(images))
  mu, sigma = metrics.feature_stats(feats)
  out = (feats, probs, mu, sigma)
  for a in out:
    a.setflags(write=False)
  return out


def _check_images(images: np.ndarray) -> np.ndarray:
  images = np.asarray(images)
  if images.ndim != 4 or images.shape[1:] != classifier_lib.IMAGE_SHAPE:
    raise errors.DataError(
      "evaluate_images takes [N, 32, 32, 1] Fashion-MNIST-like images,"
      f" got shape {images.shape}."
    )
  if len(images) < 2:
    raise errors.DataError(
      f"evaluate_images needs at least 2 images, got {len(images)}."
    )
  if not np.issubdtype(images.dtype, np.floating):
    raise errors.DataError(
      f"evaluate_images takes float images in [-1, 1], got {images.dtype};"
      " convert uint8 with ssgan_jax.preprocess.to_float."
    )
  lo, hi = float(images.min()), float(images.max())
  if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -1.01 or hi > 1.01:
    raise errors.DataError(
      f"evaluate_images takes images in [-1, 1], got values in [{lo:.3g},"
      f" {hi:.3g}]; rescale (x / 127.5 - 1 for 0..255, 2x - 1 for 0..1)."
    )
  return images


def evaluate_images(
  images: np.ndarray,
  reference_split: str = "test",
  num_subsets: int = 100,
  subset_size: int = 1000,
  seed: int = 0,
  k: int = 3,
  clf: classifier_lib.Classifier | None = None,
  data_dir: str = "",
) -> dict[str, float | int | str]:
  """Scores a set of images against a real Fashion-MNIST split.

  Args:
    images: [N, 32, 32, 1] float in [-1, 1], e.g. generator samples.
    reference_split: real split to compare with ("test" or "train").
    num_subsets: KID subsets.
    subset_size: KID subset size (clipped to N).
    seed: seed for the KID subset draws.
    k: neighbourhood size of precision/recall.
    clf: classifier; default the committed one.
    data_dir: Fashion-MNIST directory; default the embedded copy.

  Returns:
    A flat dict: `network` (classifier id), `num_images`, `reference_split`,
    `num_reference`, `fd_fmnist`, `kid_mean`, `kid_std`, `kid_subset_size`,
    `coverage_classes`, `coverage_tv`, `class_fractions` (the predicted-class
    histogram, [10] in class order), `min_class_fraction`, `is_fmnist`,
    `precision`, `recall`, `pr_k`.
  """
  images = _check_images(images)
  clf = clf or default_classifier()
  ref_feats, _, ref_mu, ref_sigma = reference_features(
    reference_split, clf, data_dir
  )
  feats, probs = clf.features_and_probs(images)  # [N, 128], [N, 10]
  mu, sigma = metrics.feature_stats(feats)
  kid_mean, kid_std = metrics.kid(
    ref_feats, feats, num_subsets, subset_size, np.random.default_rng(seed)
  )
  hist = metrics.class_histogram(probs)  # [10]
  classes, tv = metrics.coverage_of_histogram(hist)
  precision, recall = metrics.precision_recall(ref_feats, feats, k)
  return {
    "network": f"fmnist_cnn-{clf.sha256[:8]}",
    "num_images": len(images),
    "reference_split": reference_split,
    "num_reference": len(ref_feats),
    "fd_fmnist": metrics.frechet_distance(ref_mu, ref_sigma, mu, sigma),
    "kid_mean": kid_mean,
    "kid_std": kid_std,
    "kid_subset_size": min(subset_size, len(images), len(ref_feats)),
    "coverage_classes": classes,
    "coverage_tv": tv,
    "class_fractions": [float(f) for f in hist],
    "min_class_fraction": float(hist.min()),
    "is_fmnist": metrics.inception_score_like(probs),
    "precision": precision,
    "recall": recall,
    "pr_k": k,
  }


# Corruptions with known effects, used to check that the metrics order
# image sets the way a person would (tests, calibration script).


def box_blur(images: np.ndarray, size: int = 2) -> np.ndarray:
  """Mean over a size x size window; [N, H, W, C] -> [N, H, W, C].

  The window covers the pixel and its right/lower neighbours; the last
  rows/columns repeat the edge, so the background stays -1.
  """
  n, h, w, c = images.shape
  padded = np.pad(
    images, ((0, 0), (0, size - 1), (0, size - 1), (0, 0)), mode="edge"
  )
  out = np.zeros(images.shape, np.float64)
  for dy in range(size):
    for dx in range(size):
      out += padded[:, dy : dy + h, dx : dx + w]
  return (out / size**2).astype(images.dtype)


def gaussian_noise(
  images: np.ndarray, sigma: float, rng: np.random.Generator
) -> np.ndarray:
  """Adds N(0, sigma^2) per pixel and clips back to the valid [-1, 1]."""
  noisy = images + sigma * rng.standard_normal(images.shape)
  return np.clip(noisy, -1.0, 1.0).astype(images.dtype)
