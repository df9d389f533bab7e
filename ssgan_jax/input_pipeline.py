"""Training data: per-process host batches whose order is a function of (seed, step).

  source = create_source(config)
  local = source.host_batch(step)        # [n_dis, B_local, H, W, C] float32
  images = sharding.host_to_global(local, mesh)

Images are float32 in [-1, 1], square, `config.dataset.image_size` wide.

Two sources:
* `ArraySource` (default, `dataset.in_memory=True`): the whole split in host
  memory as uint8. Global example `p` of the run (p = (step * n_dis + i) * B + j)
  is `perm_e[p mod N]` with e = p // N and `perm_e` a permutation seeded by
  (seed, e). Any step's batch is computed directly, so a resumed run sees
  exactly the data an uninterrupted run would have, and every process takes
  its slice of the same global batch (multi-process == single-process).
* `StreamSource` (`in_memory=False`): a tf.data pipeline over a TFDS split,
  sharded per process with `tfds.split_for_jax_process`, shuffled with a seed
  folded with the start step (a resumed run continues with fresh data).

`fashion_mnist` is the embedded, checksummed copy (no TFDS, no download),
padded 28 -> 32 with the background value (-1 after scaling).
"""

import os

import jax
import ml_collections
import numpy as np

from ssgan_jax import errors
from ssgan_jax import fashion_mnist

EMBEDDED = ("fashion_mnist",)


def to_float(images: np.ndarray) -> np.ndarray:
  """uint8 [..., C] in 0..255 -> float32 in [-1, 1]."""
  return images.astype(np.float32) / 127.5 - 1.0


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


def _tfds_builder(dc: ml_collections.ConfigDict):
  """Returns a prepared TFDS builder or raises a one-line DataError."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  data_dir = dc.data_dir or None
  shown_dir = data_dir or os.path.expanduser("~/tensorflow_datasets")
  try:
    builder = tfds.builder(dc.name, data_dir=data_dir)
  except Exception:  # pylint: disable=broad-except
    # DatasetNotFoundError, or a malformed name such as "fashion-mnist".
    raise errors.DataError(
      f"dataset {dc.name!r} is neither embedded ({', '.join(EMBEDDED)}) nor"
      " a TFDS dataset; see `tfds.list_builders()` for TFDS names."
    ) from None
  if builder.is_prepared():
    return builder
  if not dc.download:
    raise errors.DataError(
      f"TFDS dataset {dc.name!r} is not prepared in data_dir {shown_dir};"
      f" prepare it there (`tfds build {dc.name} --data_dir {shown_dir}`) or"
      " set --config.dataset.download=True on a machine with internet."
    )
  try:
    builder.download_and_prepare()
  except Exception as e:  # pylint: disable=broad-except
    raise errors.DataError(
      f"could not download/prepare TFDS dataset {dc.name!r} into data_dir"
      f" {shown_dir} ({type(e).__name__}); on an offline machine prepare it"
      " elsewhere and copy it there, or set --config.dataset.data_dir."
    ) from None
  return builder


def _tf_preprocess(image, size: int):
  """TF op: uint8 [h, w, C] -> central square crop -> uint8 [size, size, C]."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  h, w = tf.shape(image)[0], tf.shape(image)[1]
  s = tf.minimum(h, w)
  image = tf.image.crop_to_bounding_box(image, (h - s) // 2, (w - s) // 2, s, s)
  if image.shape[0] != size:
    image = tf.image.resize(image, (size, size), method="area", antialias=True)
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
  return image


def load_tfds_in_memory(dc: ml_collections.ConfigDict):
  """A whole TFDS split as uint8 [N, size, size, C] (and labels if any)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  builder = _tfds_builder(dc)
  ds = builder.as_dataset(split=dc.split, shuffle_files=False)
  ds = ds.map(
    lambda ex: (_tf_preprocess(ex["image"], dc.image_size), ex.get("label", -1))
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
  ):
    """Args: images [N, H, W, C] uint8; batch_size is global."""
    self.images = images
    self.batch_size = batch_size
    self.disc_iters = disc_iters
    self.seed = seed
    self.local = batch_size // process_count
    self.offset = process_index * self.local
    self._perms: dict[int, np.ndarray] = {}

  def _perm(self, epoch: int) -> np.ndarray:
    if epoch not in self._perms:
      if len(self._perms) > 2:
        self._perms.pop(min(self._perms))
      rng = np.random.default_rng([self.seed, epoch])
      self._perms[epoch] = rng.permutation(len(self.images))
    return self._perms[epoch]

  def indices(self, step: int) -> np.ndarray:
    """Dataset indices of this process's examples at `step`: [n_dis, B_local]."""
    n = len(self.images)
    base = (
      step * self.disc_iters + np.arange(self.disc_iters)
    ) * self.batch_size
    pos = base[:, None] + self.offset + np.arange(self.local)[None, :]
    out = np.empty_like(pos)
    for epoch in np.unique(pos // n):
      mask = pos // n == epoch
      out[mask] = self._perm(int(epoch))[pos[mask] % n]
    return out

  def host_batch(self, step: int) -> np.ndarray:
    """[n_dis, B_local, H, W, C] float32 in [-1, 1]."""
    return to_float(self.images[self.indices(step)])


class StreamSource:
  """tf.data over a TFDS split, for datasets that do not fit in memory.

  The pipeline is built on the first `host_batch(step)` call, with the
  shuffle seed folded with that step: a resumed run continues with fresh
  (not repeated) data.
  """

  def __init__(self, dc, batch_size: int, disc_iters: int, seed: int):
    self.builder = _tfds_builder(dc)  # fails fast when not available
    self.dc = dc
    self.local = batch_size // jax.process_count()
    self.disc_iters = disc_iters
    self.seed = seed
    self._it = None

  def _make_iterator(self, start_step: int):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

    dc = self.dc
    split = tfds.split_for_jax_process(dc.split, drop_remainder=True)
    ds_seed = int(
      np.random.default_rng([self.seed, start_step]).integers(2**31)
    )
    ds = self.builder.as_dataset(
      split=split,
      shuffle_files=True,
      read_config=tfds.ReadConfig(shuffle_seed=ds_seed),
    )
    ds = ds.repeat().shuffle(dc.shuffle_buffer, seed=ds_seed)
    ds = ds.map(
      lambda ex: _tf_preprocess(ex["image"], dc.image_size),
      num_parallel_calls=tf.data.AUTOTUNE,
    )
    ds = ds.batch(self.local, drop_remainder=True).batch(self.disc_iters)
    return iter(tfds.as_numpy(ds.prefetch(2)))

  def host_batch(self, step: int) -> np.ndarray:
    if self._it is None:
      self._it = self._make_iterator(step)
    return to_float(next(self._it))


def load_split(dc: ml_collections.ConfigDict, split: str | None = None):
  """Any configured dataset split as (uint8 [N, S, S, C], labels [N])."""
  split = split or dc.split
  if dc.name in EMBEDDED:
    return load_embedded(dc.name, split, dc.image_size, dc.data_dir)
  dc = ml_collections.ConfigDict(dc.to_dict())
  dc.split = split
  return load_tfds_in_memory(dc)


def create_source(config: ml_collections.ConfigDict):
  """The training source for `config` (see module docstring)."""
  dc = config.dataset
  if dc.name in EMBEDDED or dc.in_memory:
    images, _ = load_split(dc)
    if images.shape[-1] != dc.channels:
      raise errors.ConfigError(
        f"dataset {dc.name!r} has {images.shape[-1]} image channel(s) but"
        f" dataset.channels={dc.channels}; set it to {images.shape[-1]}."
      )
    return ArraySource(
      images,
      config.batch_size,
      config.disc_iters,
      config.seed,
      jax.process_index(),
      jax.process_count(),
    )
  return StreamSource(dc, config.batch_size, config.disc_iters, config.seed)
