"""dataset.in_memory=False: random access to ArrayRecord, data order f(seed, step).

A tiny TFDS dataset (160 embedded Fashion-MNIST test images) is built
offline in both formats, once per module.
"""

import ml_collections
import numpy as np
import pytest
import tiny_tfds
from conftest import run_main
from conftest import tiny_config

from ssgan_jax import errors
from ssgan_jax import input_pipeline
from ssgan_jax import record_source


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
  root = tmp_path_factory.mktemp("tfds")
  tiny_tfds.build(root / "ar", "array_record")
  tiny_tfds.build(root / "tr", "tfrecord")
  return root


def _config(data_dir, in_memory=False, **overrides):
  c = tiny_config(
    **{
      "dataset.name": tiny_tfds.NAME,
      "dataset.data_dir": str(data_dir),
      "dataset.download": False,
      "dataset.in_memory": in_memory,
      "dataset.read_threads": 2,
      "dataset.prefetch_batches": 2,
      "disc_iters": 2,
      **overrides,
    }
  )
  return c


def test_reads_the_in_memory_pixels_in_the_shared_order(data_dirs):
  config = _config(data_dirs / "ar")
  source = input_pipeline.create_source(config)
  assert isinstance(source, record_source.RecordSource)
  images, _ = input_pipeline.load_split(_config(data_dirs / "ar", True).dataset)
  assert images.shape == (160, 32, 32, 1)
  memory = input_pipeline.ArraySource(images, 8, 2, config.seed)
  # Steps past the first epoch (160 examples = 10 steps of 2 x 8).
  for step in (0, 1, 12):
    np.testing.assert_array_equal(
      source.host_batch(step), memory.host_batch(step)
    )


def test_resume_and_processes_read_the_uninterrupted_batches(data_dirs):
  config = _config(
    data_dirs / "ar",
    **{
      "model.generator.norm": "conditional",
      "model.discriminator.projection": True,
    },
  )
  config.ssl = ml_collections.ConfigDict()
  run = input_pipeline.create_source(config)
  uninterrupted = [run.host_batch(s, with_labels=True) for s in range(6)]
  resumed = input_pipeline.create_source(config)
  for s in (3, 4, 5):
    x, y = resumed.host_batch(s, with_labels=True)
    np.testing.assert_array_equal(x, uninterrupted[s][0])
    np.testing.assert_array_equal(y, uninterrupted[s][1])
  builder = input_pipeline._tfds_builder(config.dataset)  # pylint: disable=protected-access
  halves = [
    record_source.RecordSource(
      builder, config.dataset, 8, 2, config.seed, i, 2, labels=True
    )
    for i in range(2)
  ]
  for s in (0, 5):
    parts = [h.host_batch(s, with_labels=True) for h in halves]
    np.testing.assert_array_equal(
      np.concatenate([p[0] for p in parts], 1), uninterrupted[s][0]
    )
    np.testing.assert_array_equal(
      np.concatenate([p[1] for p in parts], 1), uninterrupted[s][1]
    )
  assert {int(v) for v in uninterrupted[0][1].ravel()} <= set(range(10))


def test_random_crops_are_fresh_each_epoch_and_equal_on_resume(data_dirs):
  config = _config(
    data_dirs / "ar",
    **{"dataset.preprocess": "random_crop_resize", "batch_size": 16},
  )
  # 160 examples, 2 x 16 per step: epoch e is steps 5e..5e+4.
  a = input_pipeline.create_source(config)
  b = input_pipeline.create_source(config)
  np.testing.assert_array_equal(a.host_batch(7), b.host_batch(7))
  epochs = [{}, {}]
  for step in range(10):
    x, idx = a.host_batch(step), a.order.indices(step)
    for i, j in np.ndindex(*idx.shape):
      epochs[step // 5][int(idx[i, j])] = x[i, j]
  assert len(epochs[0]) == len(epochs[1]) == 160
  differ = sum(
    not np.array_equal(epochs[0][k], epochs[1][k]) for k in epochs[0]
  )
  assert differ > 0.9 * 160, differ


def test_tfrecord_split_says_how_to_re_prepare(data_dirs):
  with pytest.raises(errors.DataError) as e:
    input_pipeline.create_source(_config(data_dirs / "tr"))
  msg = str(e.value)
  assert "is prepared as tfrecord" in msg and "\n" not in msg
  assert f"tfds build {tiny_tfds.NAME} --file_format=array_record" in msg
  # In memory, the TFRecord split is read with tf.data as before.
  images, labels = input_pipeline.load_split(
    _config(data_dirs / "tr", True).dataset
  )
  assert images.shape == (160, 32, 32, 1) and labels.shape == (160,)


def test_bad_reader_settings_are_one_line(data_dirs):
  from ssgan_jax import config_lib  # pylint: disable=g-import-not-at-top

  with pytest.raises(errors.ConfigError, match="read_threads=0 must be"):
    config_lib.validate(
      _config(data_dirs / "ar", **{"dataset.read_threads": 0})
    )


def test_main_trains_and_resumes_from_array_record(data_dirs, tmp_path):
  workdir = tmp_path / "run"
  flags = [
    f"--config.dataset.name={tiny_tfds.NAME}",
    f"--config.dataset.data_dir={data_dirs / 'ar'}",
    "--config.dataset.download=False",
    "--config.dataset.in_memory=False",
    "--config.dataset.read_threads=2",
  ]
  quick = "configs/fashion_mnist_ssgan.py:quick"
  out = run_main(workdir, *flags, "--config.total_steps=2", config=quick)
  assert out.returncode == 0, out.stderr[-3000:]
  out = run_main(workdir, *flags, config=quick)
  assert out.returncode == 0, out.stderr[-3000:]
  assert "Trained steps 2..4" in out.stderr
  assert (workdir / "checkpoints" / "4").is_dir()
