"""A folder of the user's images as a dataset (`dataset.name='folder'`)."""

import json

import numpy as np
import pytest
from conftest import run_main
from conftest import run_module
from conftest import tiny_config
from PIL import Image

from ssgan_jax import errors
from ssgan_jax import fashion_mnist
from ssgan_jax import image_folder
from ssgan_jax import input_pipeline


def _png(path, array):
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(np.asarray(array, np.uint8)).save(path)


def _gray_folder(root, n=8, classes=None, size=32):
  """n images [size, size] of value 10*i (i-th file), optionally in classes."""
  for i in range(n):
    sub = f"{classes[i % len(classes)]}/" if classes else ""
    _png(root / f"{sub}img{i:02d}.png", np.full((size, size), 10 * i))
  return root


def _config(path, **overrides):
  return tiny_config(
    **{"dataset.name": "folder", "dataset.path": str(path), **overrides}
  )


# --- Index ---------------------------------------------------------------


def test_unlabelled_folder_is_sorted_recursive_and_skips_other_files(tmp_path):
  _png(tmp_path / "b.png", np.zeros((4, 4)))
  _png(tmp_path / "a.jpg", np.zeros((4, 4)))
  (tmp_path / "notes.txt").write_text("not an image")
  _png(tmp_path / ".hidden.png", np.zeros((4, 4)))
  # Sub-directories without images are no classes.
  (tmp_path / "empty").mkdir()
  index = image_folder.scan(str(tmp_path))
  assert index == {
    "files": ["a.jpg", "b.png"],
    "labels": [-1, -1],
    "classes": [],
  }


def test_class_folders_give_labels_in_sorted_class_order(tmp_path):
  _png(tmp_path / "zebra" / "1.png", np.zeros((4, 4)))
  _png(tmp_path / "cat" / "deep" / "2.png", np.zeros((4, 4)))
  _png(tmp_path / "cat" / "1.png", np.zeros((4, 4)))
  index = image_folder.scan(str(tmp_path))
  assert index["classes"] == ["cat", "zebra"]
  assert index["files"] == ["cat/1.png", "cat/deep/2.png", "zebra/1.png"]
  assert index["labels"] == [0, 0, 1]


# --- Decoding and resizing (hand-computed) --------------------------------


def test_center_crop_resize_crop_or_pad_and_none(tmp_path):
  # 6 wide, 2 high: the central square is columns 2..3.
  row = np.array([[0, 10, 20, 30, 40, 50]] * 2)
  _png(tmp_path / "wide.png", row)
  index = image_folder.scan(str(tmp_path))
  out, labels = image_folder.load(
    str(tmp_path), index, 2, "center_crop_resize", 1
  )
  np.testing.assert_array_equal(out[0, ..., 0], [[20, 30], [20, 30]])
  assert out.shape == (1, 2, 2, 1) and out.dtype == np.uint8
  assert labels.tolist() == [-1]
  # Shrinking 4x4 -> 2x2 averages each 2x2 block (area resize).
  (tmp_path / "wide.png").unlink()
  _png(tmp_path / "blocks.png", np.kron([[0, 40], [80, 120]], np.ones((2, 2))))
  index = image_folder.scan(str(tmp_path))
  out, _ = image_folder.load(str(tmp_path), index, 2, "center_crop_resize", 1)
  np.testing.assert_array_equal(out[0, ..., 0], [[0, 40], [80, 120]])
  # 4x4 -> 6x6 by crop_or_pad: centred, zero border.
  out, _ = image_folder.load(str(tmp_path), index, 6, "crop_or_pad", 1)
  expect = np.zeros((6, 6))
  expect[1:5, 1:5] = np.kron([[0, 40], [80, 120]], np.ones((2, 2)))
  np.testing.assert_array_equal(out[0, ..., 0], expect)
  with pytest.raises(errors.DataError, match=r"is 4x4, not 2x2"):
    image_folder.load(str(tmp_path), index, 2, "none", 1)


def test_rgb_and_rgba_images_have_three_channels(tmp_path):
  _png(tmp_path / "a.png", np.full((2, 2, 3), [1, 2, 3]))
  Image.fromarray(np.full((2, 2, 4), [4, 5, 6, 7], np.uint8), "RGBA").save(
    tmp_path / "b.png"
  )
  index = image_folder.scan(str(tmp_path))
  out, _ = image_folder.load(str(tmp_path), index, 2, "none", 1)
  assert out.shape == (2, 2, 2, 3)
  np.testing.assert_array_equal(out[:, 0, 0], [[1, 2, 3], [4, 5, 6]])


# --- Bad folders ------------------------------------------------------------
# The one-line answers to bad folders (empty, undecodable, mixed channels,
# too few, ...) are rows of tests/bad_inputs_test.py, so docs/errors.md
# lists them; here, the checks behind Cond-GAN, channels and splits.


def test_cond_gan_needs_class_folders_and_rgb_needs_channels(tmp_path):
  _gray_folder(tmp_path, n=8)
  cgan = _config(
    tmp_path,
    **{
      "model.generator.norm": "conditional",
      "model.discriminator.projection": True,
    },
  )
  cgan.ssl = {}
  with pytest.raises(
    errors.DataError,
    match="needs labels: one sub-directory of images per class",
  ):
    input_pipeline.create_source(cgan)
  with pytest.raises(errors.ConfigError, match="set it to 1"):
    input_pipeline.create_source(_config(tmp_path, **{"dataset.channels": 3}))
  with pytest.raises(errors.ConfigError, match="not available for a folder"):
    input_pipeline.create_source(
      _config(tmp_path, **{"dataset.preprocess": "random_crop_resize"})
    )
  with pytest.raises(errors.DataError, match="has one split"):
    input_pipeline.load_split(_config(tmp_path).dataset, "test")


# --- Determinism: resume and processes ------------------------------------


def test_resumed_run_keeps_its_order_when_files_are_added(tmp_path):
  data = _gray_folder(tmp_path / "data", n=8, classes=["a", "b"])
  workdir = tmp_path / "run"
  workdir.mkdir()
  config = _config(data)
  first = input_pipeline.create_source(config, workdir)
  input_pipeline.record(first, workdir)
  stored = json.loads((workdir / image_folder.INDEX_FILE).read_text())
  assert stored["files"] == first.index["files"]
  assert stored["fingerprint"] == image_folder.fingerprint(first.index)
  # Files that sort before the old ones would shift every index.
  _png(data / "a" / "aaa.png", np.full((32, 32), 255))
  resumed = input_pipeline.create_source(config, workdir)
  fresh = input_pipeline.create_source(config)
  steps = range(5)
  for s in steps:
    np.testing.assert_array_equal(first.host_batch(s), resumed.host_batch(s))
  # Without the stored index the new file would have shifted the order.
  assert not np.array_equal(first.host_batch(0), fresh.host_batch(0))
  assert len(fresh.images) == 9 and len(resumed.images) == 8
  # A file the run started with has gone: one line naming it.
  (data / "b" / "img01.png").unlink()
  with pytest.raises(errors.DataError, match=r"no longer in .* b/img01.png"):
    input_pipeline.create_source(config, workdir)


def test_process_slices_make_the_single_process_batch(tmp_path):
  data = _gray_folder(tmp_path, n=24, classes=["a", "b", "c"])
  index = image_folder.scan(str(data))
  images, labels = image_folder.load(
    str(data), index, 32, "center_crop_resize", 8
  )
  one = input_pipeline.ArraySource(images, 8, 2, seed=3, labels=labels)
  two = [
    input_pipeline.ArraySource(images, 8, 2, 3, i, 2, labels=labels)
    for i in range(2)
  ]
  for step in (0, 1, 7):
    x, y = one.host_batch(step, with_labels=True)
    parts = [p.host_batch(step, with_labels=True) for p in two]
    np.testing.assert_array_equal(x, np.concatenate([p[0] for p in parts], 1))
    np.testing.assert_array_equal(y, np.concatenate([p[1] for p in parts], 1))
    # Labels are those of the images: value 10*i is file img<i>.
    file_of = np.round((x[..., 0, 0, 0] + 1) * 127.5 / 10).astype(int)
    np.testing.assert_array_equal(y, file_of % 3)  # img i is in class i % 3


# --- End to end: export, train a Cond-GAN on class folders, resume -------


def test_export_then_train_cond_gan_on_class_folders_and_resume(tmp_path):
  data = tmp_path / "fmnist_png"
  out = run_module(
    "ssgan_jax.image_folder", "--out", data, "--per_class", 2, "--split", "test"
  )
  assert out.returncode == 0, out.stderr[-2000:]
  assert "wrote 20 images" in out.stdout
  classes = sorted(p.name for p in data.iterdir())
  assert classes[0] == "0_T-shirt-top" and classes[9] == "9_Ankle_boot"
  # The exported PNGs decode to the embedded images (padded 28 -> 32).
  index = image_folder.scan(str(data))
  got, labels = image_folder.load(str(data), index, 28, "none", 1)
  ref, ref_labels = fashion_mnist.load("test")
  # Class folders sort in Fashion-MNIST's label order.
  assert labels.tolist() == [k for k in range(10) for _ in range(2)]
  for i in (0, 19):
    first = np.flatnonzero(ref_labels == labels[i])[i % 2]
    np.testing.assert_array_equal(got[i], ref[first])
  # Refuses to overwrite.
  again = run_module("ssgan_jax.image_folder", "--out", data)
  assert again.returncode == 2 and "is not empty" in again.stderr

  workdir = tmp_path / "run"
  folder = [
    "--config.dataset.name=folder",
    f"--config.dataset.path={data}",
    "--config.total_steps=2",
  ]
  cgan = "configs/fashion_mnist_cgan.py:quick"
  out = run_main(workdir, *folder, config=cgan)
  assert out.returncode == 0, out.stderr[-3000:]
  stored = json.loads((workdir / image_folder.INDEX_FILE).read_text())
  assert len(stored["files"]) == 20 and stored["classes"] == classes
  _png(data / "8_Bag" / "added.png", np.zeros((28, 28)))
  out = run_main(workdir, *folder[:-1], "--config.total_steps=4", config=cgan)
  assert out.returncode == 0, out.stderr[-3000:]
  assert "1 image(s) were added" in out.stderr
  assert (workdir / "checkpoints" / "4").is_dir()
  assert (workdir / "samples" / "step_0000004.png").is_file()
