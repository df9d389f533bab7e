"""Sample-quality metrics on precomputed features and class probabilities.

  mu_r, sigma_r = feature_stats(real_feats)          # [N, D] -> [D], [D, D]
  mu_f, sigma_f = feature_stats(fake_feats)
  fd = frechet_distance(mu_r, sigma_r, mu_f, sigma_f)
  kid_mean, kid_std = kid(real_feats, fake_feats, 100, 1000, rng=0)
  precision, recall = precision_recall(real_feats, fake_feats, k=3)

Pure numpy/scipy so that every number can be checked by hand in tests and
none depends on the accelerator, its precision or a jit cache. The networks
that produce the features live elsewhere (`classifier.py`); these functions
do not care whether the features come from Inception or a small in-domain
CNN, which is why the *caller* must name the network in what it reports.
"""

import warnings

import numpy as np
import scipy.linalg
import scipy.special

# Rows per block in pairwise-distance computations: a [1024, 10000] float64
# block is 82 MB, so 10k x 10k (or 60k x 60k) never needs the full matrix.
_BLOCK = 1024


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean and covariance of features, the Gaussian fit that FD compares.

  Args:
    features: [N, D] with N >= 2.

  Returns:
    (mu [D], sigma [D, D]) in float64; sigma uses the unbiased 1/(N-1)
    normalisation, as pytorch-fid and TF-GAN do.
  """
  features = np.asarray(features, dtype=np.float64)
  if features.ndim != 2 or features.shape[0] < 2:
    raise ValueError(f"need [N >= 2, D] features, got {features.shape}")
  mu = features.mean(axis=0)
  sigma = np.cov(features, rowvar=False)
  return mu, np.atleast_2d(sigma)


def _sqrtm(a: np.ndarray) -> tuple[np.ndarray, bool]:
  """scipy's sqrtm and whether it failed (non-finite entries).

  scipy warns for every singular or ill-conditioned input, also when the
  root it returns is fine; like pytorch-fid, only a non-finite root counts
  as a failure, so the diagonal offset never shifts a result that did not
  need it.
  """
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
    root = scipy.linalg.sqrtm(a)
  return root, not np.all(np.isfinite(root))


def frechet_distance(
  mu1: np.ndarray,
  sigma1: np.ndarray,
  mu2: np.ndarray,
  sigma2: np.ndarray,
  eps: float = 1e-6,
) -> float:
  """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

  d^2 = |mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)).

  Feature covariances are often singular (dead ReLU units, N < D); when
  sqrtm then fails (non-finite entries), we retry, like pytorch-fid, with
  `eps` added to both diagonals, which moves the result by O(eps * D). Round-off gives
  the square root a small imaginary part, discarded when tiny.

  Args:
    mu1: [D] mean of the first set.
    sigma1: [D, D] covariance of the first set.
    mu2: [D] mean of the second set.
    sigma2: [D, D] covariance of the second set.
    eps: diagonal offset for the fallback.

  Returns:
    The distance (squared, as FID is), a Python float >= 0 up to round-off.

  Raises:
    ValueError: shapes disagree or the square root has a large imaginary
      part (the covariances are not valid covariances).
  """
  mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2)
  sigma1 = np.atleast_2d(sigma1).astype(np.float64)
  sigma2 = np.atleast_2d(sigma2).astype(np.float64)
  if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
    raise ValueError(
      f"mismatched statistics: mu {mu1.shape} vs {mu2.shape}, "
      f"sigma {sigma1.shape} vs {sigma2.shape}"
    )
  diff = mu1 - mu2
  covmean, bad = _sqrtm(sigma1 @ sigma2)
  if bad:
    offset = np.eye(sigma1.shape[0]) * eps
    covmean, _ = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
  if np.iscomplexobj(covmean):
    imag = np.max(np.abs(np.diagonal(covmean).imag))
    if imag > 1e-3:
      raise ValueError(f"sqrtm has imaginary component {imag:.3g}")
    covmean = covmean.real
  fd = diff @ diff + np.trace(sigma1) + np.trace(sigma2)
  return float(fd - 2.0 * np.trace(covmean))


def _as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
  if isinstance(rng, np.random.Generator):
    return rng
  return np.random.default_rng(rng)


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """k(x, y) = (x.y / d + 1)^3, the KID kernel: [m, d], [n, d] -> [m, n]."""
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid(
  feat_a: np.ndarray,
  feat_b: np.ndarray,
  num_subsets: int = 100,
  subset_size: int = 1000,
  rng: np.random.Generator | int | None = 0,
) -> tuple[float, float]:
  """Kernel Inception Distance (Bińkowski et al. 2018) on any features.

  The unbiased MMD^2 estimator with the cubic polynomial kernel, averaged
  over random subsets drawn without replacement. Unlike FD it has no bias
  in N, so values from different sample sizes compare, and it can be
  slightly negative when the two sets come from the same distribution.

  Args:
    feat_a: [Na, D] features of the first set.
    feat_b: [Nb, D] features of the second set.
    num_subsets: number of subset pairs to average over.
    subset_size: examples per subset; clipped to min(Na, Nb) so that small
      sample sets still get a value (the caller reports N).
    rng: numpy Generator or seed for the subset draws.

  Returns:
    (mean, std) of the per-subset MMD^2 estimates.
  """
  feat_a = np.asarray(feat_a, dtype=np.float64)
  feat_b = np.asarray(feat_b, dtype=np.float64)
  if feat_a.ndim != 2 or feat_a.shape[1] != feat_b.shape[-1]:
    raise ValueError(
      f"need [N, D] features, got {feat_a.shape}, {feat_b.shape}"
    )
  m = min(subset_size, len(feat_a), len(feat_b))
  if m < 2:
    raise ValueError(f"KID needs at least 2 examples per set, got {m}")
  rng = _as_generator(rng)
  estimates = np.empty(num_subsets)
  for i in range(num_subsets):
    x = feat_a[rng.choice(len(feat_a), m, replace=False)]  # [m, D]
    y = feat_b[rng.choice(len(feat_b), m, replace=False)]  # [m, D]
    kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
    # Unbiased: drop the diagonal k(x_i, x_i) terms of the within-set sums.
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (
      m * (m - 1)
    )
    estimates[i] = within - 2.0 * kxy.mean()
  return float(estimates.mean()), float(estimates.std())


def class_coverage(probs: np.ndarray) -> tuple[int, float]:
  """How many classes a sample set covers and how evenly.

  Mode collapse on a balanced dataset shows up here before it moves FD much:
  the predicted-class histogram loses classes or drifts from uniform.

  Args:
    probs: [N, C] class probabilities (or logits; only the argmax is used).

  Returns:
    (classes predicted at least once, total-variation distance in [0, 1 -
    1/C] between the predicted-class histogram and the uniform one).
  """
  return coverage_of_histogram(class_histogram(probs))


def coverage_of_histogram(hist: np.ndarray) -> tuple[int, float]:
  """`class_coverage` of a predicted-class histogram [C] (sums to 1)."""
  tv = 0.5 * np.abs(hist - 1.0 / len(hist)).sum()
  return int((hist > 0).sum()), float(tv)


def class_histogram(probs: np.ndarray) -> np.ndarray:
  """[C] fraction of the samples whose predicted (argmax) class is c."""
  probs = np.asarray(probs)
  num_classes = probs.shape[-1]
  return np.bincount(probs.argmax(-1), minlength=num_classes) / len(probs)


def inception_score_like(probs: np.ndarray) -> float:
  """exp(E_x KL(p(y|x) || p(y))): the Inception Score on any classifier.

  Between 1 (every image gets the same prediction) and C (confident,
  balanced predictions). Computed over all samples in one split, as
  compare_gan did, not averaged over 10 splits.

  Args:
    probs: [N, C] class probabilities; rows sum to 1.

  Returns:
    The score as a Python float.
  """
  probs = np.asarray(probs, dtype=np.float64)
  marginal = probs.mean(axis=0, keepdims=True)  # [1, C]
  # rel_entr(p, q) = p log(p / q), with 0 log 0 = 0 for one-hot rows.
  kl = scipy.special.rel_entr(probs, marginal).sum(axis=-1)  # [N]
  return float(np.exp(kl.mean()))


def _sq_norms(x: np.ndarray) -> np.ndarray:
  return np.einsum("nd,nd->n", x, x)


def _pairwise_sq_dists(x, y, x_sq, y_sq) -> np.ndarray:
  """Squared Euclidean distances [m, n], clipped at 0 against round-off."""
  return np.maximum(x_sq[:, None] + y_sq[None, :] - 2.0 * (x @ y.T), 0.0)


def knn_radii(feats: np.ndarray, k: int) -> np.ndarray:
  """Squared distance of each point to its k-th nearest other point: [N]."""
  feats = np.asarray(feats, dtype=np.float64)
  if not 0 < k < len(feats):
    raise ValueError(f"k={k} needs 0 < k < N={len(feats)}")
  sq = _sq_norms(feats)
  radii = np.empty(len(feats))
  for start in range(0, len(feats), _BLOCK):
    block = slice(start, start + _BLOCK)
    d = _pairwise_sq_dists(feats[block], feats, sq[block], sq)
    # Index k, not k - 1: the point itself sits at distance 0 in its row.
    radii[block] = np.partition(d, k, axis=1)[:, k]
  return radii


def _fraction_covered(
  queries: np.ndarray, centres: np.ndarray, radii: np.ndarray
) -> float:
  """Fraction of queries inside at least one ball (centre, radius^2)."""
  q_sq, c_sq = _sq_norms(queries), _sq_norms(centres)
  inside = 0
  for start in range(0, len(queries), _BLOCK):
    block = slice(start, start + _BLOCK)
    d = _pairwise_sq_dists(queries[block], centres, q_sq[block], c_sq)
    inside += int(np.any(d <= radii[None, :], axis=1).sum())
  return inside / len(queries)


def precision_recall(
  real_feats: np.ndarray, fake_feats: np.ndarray, k: int = 3
) -> tuple[float, float]:
  """Improved precision and recall (Kynkäänniemi et al. 2019).

  Each set's manifold is the union of balls around its points with radius
  the distance to the k-th nearest neighbour in the same set. Precision is
  the fraction of fakes inside the real manifold (fidelity), recall the
  fraction of reals inside the fake manifold (diversity); FD mixes both.

  Args:
    real_feats: [Nr, D] features of real images.
    fake_feats: [Nf, D] features of generated images.
    k: neighbourhood size; 3 as in the paper.

  Returns:
    (precision, recall), each in [0, 1].
  """
  real = np.asarray(real_feats, dtype=np.float64)
  fake = np.asarray(fake_feats, dtype=np.float64)
  precision = _fraction_covered(fake, real, knn_radii(real, k))
  recall = _fraction_covered(real, fake, knn_radii(fake, k))
  return precision, recall
