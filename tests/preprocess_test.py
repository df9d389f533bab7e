"""TFDS preprocessing ops, checked by hand on small synthetic images."""

import numpy as np
import pytest

from ssgan_jax import errors
from ssgan_jax import preprocess

tf = pytest.importorskip("tensorflow")


def _run(image, size, name, seed=None):
  out = preprocess.tf_preprocess(tf.constant(image), size, name, seed)
  return out.numpy()


def _ramp(h, w, c=3):
  return (np.arange(h * w * c).reshape(h, w, c) % 251).astype(np.uint8)


def test_center_crop_resize_is_block_mean_of_central_square():
  image = _ramp(40, 60)
  out = _run(image, 20, "center_crop_resize")
  square = image[:, 10:50].astype(np.float64)  # central 40x40
  want = square.reshape(20, 2, 20, 2, 3).mean(axis=(1, 3))
  assert out.dtype == np.uint8 and out.shape == (20, 20, 3)
  np.testing.assert_allclose(out, np.round(want), atol=1)


def test_center_crop_resize_keeps_images_of_the_right_size():
  image = _ramp(32, 32)
  np.testing.assert_array_equal(_run(image, 32, "center_crop_resize"), image)


def test_crop_or_pad_crops_centrally_and_pads_with_zeros():
  image = _ramp(140, 150)
  out = _run(image, 128, "crop_or_pad")
  np.testing.assert_array_equal(out, image[6:134, 11:139])
  small = _ramp(100, 120)
  out = _run(small, 128, "crop_or_pad")
  np.testing.assert_array_equal(out[14:114, 4:124], small)
  assert out[:14].max() == 0 and out[:, :4].max() == 0


def test_random_crop_resize_shape_and_values():
  flat = np.full((90, 70, 3), 77, np.uint8)
  tf.random.set_seed(0)
  out = _run(flat, 32, "random_crop_resize", seed=1)
  assert out.shape == (32, 32, 3)
  assert np.all(out == 77)  # a crop of a flat image stays flat
  tf.random.set_seed(0)
  a = _run(_ramp(90, 70), 32, "random_crop_resize", seed=1)
  tf.random.set_seed(0)
  b = _run(_ramp(90, 70), 32, "random_crop_resize", seed=1)
  np.testing.assert_array_equal(a, b)  # seeded: reproducible


def test_none_checks_the_size():
  image = _ramp(16, 16)
  np.testing.assert_array_equal(_run(image, 16, "none"), image)
  with pytest.raises(tf.errors.InvalidArgumentError, match="image_size"):
    _run(_ramp(16, 18), 16, "none")


def test_unknown_method_lists_the_known_ones():
  with pytest.raises(errors.ConfigError, match="choose one of: center_crop"):
    preprocess.check("bicubic")
