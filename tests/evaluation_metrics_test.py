"""Evaluation metrics against known answers, and the FD-FMNIST classifier.

The metric tests use tiny synthetic features with hand-computed results; the
last tests use the committed classifier on ~1000 real test images to check
that the metrics order real, blurred and noisy images the way a person would.
"""

import numpy as np
import pytest

from ssgan_jax import errors
from ssgan_jax import input_pipeline
from ssgan_jax import preprocess
from ssgan_jax.evaluation import classifier
from ssgan_jax.evaluation import fmnist
from ssgan_jax.evaluation import metrics


def _features(n=500, d=16, seed=0):
  rng = np.random.default_rng(seed)
  return rng.standard_normal((n, d)) @ rng.standard_normal((d, d))  # [n, d]


# Fréchet distance.


def test_fd_of_a_set_with_itself_is_zero():
  mu, sigma = metrics.feature_stats(_features())
  assert metrics.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(
    0.0, abs=1e-6
  )


def test_fd_with_singular_covariance_uses_fallback():
  feats = _features()
  feats[:, 3] = 0.0  # a dead ReLU unit: sigma is singular
  mu, sigma = metrics.feature_stats(feats)
  fd = metrics.frechet_distance(mu, sigma, mu, sigma)
  assert np.isfinite(fd)
  assert fd == pytest.approx(0.0, abs=1e-4)


def test_singular_covariance_with_a_finite_root_gets_no_offset():
  # diag(1, 0) and diag(4, 0): singular, but sqrtm(s1 s2) = diag(2, 0) is
  # exact, so FD = (1 + 4 - 2 * 2) + 0 = 1. The eps offset would give
  # 1 - 4.5 * eps.
  fd = metrics.frechet_distance(
    np.zeros(2), np.diag([1.0, 0.0]), np.zeros(2), np.diag([4.0, 0.0])
  )
  assert fd == pytest.approx(1.0, abs=1e-9)


def test_fd_of_diagonal_gaussians_matches_closed_form():
  # |mu1 - mu2|^2 = 1 + 4; per dim var1 + var2 - 2 sqrt(var1 var2):
  # (1 + 9 - 2 * 3) + (4 + 1 - 2 * 2) = 4 + 1.
  fd = metrics.frechet_distance(
    np.array([0.0, 0.0]),
    np.diag([1.0, 4.0]),
    np.array([1.0, 2.0]),
    np.diag([9.0, 1.0]),
  )
  assert fd == pytest.approx(10.0, rel=1e-9)


def test_fd_is_symmetric_for_full_covariances():
  mu1, s1 = metrics.feature_stats(_features(seed=1))
  mu2, s2 = metrics.feature_stats(_features(seed=2))
  assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
    metrics.frechet_distance(mu2, s2, mu1, s1), rel=1e-6
  )


# KID.


def test_kid_matches_hand_computation():
  # d = 1, k(x, y) = (xy + 1)^3: k(1, 1) = 8, k(0, 0) = k(1, 0) = 1, so
  # MMD^2_u = 8 (off-diagonal xx) + 1 (yy) - 2 * 1 (xy) = 7.
  mean, std = metrics.kid(
    np.ones((2, 1)), np.zeros((2, 1)), num_subsets=3, subset_size=2, rng=0
  )
  assert mean == pytest.approx(7.0)
  assert std == pytest.approx(0.0)


def test_kid_of_identical_sets_is_near_zero():
  feats = np.random.default_rng(0).standard_normal((400, 8))  # [400, 8]
  mean, _ = metrics.kid(feats, feats, num_subsets=10, subset_size=200, rng=0)
  shifted, _ = metrics.kid(feats, feats + 1.0, 10, 200, rng=0)
  assert abs(mean) < 0.05 * shifted


def test_kid_is_unbiased():
  """Independent same-distribution draws average to 0, some below 0."""
  rng = np.random.default_rng(0)
  draws = np.array(
    [
      metrics.kid(
        rng.standard_normal((50, 4)),
        rng.standard_normal((50, 4)),
        num_subsets=1,
        subset_size=50,
        rng=rng,
      )[0]
      for _ in range(300)
    ]
  )
  stderr = draws.std() / np.sqrt(len(draws))
  assert abs(draws.mean()) < 3 * stderr
  assert (draws < 0).any()


# Coverage and the Inception-Score analogue.


def _one_hot(labels, num_classes=10):
  return np.eye(num_classes)[labels]


def test_coverage_of_one_class_and_of_balanced_sets():
  classes, tv = metrics.class_coverage(_one_hot(np.full(50, 3)))
  assert classes == 1
  assert tv == pytest.approx(0.9)  # 0.5 * (0.9 + 9 * 0.1)
  classes, tv = metrics.class_coverage(_one_hot(np.repeat(np.arange(10), 5)))
  assert classes == 10
  assert tv == pytest.approx(0.0)


def test_class_histogram_counts_argmax_classes():
  # 3 x class 0, 1 x class 2 of 4 samples; 10 classes.
  hist = metrics.class_histogram(_one_hot(np.array([0, 0, 2, 0])))
  np.testing.assert_allclose(hist, [0.75, 0, 0.25] + [0] * 7)


def test_is_like_is_one_for_constant_and_ten_for_balanced_one_hot():
  rng = np.random.default_rng(0)
  p = rng.random(10)
  constant = np.tile(p / p.sum(), (20, 1))
  assert metrics.inception_score_like(constant) == pytest.approx(1.0)
  balanced = _one_hot(np.repeat(np.arange(10), 5))
  assert metrics.inception_score_like(balanced) == pytest.approx(10.0)


# Precision and recall.


def test_precision_recall_of_identical_sets_is_one():
  feats = _features(n=300, d=8)
  assert metrics.precision_recall(feats, feats, k=3) == (1.0, 1.0)


def test_precision_recall_of_disjoint_sets_is_zero():
  feats = _features(n=300, d=8)
  far = feats + 1e3
  assert metrics.precision_recall(feats, far, k=3) == (0.0, 0.0)


def test_precision_recall_separates_fidelity_from_diversity():
  """Fakes collapsed onto one region of the reals: precise, low recall."""
  real = np.random.default_rng(0).standard_normal((1000, 4))  # [1000, 4]
  nearest = np.argsort(((real - real[0]) ** 2).sum(axis=1))
  fake = real[nearest[:100]]  # the 100 reals closest to real[0]
  precision, recall = metrics.precision_recall(real, fake, k=3)
  assert precision == 1.0
  assert recall < 0.3


# Classifier weights.


def test_save_params_is_byte_reproducible(tmp_path):
  params = classifier.init_params(0)
  a = classifier.save_params(params, tmp_path / "a.npz")
  b = classifier.save_params(params, tmp_path / "b.npz")
  assert a == b
  loaded = classifier.load_params(tmp_path / "a.npz", expected_sha256=a)
  np.testing.assert_array_equal(
    loaded["conv0"]["kernel"], np.asarray(params["conv0"]["kernel"])
  )


def test_loader_rejects_wrong_checksum(tmp_path):
  bad = tmp_path / "fmnist_classifier.npz"
  classifier.save_params(classifier.init_params(1), bad)
  with pytest.raises(errors.DataError) as e:
    classifier.load_classifier(bad)
  message = str(e.value)
  assert str(bad) in message
  assert classifier.WEIGHTS_SHA256 in message
  assert "\n" not in message


def test_loader_rejects_missing_file(tmp_path):
  with pytest.raises(errors.DataError, match=classifier.WEIGHTS_SHA256):
    classifier.load_classifier(tmp_path / "missing.npz")


def test_committed_weights_load():
  clf = classifier.load_classifier()
  assert clf.sha256 == classifier.WEIGHTS_SHA256


# Metrics on real images with the committed classifier.


@pytest.fixture(scope="module")
def test_images():
  images, labels = input_pipeline.load_embedded("fashion_mnist", "test", 32)
  return preprocess.to_float(images[:2000]), labels[:2000]


def test_metrics_order_real_blurred_noisy(test_images):
  images, labels = test_images
  clf = fmnist.default_classifier()
  ref, real = images[:1000], images[1000:]  # disjoint halves
  sets = {
    "real": real,
    "blurred": fmnist.box_blur(real, 2),
    "noisy": fmnist.gaussian_noise(real, 0.3, np.random.default_rng(0)),
  }
  ref_feats, ref_probs = clf.features_and_probs(ref)
  assert (ref_probs.argmax(-1) == labels[:1000]).mean() > 0.85
  ref_stats = metrics.feature_stats(ref_feats)
  fd, kid = {}, {}
  for name, imgs in sets.items():
    feats, _ = clf.features_and_probs(imgs)
    fd[name] = metrics.frechet_distance(
      *ref_stats, *metrics.feature_stats(feats)
    )
    kid[name] = metrics.kid(ref_feats, feats, 10, 500, rng=0)[0]
  assert fd["real"] < fd["blurred"] < fd["noisy"], fd
  assert kid["real"] < kid["blurred"] < kid["noisy"], kid


def test_evaluate_images_reports_network_n_and_split(test_images):
  images, _ = test_images
  result = fmnist.evaluate_images(images[:200], num_subsets=5, subset_size=100)
  assert result["num_images"] == 200
  assert result["reference_split"] == "test"
  assert result["num_reference"] == 10000
  assert result["network"].startswith("fmnist_cnn-")
  assert result["coverage_classes"] == 10
  assert 0.0 <= result["precision"] <= 1.0 and 0.0 <= result["recall"] <= 1.0
  assert "fid" not in " ".join(result).lower()


def test_evaluate_images_rejects_unscaled_images():
  with pytest.raises(errors.DataError, match=r"\[-1, 1\]"):
    fmnist.evaluate_images(np.full((4, 32, 32, 1), 255.0, np.float32))
