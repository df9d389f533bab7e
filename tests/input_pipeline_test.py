"""Embedded Fashion-MNIST loading, checksums, padding and the data order."""

import pathlib
import shutil

import numpy as np
import pytest
from conftest import tiny_config

from ssgan_jax import errors
from ssgan_jax import fashion_mnist
from ssgan_jax import input_pipeline
from ssgan_jax import preprocess


def test_load_real_files():
  x, y = fashion_mnist.load("test")
  assert x.shape == (10_000, 28, 28, 1) and x.dtype == np.uint8
  assert y.shape == (10_000,) and set(np.unique(y)) == set(range(10))
  xt, _ = fashion_mnist.load("train")
  assert xt.shape == (60_000, 28, 28, 1)


def test_padding_and_scaling():
  images, _ = input_pipeline.load_embedded("fashion_mnist", "test", 32)
  assert images.shape == (10_000, 32, 32, 1)
  assert np.all(images[:, :2] == 0) and np.all(images[:, :, -2:] == 0)
  f = preprocess.to_float(images[:5])
  assert f.min() == -1.0 and f.max() <= 1.0  # background -> -1


def _copy_data(tmp_path) -> pathlib.Path:
  src = fashion_mnist.default_data_dir()
  for name in fashion_mnist.FILES:
    shutil.copy(src / name, tmp_path / name)
  return tmp_path


def test_corrupt_file_is_reported(tmp_path):
  d = _copy_data(tmp_path)
  with open(d / "t10k-labels-idx1-ubyte.gz", "r+b") as f:
    f.seek(100)
    f.write(b"\x00\x01")
  fashion_mnist.load.cache_clear()
  with pytest.raises(
    errors.DataError, match="t10k-labels-idx1-ubyte.gz is corrupt.*8d3605d1"
  ):
    fashion_mnist.load("test", str(d))


def test_missing_file_is_reported(tmp_path):
  d = _copy_data(tmp_path)
  (d / "t10k-images-idx3-ubyte.gz").unlink()
  fashion_mnist.load.cache_clear()
  with pytest.raises(errors.DataError, match="missing.*cc1d090a"):
    fashion_mnist.load("test", str(d))


def test_unknown_split():
  with pytest.raises(errors.DataError, match="known splits: train, test"):
    fashion_mnist.load("validation")


def _source(process_index=0, process_count=1, seed=0, b=8, n_dis=2):
  images = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1)
  return input_pipeline.ArraySource(
    images, b, n_dis, seed, process_index, process_count
  )


def test_data_order_is_function_of_seed_and_step():
  a, b = _source(), _source()
  # Any step can be computed directly: resume sees the same batches.
  for step in (0, 3, 7, 100):
    np.testing.assert_array_equal(a.indices(step), b.indices(step))
  # Each epoch is a permutation: 20 images, 16 per step -> the first 20
  # positions (steps 0 and the first 4 of step 1) cover every image once.
  first = np.concatenate([a.indices(0).ravel(), a.indices(1).ravel()])[:20]
  assert sorted(first) == list(range(20))
  assert not np.array_equal(_source(seed=1).indices(0), a.indices(0))


def test_process_slices_form_the_global_batch():
  whole = _source().indices(5)  # [n_dis, 8]
  parts = [_source(i, 2).indices(5) for i in range(2)]
  np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


def test_source_batch_shape_from_config():
  c = tiny_config(**{"disc_iters": 2})
  x = input_pipeline.create_source(c).host_batch(0)
  assert x.shape == (2, 8, 32, 32, 1) and x.dtype == np.float32
  assert -1.0 <= x.min() and x.max() <= 1.0


def test_unprepared_tfds_dataset_fails_fast(tmp_path):
  c = tiny_config(
    **{
      "dataset.name": "cifar10",
      "dataset.channels": 3,
      "dataset.download": False,
      "dataset.data_dir": str(tmp_path),
    }
  )
  with pytest.raises(
    errors.DataError, match=f"'cifar10' is not prepared in data_dir {tmp_path}"
  ):
    input_pipeline.create_source(c)


def test_unknown_dataset_name():
  c = tiny_config(**{"dataset.name": "fashion_mnistt"})
  with pytest.raises(errors.DataError, match="neither one of ours"):
    input_pipeline.create_source(c)
