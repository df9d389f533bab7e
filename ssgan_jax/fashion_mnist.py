"""The embedded Fashion-MNIST dataset: checksummed IDX files -> numpy arrays.

  from ssgan_jax import fashion_mnist
  images, labels = fashion_mnist.load("train")   # [60000, 28, 28, 1] uint8

The files live in `data/fashion_mnist/` at the repository root (MIT licence,
(c) 2017 Zalando SE). They are verified by sha256 on every load so that a
truncated or edited file can never silently change an experiment.
"""

import functools
import gzip
import hashlib
import os
import pathlib

import numpy as np

from ssgan_jax import errors

# Debian's `dataset-fashion-mnist` re-gzipped the upstream files; these are
# the sha256 sums of those files (see data/fashion_mnist/README.md).
FILES = {
  "train-images-idx3-ubyte.gz": (
    "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"
  ),
  "train-labels-idx1-ubyte.gz": (
    "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"
  ),
  "t10k-images-idx3-ubyte.gz": (
    "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"
  ),
  "t10k-labels-idx1-ubyte.gz": (
    "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"
  ),
}
SPLITS = {
  "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
  "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
NUM_CLASSES = 10
CLASS_NAMES = (
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
)
# Environment variable that points at another copy of the four files.
DATA_DIR_ENV = "SSGAN_JAX_FASHION_MNIST_DIR"


def default_data_dir() -> pathlib.Path:
  """`$SSGAN_JAX_FASHION_MNIST_DIR`, else `<repo>/data/fashion_mnist`."""
  if os.environ.get(DATA_DIR_ENV):
    return pathlib.Path(os.environ[DATA_DIR_ENV])
  return _embedded_dir()


def _embedded_dir() -> pathlib.Path:
  return (
    pathlib.Path(__file__).resolve().parent.parent / "data" / "fashion_mnist"
  )


def _restore_hint(path: pathlib.Path) -> str:
  """How to get a good copy of `path` back, for the copy it is."""
  embedded = _embedded_dir()
  repo = embedded.parent.parent
  if path.resolve().parent == embedded and (repo / ".git").exists():
    return (
      f"restore it with `git checkout -- data/fashion_mnist/{path.name}` in"
      f" {repo}"
    )
  hint = (
    f"re-copy it into {path.parent} from Debian's dataset-fashion-mnist"
    " package or from the repository's data/fashion_mnist/"
  )
  if os.environ.get(DATA_DIR_ENV):
    hint += f", or unset ${DATA_DIR_ENV} to use the embedded copy"
  return hint


def sha256(path: pathlib.Path) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def _read_verified(path: pathlib.Path) -> bytes:
  """Returns the decompressed bytes of `path` after checking its sha256."""
  expected = FILES[path.name]
  if not path.is_file():
    raise errors.DataError(
      f"Fashion-MNIST file {path} is missing (expected sha256 {expected});"
      f" {_restore_hint(path)}, or point ${DATA_DIR_ENV} at a directory with"
      " the four IDX .gz files."
    )
  got = sha256(path)
  if got != expected:
    raise errors.DataError(
      f"Fashion-MNIST file {path} is corrupt: sha256 {got}, expected"
      f" {expected}; {_restore_hint(path)}."
    )
  with gzip.open(path, "rb") as f:
    return f.read()


def _parse_idx(raw: bytes, path: pathlib.Path) -> np.ndarray:
  """Parses the IDX format: magic (0, 0, dtype=0x08, ndim), big-endian dims."""
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
    raise errors.DataError(f"{path} is not a uint8 IDX file.")
  ndim = raw[3]
  dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
  data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
  if data.size != int(np.prod(dims)):
    raise errors.DataError(
      f"{path} has {data.size} values, header says {dims}."
    )
  return data.reshape(dims)


@functools.lru_cache(maxsize=4)
def load(
  split: str, data_dir: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
  """Loads a split as (images [N, 28, 28, 1] uint8, labels [N] int32).

  Args:
    split: "train" (60k) or "test" (10k).
    data_dir: directory holding the IDX .gz files; default `default_data_dir()`.

  Returns:
    Read-only arrays; callers must copy before mutating.
  """
  if split not in SPLITS:
    raise errors.DataError(
      f"unknown Fashion-MNIST split {split!r}; known splits: "
      + ", ".join(SPLITS)
      + "."
    )
  root = pathlib.Path(data_dir) if data_dir else default_data_dir()
  image_file, label_file = SPLITS[split]
  images = _parse_idx(_read_verified(root / image_file), root / image_file)
  labels = _parse_idx(_read_verified(root / label_file), root / label_file)
  if images.shape[0] != labels.shape[0]:
    raise errors.DataError(
      f"{root}: {images.shape[0]} images but {labels.shape[0]} labels."
    )
  images = images[..., None]  # [N, 28, 28, 1]
  images.setflags(write=False)
  labels = labels.astype(np.int32)
  labels.setflags(write=False)
  return images, labels
