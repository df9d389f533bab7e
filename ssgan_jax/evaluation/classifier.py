"""A small Fashion-MNIST CNN whose features define FD-FMNIST.

  from ssgan_jax.evaluation import classifier
  clf = classifier.load_classifier()                 # checksummed weights
  feats, probs = clf.features_and_probs(images)      # [N, 128], [N, 10]

Inception weights cannot ship with the repository and Inception features of
28x28 grey clothes say little, so offline runs are scored in the 128-d
penultimate layer of this in-domain network (PAPER.md sections 7-8). Its
numbers are *not* FID and do not compare with any published FID; they
compare only with numbers from the same weights, which is why the weights
are committed and verified by sha256 on load.

Committed weights: `weights/fmnist_classifier.npz`, 356,234 parameters,
trained with

  python experiments/train_fmnist_classifier.py \
      --out ssgan_jax/evaluation/weights/fmnist_classifier.npz

Test accuracy on the 10k Fashion-MNIST test split: 91.53 % (4 epochs,
seed 0, CPU; 86.98 / 89.35 / 91.03 / 91.53 % after each epoch).

No BatchNorm: evaluation is a pure function of the weights and each image,
so a feature never depends on what else is in its batch.
"""

import dataclasses
import os
import pathlib
import zipfile
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from ssgan_jax import atomic
from ssgan_jax import errors
from ssgan_jax import fashion_mnist

IMAGE_SHAPE = (32, 32, 1)  # Fashion-MNIST padded 28 -> 32, values in [-1, 1]
FEATURE_DIM = 128
NUM_CLASSES = 10
_WEIGHTS_DIR = pathlib.Path(__file__).resolve().parent / "weights"
WEIGHTS_PATH = _WEIGHTS_DIR / "fmnist_classifier.npz"
# sha256 of the committed weights file. Every FD-FMNIST number in the
# repository was measured with exactly these weights; change this constant
# only together with a recalibration (experiments/fmnist_metric_calibration).
WEIGHTS_SHA256 = (
  "58c240e2f2ab57ccc6df91d5cb1104eeff5f4717fc35cd90a1ee142c7af35ece"
)

Params = Any


class FmnistCNN(nn.Module):
  """Three conv/ReLU/max-pool stages, a 128-d ReLU feature layer, logits."""

  channels: tuple[int, ...] = (32, 64, 128)
  feature_dim: int = FEATURE_DIM
  num_classes: int = NUM_CLASSES

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """[B, 32, 32, 1] in [-1, 1] -> (features [B, 128], logits [B, 10])."""
    for i, ch in enumerate(self.channels):
      x = nn.relu(nn.Conv(ch, (3, 3), padding="SAME", name=f"conv{i}")(x))
      x = nn.max_pool(x, (2, 2), strides=(2, 2))  # 32 -> 16 -> 8 -> 4
    x = x.reshape(x.shape[0], -1)  # [B, 4 * 4 * 128]
    features = nn.relu(nn.Dense(self.feature_dim, name="feature")(x))
    logits = nn.Dense(self.num_classes, name="logits")(features)
    return features, logits


def init_params(seed: int = 0) -> Params:
  """Fresh parameters of `FmnistCNN` (the tree the weights file must match)."""
  dummy = jnp.zeros((1, *IMAGE_SHAPE), jnp.float32)
  return FmnistCNN().init(jax.random.key(seed), dummy)["params"]


sha256 = fashion_mnist.sha256


def save_params(params: Params, path: str | os.PathLike) -> str:
  """Writes params as a flat, byte-reproducible .npz; returns its sha256.

  Keys are '/'-joined parameter paths ("conv0/kernel"). `np.savez` stamps
  each member with the current time, so the same weights would hash
  differently on every save; here members are sorted, stored uncompressed
  and dated 1980-01-01, so the checksum is a function of the weights alone.
  The file is written to `<path>.tmp` and renamed, so a crash never leaves
  a truncated weights file behind.

  Args:
    params: the `params` collection of `FmnistCNN`.
    path: destination `.npz`.

  Returns:
    The sha256 hex digest of the written file.
  """
  path = pathlib.Path(path)
  flat = traverse_util.flatten_dict(jax.device_get(params), sep="/")
  with (
    atomic.replacing(path) as tmp,
    zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf,
  ):
    for key in sorted(flat):
      info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
      info.external_attr = 0o644 << 16
      with zf.open(info, "w", force_zip64=True) as f:
        np.lib.format.write_array(
          f, np.asarray(flat[key], np.float32), allow_pickle=False
        )
  return sha256(path)


def _retrain_hint(path: pathlib.Path) -> str:
  return (
    "restore it with `git checkout -- ssgan_jax/evaluation/weights` or"
    " retrain with `python experiments/train_fmnist_classifier.py"
    f" --out {path}` and update classifier.WEIGHTS_SHA256"
  )


def load_params(
  path: str | os.PathLike, expected_sha256: str = WEIGHTS_SHA256
) -> Params:
  """Reads a weights file written by `save_params` after checking its sha256.

  Raises:
    errors.DataError: the file is missing, its checksum differs from
      `expected_sha256`, or its arrays do not fit `FmnistCNN`.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise errors.DataError(
      f"classifier weights {path} are missing (expected sha256"
      f" {expected_sha256}); {_retrain_hint(path)}."
    )
  got = sha256(path)
  if got != expected_sha256:
    raise errors.DataError(
      f"classifier weights {path} have sha256 {got}, expected"
      f" {expected_sha256}; {_retrain_hint(path)}."
    )
  with np.load(path, allow_pickle=False) as z:
    flat = {k: z[k] for k in z.files}
  want = traverse_util.flatten_dict(
    jax.eval_shape(init_params), sep="/"
  )  # {"conv0/kernel": ShapeDtypeStruct, ...}
  got_shapes = {k: v.shape for k, v in flat.items()}
  want_shapes = {k: v.shape for k, v in want.items()}
  if got_shapes != want_shapes:
    raise errors.DataError(
      f"classifier weights {path} do not fit FmnistCNN: arrays"
      f" {sorted(got_shapes.items())}, expected {sorted(want_shapes.items())}."
    )
  return traverse_util.unflatten_dict(flat, sep="/")


@jax.jit
def _apply(params: Params, images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """[B, 32, 32, 1] -> (features [B, 128], probs [B, 10]), both float32."""
  features, logits = FmnistCNN().apply({"params": params}, images)
  return features, jax.nn.softmax(logits)


def features_and_probs(
  params: Params, images: np.ndarray, batch_size: int = 500
) -> tuple[np.ndarray, np.ndarray]:
  """Penultimate features and class probabilities of a set of images.

  Runs in fixed-size batches (the last one padded) so that any N compiles
  the network once per batch size and memory stays bounded. Transfers are
  explicit, so this also works under `jax_transfer_guard='disallow'`.

  Args:
    params: `FmnistCNN` parameters.
    images: [N, 32, 32, 1] float in [-1, 1] (see `preprocess.to_float`).
    batch_size: images per device call.

  Returns:
    (features [N, 128], probs [N, 10]) as float32 numpy arrays.
  """
  images = np.asarray(images)
  if images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
    raise errors.DataError(
      f"the Fashion-MNIST classifier takes [N, 32, 32, 1] images in"
      f" [-1, 1], got shape {images.shape}."
    )
  if not np.issubdtype(images.dtype, np.floating):
    raise errors.DataError(
      f"the Fashion-MNIST classifier takes float images in [-1, 1], got"
      f" {images.dtype}; convert uint8 with ssgan_jax.preprocess.to_float."
    )
  n = len(images)
  feats = np.empty((n, FEATURE_DIM), np.float32)
  probs = np.empty((n, NUM_CLASSES), np.float32)
  for start in range(0, n, batch_size):
    batch = images[start : start + batch_size].astype(np.float32)
    m = len(batch)
    if m < batch_size:
      batch = np.pad(batch, ((0, batch_size - m), (0, 0), (0, 0), (0, 0)))
    f, p = jax.device_get(_apply(params, jax.device_put(batch)))
    feats[start : start + m], probs[start : start + m] = f[:m], p[:m]
  return feats, probs


# eq=False: hashed by identity (params are an unhashable dict), so a loaded
# classifier can key the in-memory cache of reference features.
@dataclasses.dataclass(frozen=True, eq=False)
class Classifier:
  """Loaded, verified classifier weights and where they came from."""

  params: Params
  path: str
  sha256: str

  def features_and_probs(
    self, images: np.ndarray, batch_size: int = 500
  ) -> tuple[np.ndarray, np.ndarray]:
    """See the module-level `features_and_probs`."""
    return features_and_probs(self.params, images, batch_size)


def load_classifier(
  path: str | os.PathLike | None = None,
  expected_sha256: str = WEIGHTS_SHA256,
) -> Classifier:
  """Loads the committed classifier (or `path`), verifying its checksum.

  Args:
    path: weights file; default the committed `WEIGHTS_PATH`.
    expected_sha256: checksum the file must have; pass another only for a
      classifier you trained yourself, and never compare its numbers with
      those of the committed one.

  Returns:
    A `Classifier` with parameters on the default device.

  Raises:
    errors.DataError: one line naming the file and the expected checksum.
  """
  path = pathlib.Path(path) if path is not None else WEIGHTS_PATH
  params = jax.device_put(load_params(path, expected_sha256))
  return Classifier(params=params, path=str(path), sha256=expected_sha256)
