"""Per-image preprocessing of TFDS images: crops and resizes, as tf.data ops.

`dataset.preprocess` names one of these (all map uint8 [h, w, C] to uint8
[size, size, C]; rotation views are made later, on the final images):

| name                 | what                                       | used for (compare_gan facts)      |
| -------------------- | ------------------------------------------ | --------------------------------- |
| `center_crop_resize` | central square crop, area resize to size   | CIFAR10 (no-op), ImageNet eval    |
| `random_crop_resize` | random square crop of 50-100 % of the area, | ImageNet train ("distorted" crop) |
|                      | then area resize                           |                                   |
| `crop_or_pad`        | central crop (or zero pad) to size, no     | LSUN-Bedroom 128                  |
|                      | resize                                     |                                   |
| `none`               | checks the image already has the size      | CelebA-HQ 128 (`celeb_a_hq/128`)  |

compare_gan resized with `tf.image.resize_images` (bilinear); we use area
averaging with antialiasing, which avoids aliasing when shrinking ImageNet's
~400 px images to 128 px. FID reference statistics must be made with the
same preprocessing as training (see docs/fid.md).

Below them, the numpy steps every image source shares after decoding
(`to_float`, `check_labels`), here so that the TFDS/ArrayRecord readers and
input_pipeline use one copy without importing each other.
"""

import numpy as np

from ssgan_jax import errors

PREPROCESSING = (
  "center_crop_resize",
  "random_crop_resize",
  "crop_or_pad",
  "none",
)
# Area range of the random square crop (compare_gan's "distorted" crop).
RANDOM_CROP_AREA = (0.5, 1.0)


def check(name: str) -> str:
  if name not in PREPROCESSING:
    raise errors.ConfigError(
      f"unknown dataset.preprocess {name!r}; choose one of: "
      + ", ".join(PREPROCESSING)
      + "."
    )
  return name


def _resize(image, size: int):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  shape = tf.shape(image)
  out = tf.image.resize(image, (size, size), method="area", antialias=True)
  out = tf.cast(tf.clip_by_value(tf.round(out), 0, 255), image.dtype)
  # Already the right size: pass through unchanged (no rounding).
  return tf.cond(
    tf.logical_and(tf.equal(shape[0], size), tf.equal(shape[1], size)),
    lambda: image,
    lambda: out,
  )


def tf_preprocess(
  image,
  size: int,
  name: str = "center_crop_resize",
  seed=None,
  stateless_seed=None,
):
  """TF op: uint8 [h, w, C] -> uint8 [size, size, C] by method `name`.

  Args:
    image: uint8 [h, w, C] tensor.
    size: output side.
    name: one of PREPROCESSING.
    seed: op seed of `random_crop_resize` (the run's data seed).
    stateless_seed: int64 [2] instead of `seed`: the crop is a function of
      it alone (the random-access source passes (seed, example position)).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  check(name)
  channels = image.shape[-1]
  if name == "center_crop_resize":
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    s = tf.minimum(h, w)
    image = tf.image.crop_to_bounding_box(
      image, (h - s) // 2, (w - s) // 2, s, s
    )
    image = _resize(image, size)
  elif name == "random_crop_resize":
    box = dict(
      image_size=tf.shape(image),
      bounding_boxes=tf.zeros([0, 0, 4], tf.float32),
      aspect_ratio_range=(1.0, 1.0),
      area_range=RANDOM_CROP_AREA,
      use_image_if_no_bounding_boxes=True,
    )
    if stateless_seed is not None:
      begin, crop, _ = tf.image.stateless_sample_distorted_bounding_box(
        **box, seed=stateless_seed
      )
    else:
      begin, crop, _ = tf.image.sample_distorted_bounding_box(**box, seed=seed)
    image = tf.slice(image, begin, crop)
    image = _resize(image, size)
  elif name == "crop_or_pad":
    image = tf.image.resize_with_crop_or_pad(image, size, size)
  else:  # "none"
    tf.debugging.assert_equal(
      tf.shape(image)[:2],
      tf.constant([size, size]),
      message=(
        "dataset.preprocess='none' needs images of dataset.image_size;"
        " choose center_crop_resize"
      ),
    )
  image = tf.ensure_shape(image, (size, size, channels))
  return tf.cast(image, tf.uint8)


def to_float(images: np.ndarray) -> np.ndarray:
  """uint8 [..., C] in 0..255 -> float32 in [-1, 1]."""
  return images.astype(np.float32) / 127.5 - 1.0


def check_labels(labels: np.ndarray, num_classes: int, name: str) -> None:
  """One-line DataError unless every label is in [0, num_classes)."""
  labels = np.asarray(labels)
  if labels.size == 0:
    return
  lo, hi = int(labels.min()), int(labels.max())
  if lo < 0 or hi >= num_classes:
    raise errors.DataError(
      f"dataset {name!r} has labels in [{lo}, {hi}], outside [0,"
      f" {num_classes}) for dataset.num_classes={num_classes}; set"
      " dataset.num_classes to the dataset's number of classes."
    )
