"""Datasets larger than host memory: random access to ArrayRecord files.

`dataset.in_memory=False` (ImageNet, LSUN-Bedroom, CelebA-HQ) reads a TFDS
split prepared in the ArrayRecord format (`tfds build NAME
--file_format=array_record`) through `tfds.data_source`, example by
example, in the order of `data_order.ExampleOrder`: the same
f(seed, step) as the in-memory arrays, so a resumed run sees the batches
an uninterrupted one would and N processes see the batches of one. A
split prepared only as TFRecord (TFDS's default), which can be read only
in sequence, is a one-line error that gives the command re-preparing it.

Reading and preprocessing run in Grain's thread pool (`grain.MapDataset`
over step numbers, `dataset.read_threads` threads, `dataset.prefetch_batches`
batches ahead), so that the next batches are prepared while the devices
run the current step. Each example is decoded and preprocessed by the same
TensorFlow ops as the in-memory path (`preprocess.tf_preprocess`); a random
crop is seeded by (seed, p), so it is fresh every epoch and the same on
resume.
"""

import numpy as np

from ssgan_jax import data_order
from ssgan_jax import errors
from ssgan_jax import preprocess


def file_format(builder) -> str:
  """The format a TFDS builder's split was prepared in, e.g. "tfrecord"."""
  fmt = builder.info.file_format
  return str(getattr(fmt, "value", fmt))


def check_array_record(builder, dc) -> None:
  """One-line DataError unless `builder` was prepared as ArrayRecord."""
  fmt = file_format(builder)
  if fmt != "array_record":
    raise errors.DataError(
      f"dataset {dc.name!r} is prepared as {fmt} in {builder.data_dir}, which"
      " can only be read in sequence; dataset.in_memory=False reads"
      f" ArrayRecord: `tfds build {dc.name} --file_format=array_record"
      " --data_dir NEW_DIR` and set --config.dataset.data_dir=NEW_DIR (or"
      " set --config.dataset.in_memory=True if the split fits in memory)."
    )


def _preprocess_fn(dc, train: bool = True):
  """(encoded image bytes, int64 seed [2]) -> uint8 [S, S, C], traced once.

  Outside training a random crop becomes the central one, as in the
  in-memory path. Traced here, before any reader thread calls it: threads
  that all made the first call would each trace it again.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  method = dc.preprocess
  if not train and method == "random_crop_resize":
    method = "center_crop_resize"
  size, channels = dc.image_size, dc.channels

  @tf.function(
    input_signature=[
      tf.TensorSpec([], tf.string),
      tf.TensorSpec([2], tf.int64),
    ]
  )
  def fn(encoded, seed):
    image = tf.io.decode_image(
      encoded, channels=channels, expand_animations=False
    )
    return preprocess.tf_preprocess(image, size, method, stateless_seed=seed)

  return fn.get_concrete_function()


def _data_source(builder, split: str):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  # Undecoded images: decoding is the preprocessing function's first op.
  return builder.as_data_source(
    split=split, decoders={"image": tfds.decode.SkipDecoding()}
  )


def read_split(builder, dc, split: str, train: bool):
  """A whole ArrayRecord split: (uint8 [N, S, S, C], int32 labels [N]).

  The in-memory path of an ArrayRecord dataset (evaluation splits, or
  in_memory=True), preprocessed by the same function as training reads.
  """
  data = _data_source(builder, split)
  fn = _preprocess_fn(dc, train)
  size, channels = dc.image_size, dc.channels
  images = np.empty((len(data), size, size, channels), np.uint8)
  labels = np.full((len(data),), -1, np.int32)
  for i in range(len(data)):
    example = data[i]
    images[i] = fn(example["image"], np.asarray([0, i], np.int64)).numpy()
    if "label" in example:
      labels[i] = example["label"]
  return images, labels


class RecordSource:
  """Batches read by index from an ArrayRecord split: f(seed, step)."""

  def __init__(
    self,
    builder,
    dc,
    batch_size: int,
    disc_iters: int,
    seed: int,
    process_index: int = 0,
    process_count: int = 1,
    labels: bool = False,
  ):
    check_array_record(builder, dc)
    self.dc = dc
    self.labels = labels
    self.seed = seed
    self.data = _data_source(builder, dc.split)
    self.order = data_order.ExampleOrder(
      len(self.data), batch_size, disc_iters, seed, process_index, process_count
    )
    self._fn = _preprocess_fn(dc)
    self._it = None
    self._next_step = None

  def read(self, step: int):
    """(uint8 [n_dis, B_local, S, S, C], int32 labels [n_dis, B_local])."""
    idx, pos = self.order.indices(step), self.order.positions(step)
    images = np.empty(
      (*idx.shape, self.dc.image_size, self.dc.image_size, self.dc.channels),
      np.uint8,
    )
    labels = np.full(idx.shape, -1, np.int32)
    for k in np.ndindex(*idx.shape):
      example = self.data[int(idx[k])]
      seed = np.asarray([self.seed, pos[k]], np.int64)
      images[k] = self._fn(example["image"], seed).numpy()
      if self.labels:
        labels[k] = example["label"]
    return images, labels

  def _iterator(self, start: int):
    import grain  # pylint: disable=g-import-not-at-top

    ds = grain.MapDataset.range(start, 2**62).map(self.read)
    return iter(
      ds.to_iter_dataset(
        grain.ReadOptions(
          num_threads=self.dc.read_threads,
          # Grain uses at most this many of the threads.
          prefetch_buffer_size=max(
            self.dc.prefetch_batches, self.dc.read_threads
          ),
        )
      )
    )

  def host_batch(self, step: int, with_labels: bool = False):
    """Images [n_dis, B_local, H, W, C] in [-1, 1] (and labels)."""
    if with_labels and not self.labels:
      raise ValueError("this RecordSource was built without labels")
    # Consecutive steps come from the prefetching iterator; any other step
    # (the first call, a resume, a test) starts it there.
    if self._it is None or step != self._next_step:
      self._it = self._iterator(step)
    images, labels = next(self._it)
    self._next_step = step + 1
    images = preprocess.to_float(images)
    if not with_labels:
      return images
    preprocess.check_labels(labels, self.dc.num_classes, self.dc.name)
    return images, labels
