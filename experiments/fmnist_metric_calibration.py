"""Calibrates FD-FMNIST and friends on image sets of known quality.

  python experiments/fmnist_metric_calibration.py > table.md

Scores 10k images per row against the 10k Fashion-MNIST test split with the
committed classifier and prints a markdown table. A GAN's numbers mean
something only next to these: real train images give the floor that a
perfect generator would reach, blur and noise show how fast the metrics
react to lost detail, and the class subsets show mode collapse. Rerun and
recommit the table whenever the classifier weights change.
"""

import os
import sys
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
  sys.path.insert(0, _ROOT)

import numpy as np  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from ssgan_jax import input_pipeline  # noqa: E402
from ssgan_jax import preprocess  # noqa: E402
from ssgan_jax.evaluation import fmnist  # noqa: E402

_NUM_IMAGES = flags.DEFINE_integer("num_images", 10_000, "Images per row.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed for subsets, noise and KID.")
_REFERENCE = flags.DEFINE_string("reference_split", "test", "Real reference.")


def image_sets(n: int, seed: int) -> dict[str, tuple[np.ndarray, str]]:
  """{row name: (images [n, 32, 32, 1] float in [-1, 1], how it was made)}."""
  rng = np.random.default_rng(seed)
  train_u8, train_y = input_pipeline.load_embedded("fashion_mnist", "train", 32)
  test_u8, _ = input_pipeline.load_embedded("fashion_mnist", "test", 32)
  train = preprocess.to_float(train_u8)  # [60000, 32, 32, 1]
  test = preprocess.to_float(test_u8)[:n]  # [10000, 32, 32, 1]

  def draw(pool: np.ndarray) -> tuple[np.ndarray, bool]:
    replace = len(pool) < n  # one class has only 6k train images
    return train[rng.choice(pool, n, replace=replace)], replace

  five, _ = draw(np.flatnonzero(train_y < 5))
  one, one_replaced = draw(np.flatnonzero(train_y == 0))
  return {
    "real train": (draw(np.arange(len(train)))[0], "random train images"),
    "2x2 box blur": (fmnist.box_blur(test, 2), "test split, blurred"),
    "Gaussian noise 0.3": (
      fmnist.gaussian_noise(test, 0.3, rng),
      "test split, clipped",
    ),
    "five classes": (five, "train classes 0-4"),
    "one class": (
      one,
      "train class 0 (T-shirt/top)"
      + (", drawn with replacement" if one_replaced else ""),
    ),
    "uniform noise": (
      rng.uniform(-1.0, 1.0, test.shape).astype(np.float32),
      "U(-1, 1) pixels",
    ),
  }


def main(argv):
  del argv
  rows = []
  clf = fmnist.default_classifier()
  for name, (images, how) in image_sets(_NUM_IMAGES.value, _SEED.value).items():
    start = time.time()
    r = fmnist.evaluate_images(
      images, reference_split=_REFERENCE.value, seed=_SEED.value, clf=clf
    )
    rows.append(
      f"| {name} | {how} | {r['num_images']} | {r['fd_fmnist']:.2f} |"
      f" {r['kid_mean']:.3f} ± {r['kid_std']:.3f} |"
      f" {r['coverage_classes']} | {r['coverage_tv']:.3f} |"
      f" {r['is_fmnist']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} |"
    )
    print(f"{name}: {time.time() - start:.1f} s", file=sys.stderr, flush=True)
  print(
    f"Network {r['network']} (sha256 {clf.sha256}); reference: the"
    f" {r['num_reference']} images of the {r['reference_split']} split;"
    " KID: mean ± std over 100 subsets of 1000; precision/recall k = 3.\n"
  )
  print(
    "| set | made from | N | FD-FMNIST | KID | classes | TV to"
    " uniform | IS-FMNIST | precision | recall |"
  )
  print("|---|---|---|---|---|---|---|---|---|---|")
  print("\n".join(rows))


if __name__ == "__main__":
  app.run(main)
