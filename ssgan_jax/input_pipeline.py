"""Training data: per-process host batches whose order is a function of (seed, step).

  source = create_source(config)
  local = source.host_batch(step)        # [n_dis, B_local, H, W, C] float32
  images = sharding.host_to_global(local, mesh)
  local, labels = source.host_batch(step, with_labels=True)  # Cond-GAN

Images are float32 in [-1, 1], square, `config.dataset.image_size` wide;
labels are int32 [n_dis, B_local], those of the same examples. A Cond-GAN
run (`state.is_conditional`) needs them: the dataset must have a "label"
feature with values in [0, dataset.num_classes), checked up front.

Two sources:
* `ArraySource` (default, `dataset.in_memory=True`): the whole split in host
  memory as uint8. Global example `p` of the run (p = (step * n_dis + i) * B + j)
  is `perm_e[p mod N]` with e = p // N and `perm_e` a permutation seeded by
  (seed, e). Any step's batch is computed directly, so a resumed run sees
  exactly the data an uninterrupted run would have, and every process takes
  its slice of the same global batch (multi-process == single-process).
* `record_source.RecordSource` (`in_memory=False`): random access to a TFDS
  split prepared as ArrayRecord, for datasets larger than host memory, in
  the same order (`data_order`): resumes and processes behave as above.

Datasets by `dataset.name` (the `DATASETS` registry; a new one is a
loader function and one `DATASETS.register` line): `fashion_mnist` is the
embedded, checksummed copy (no TFDS, no download), padded 28 -> 32 with the
background value (-1 after scaling); `folder` is a directory of the user's images
(`dataset.path`, see `image_folder`), always in memory; any other name is
a TFDS dataset (in memory, or by index from ArrayRecord files).
"""

import logging as std_logging
import os
import pathlib
import shutil
from collections.abc import Callable
from typing import NamedTuple

import jax
import ml_collections
import numpy as np

from ssgan_jax import data_order
from ssgan_jax import errors
from ssgan_jax import fashion_mnist
from ssgan_jax import image_folder
from ssgan_jax import preprocess
from ssgan_jax import registry
from ssgan_jax import state as state_lib

EMBEDDED = ("fashion_mnist",)


def pad_to(images: np.ndarray, size: int) -> np.ndarray:
  """Pads uint8 [N, h, w, C] with 0 (black background) to [N, size, size, C]."""
  n, h, w, c = images.shape
  if size < max(h, w) or (size - h) % 2 or (size - w) % 2:
    raise errors.ConfigError(
      f"dataset.image_size={size} cannot be reached by symmetric padding"
      f" from {h}x{w}; use {max(h, w)} + an even number (default 32)."
    )
  ph, pw = (size - h) // 2, (size - w) // 2
  return np.pad(images, ((0, 0), (ph, ph), (pw, pw), (0, 0)))


def load_embedded(name: str, split: str, size: int, data_dir: str = ""):
  """The embedded dataset as (uint8 [N, size, size, C], int32 labels [N])."""
  images, labels = fashion_mnist.load(split, data_dir or None)
  return pad_to(np.asarray(images), size), labels


def _tfds_builder(
  dc: ml_collections.ConfigDict, file_format: str | None = None
):
  """Returns a prepared TFDS builder or raises a one-line DataError.

  `file_format` is the format to prepare in when TFDS downloads (ArrayRecord
  for the random-access source); a split already prepared is used as it is.
  """
  try:
    import tensorflow as tf  # noqa: F401  # pylint: disable=g-import-not-at-top,unused-import
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.DataError(
      f"dataset {dc.name!r} is read through TFDS, which needs {e.name} (not"
      " installed here); `pip install tensorflow-cpu tensorflow-datasets`,"
      f" or train on the embedded {', '.join(EMBEDDED)} or a folder of images"
      " (dataset.name='folder'), which need neither."
    ) from None

  data_dir = dc.data_dir or None
  shown_dir = data_dir or os.path.expanduser("~/tensorflow_datasets")
  try:
    builder = tfds.builder(dc.name, data_dir=data_dir)
  except Exception:  # pylint: disable=broad-except
    # DatasetNotFoundError, or a malformed name such as "fashion-mnist".
    raise errors.DataError(
      f"dataset {dc.name!r} is neither one of ours ({', '.join(DATASETS)})"
      " nor a TFDS dataset; see `tfds.list_builders()` for TFDS names."
    ) from None
  if builder.is_prepared():
    return builder
  if not dc.download:
    fmt = f" --file_format={file_format}" if file_format else ""
    raise errors.DataError(
      f"TFDS dataset {dc.name!r} is not prepared in data_dir {shown_dir};"
      f" prepare it there (`tfds build {dc.name} --data_dir {shown_dir}{fmt}`)"
      " or set --config.dataset.download=True on a machine with internet."
    )
  try:
    if file_format:
      builder = tfds.builder(
        dc.name, data_dir=data_dir, file_format=file_format
      )
    _download_and_prepare(builder, shown_dir)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.DataError(
      f"could not download/prepare TFDS dataset {dc.name!r} into data_dir"
      f" {shown_dir} ({type(e).__name__}); on an offline machine prepare it"
      " elsewhere and copy it there, or set --config.dataset.data_dir."
    ) from None
  return builder


# TFDS retries a failed request 10 times with exponential backoff (0.2 s
# doubling: ~200 s) before it reports an offline machine. A few retries
# still ride out a transient error; an offline machine fails in seconds.
DOWNLOAD_RETRIES = 2


def _download_and_prepare(builder, data_dir: str) -> None:
  """`builder.download_and_prepare()`, failing fast and leaving no debris.

  On failure what the attempt created for this dataset (its folder and its
  `downloads/<name>` folder with TFDS's `*.tmp.*` downloads) is removed,
  then any folder it created that is left empty, so that a failed download
  leaves the data_dir as it was. Other datasets' files are not touched,
  even if another process is preparing one in the same data_dir.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.core.download import downloader  # pylint: disable=g-import-not-at-top

  root = pathlib.Path(data_dir)
  before = set(root.rglob("*")) if root.exists() else set()
  root_existed = root.exists()
  retries = downloader.MAX_RETRIES
  downloader.MAX_RETRIES = DOWNLOAD_RETRIES
  tfds.disable_progress_bar()  # its bars would be the lines before the error
  # urllib3 warns about each retry; the outcome reaches the user as one line.
  urllib3_log = std_logging.getLogger("urllib3")
  urllib3_level = urllib3_log.level
  urllib3_log.setLevel(std_logging.ERROR)
  try:
    builder.download_and_prepare()
  except BaseException:
    created = set(root.rglob("*")) - before if root.exists() else set()
    owned = (root / builder.name, root / "downloads" / builder.name)
    deepest_first = sorted(created, key=lambda p: len(p.parts), reverse=True)
    for path in deepest_first:
      if not any(path == o or o in path.parents for o in owned):
        continue
      if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
      else:
        path.unlink(missing_ok=True)
    for path in deepest_first:  # e.g. downloads/extracted, left empty
      if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
        path.rmdir()
    if not root_existed and root.exists() and not any(root.iterdir()):
      root.rmdir()
    raise
  finally:
    downloader.MAX_RETRIES = retries
    urllib3_log.setLevel(urllib3_level)


def _cond_gan_needs_labels(name: str) -> errors.DataError:
  return errors.DataError(
    f"dataset {name!r} has no 'label' feature; Cond-GAN"
    " (model.generator.norm='conditional', model.discriminator.projection)"
    " needs a labelled dataset (e.g. cifar10, imagenet2012)."
  )


def _tf_preprocess(image, dc: ml_collections.ConfigDict, seed=None, train=True):
  """TF op: uint8 [h, w, C] -> uint8 [size, size, C] by `dc.preprocess`.

  Outside training (reference and probe splits) a random crop becomes the
  central one, so that evaluation images are fixed.
  """
  method = dc.preprocess
  if not train and method == "random_crop_resize":
    method = "center_crop_resize"
  return preprocess.tf_preprocess(image, dc.image_size, method, seed)


def load_tfds_in_memory(dc: ml_collections.ConfigDict, train: bool = True):
  """A whole TFDS split as uint8 [N, size, size, C] (and labels if any)."""
  builder = _tfds_builder(dc)  # a missing TFDS is one line from here
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  from ssgan_jax import record_source  # pylint: disable=g-import-not-at-top

  if record_source.file_format(builder) == "array_record":  # no tf.data
    return record_source.read_split(builder, dc, dc.split, train)
  ds = builder.as_dataset(split=dc.split, shuffle_files=False)
  ds = ds.map(
    lambda ex: (
      _tf_preprocess(ex["image"], dc, train=train),
      ex.get("label", -1),
    )
  )
  images, labels = [], []
  for img, lab in tfds.as_numpy(ds.batch(1024)):
    images.append(img)
    labels.append(lab)
  return np.concatenate(images), np.concatenate(labels).astype(np.int32)


class ArraySource:
  """Batches from an in-memory uint8 array, a pure function of (seed, step)."""

  def __init__(
    self,
    images: np.ndarray,
    batch_size: int,
    disc_iters: int,
    seed: int,
    process_index: int = 0,
    process_count: int = 1,
    labels: np.ndarray | None = None,
  ):
    """Args: images [N, H, W, C] uint8; batch_size is global; labels [N]."""
    if labels is not None and len(labels) != len(images):
      raise ValueError(f"{len(labels)} labels for {len(images)} images")
    self.images = images
    self.labels = None if labels is None else np.asarray(labels, np.int32)
    self.order = data_order.ExampleOrder(
      len(images), batch_size, disc_iters, seed, process_index, process_count
    )
    # A folder dataset's example list (see `record`); None otherwise.
    self.index: dict | None = None

  def indices(self, step: int) -> np.ndarray:
    """Dataset indices of this process's examples at `step`: [n_dis, B_local]."""
    return self.order.indices(step)

  def host_batch(self, step: int, with_labels: bool = False):
    """[n_dis, B_local, H, W, C] float32 in [-1, 1] (and labels).

    With `with_labels`, returns (images, labels [n_dis, B_local] int32),
    both read at the same `indices(step)`: labels follow the data order
    exactly, on resume and across processes alike.
    """
    idx = self.indices(step)
    images = preprocess.to_float(self.images[idx])
    if not with_labels:
      return images
    if self.labels is None:
      raise ValueError("this ArraySource was built without labels")
    return images, self.labels[idx]


class Loaded(NamedTuple):
  """A split in host memory, as a dataset loader returns it."""

  images: np.ndarray  # uint8 [N, S, S, C]
  labels: np.ndarray  # int32 [N]; -1 where unlabelled (Cond-GAN refuses)
  # What a resumed run must see again (a folder's file list; see `record`).
  index: dict | None = None


# dataset.name -> load(dc, split, workdir, min_images) -> Loaded, for the
# datasets read without TFDS; every other name is a TFDS dataset. `split`
# is None for the training split (preprocessed as for training), a split
# name otherwise; `min_images` is the batch a training split must fill.
DATASETS: registry.Registry[Callable[..., Loaded]] = registry.Registry(
  "dataset"
)


@DATASETS.register("fashion_mnist")
def _load_fashion_mnist(dc, split, workdir, min_images) -> Loaded:
  del workdir, min_images  # 60k / 10k images, no index to keep
  return Loaded(
    *load_embedded(dc.name, split or dc.split, dc.image_size, dc.data_dir)
  )


@DATASETS.register("folder")
def _load_folder(dc, split, workdir, min_images) -> Loaded:
  """`dataset.path` (see `image_folder`); the index of a run in `workdir`."""
  if split not in (None, dc.split):
    raise errors.DataError(
      f"dataset 'folder' has one split, the folder itself; split {split!r}"
      " cannot be read from it. Evaluate against reference statistics"
      " (eval.reference_stats) made from held-out images instead."
    )
  index = image_folder.resolve_index(dc.path, image_folder.read_index(workdir))
  images, labels = image_folder.load(
    dc.path, index, dc.image_size, dc.preprocess, min_images
  )
  return Loaded(images, labels, index)


def load_split(
  dc: ml_collections.ConfigDict, split: str | None = None, workdir=None
):
  """Any configured dataset split as (uint8 [N, S, S, C], labels [N]).

  The training split (split None) is preprocessed as for training; any
  other split as for evaluation (central crops, see `_tf_preprocess`). A
  folder's examples are those of the index a run in `workdir` started
  with, if any (see `image_folder`).
  """
  loaded = _load(dc, split, workdir, min_images=1)
  return loaded.images, loaded.labels


def _load(dc, split, workdir, min_images) -> Loaded:
  if dc.name in DATASETS:
    return DATASETS.get(dc.name)(dc, split, workdir, min_images)
  train = split is None
  dc = ml_collections.ConfigDict(dc.to_dict())
  dc.split = split or dc.split
  return Loaded(*load_tfds_in_memory(dc, train=train))


def record(source, workdir) -> None:
  """Writes what a resumed run needs to see the same data (process 0).

  A folder's example list (`image_folder.INDEX_FILE`); nothing for the
  other sources, whose order is fixed by the dataset itself.
  """
  index = getattr(source, "index", None)
  if index is not None:
    image_folder.write_index(workdir, index)


def create_source(config: ml_collections.ConfigDict, workdir=None):
  """The training source for `config` (see module docstring).

  For a Cond-GAN run the source carries the labels and checks them here,
  before anything is compiled: a dataset without labels, or with labels
  outside [0, dataset.num_classes), is a one-line DataError. `workdir`
  (only read here) is where a resumed folder run finds its index.
  """
  dc = config.dataset
  conditional = state_lib.is_conditional(config)
  if conditional and dc.name not in DATASETS:
    if "label" not in _tfds_builder(dc).info.features:
      raise _cond_gan_needs_labels(dc.name)
  if dc.name in DATASETS or dc.in_memory:
    images, labels, index = _load(dc, None, workdir, config.batch_size)
    if conditional and labels.size and labels.min() < 0:
      raise errors.DataError(
        f"dataset {dc.name!r} is unlabelled here (a folder without class"
        " sub-directories); Cond-GAN (model.generator.norm='conditional')"
        " needs labels: one sub-directory of images per class."
      )
    if images.shape[-1] != dc.channels:
      raise errors.ConfigError(
        f"dataset {dc.name!r} has {images.shape[-1]} image channel(s) but"
        f" dataset.channels={dc.channels}; set it to {images.shape[-1]}."
      )
    if conditional:
      preprocess.check_labels(labels, dc.num_classes, dc.name)
    source = ArraySource(
      images,
      config.batch_size,
      config.disc_iters,
      config.seed,
      jax.process_index(),
      jax.process_count(),
      labels=labels if conditional else None,
    )
    source.index = index
    return source
  from ssgan_jax import record_source  # pylint: disable=g-import-not-at-top

  return record_source.RecordSource(
    _tfds_builder(dc, file_format="array_record"),
    dc,
    config.batch_size,
    config.disc_iters,
    config.seed,
    jax.process_index(),
    jax.process_count(),
    labels=conditional,
  )
