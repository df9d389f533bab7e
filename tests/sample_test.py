"""`python -m ssgan_jax.sample`: sample files, grids and interpolations of any run.

The work is checked in-process through `sampling.sample_workdir` on one tiny
trained run (with a best checkpoint) and one RGB image-folder run, so that
"any run" is more than Fashion-MNIST; the real command runs once for its
wiring (JSON on stdout, one `error:` line and exit status 2).
"""

import json

import jax
import numpy as np
import pytest
from conftest import run_module
from conftest import tiny_config
from PIL import Image

from ssgan_jax import errors
from ssgan_jax import images as images_lib
from ssgan_jax import sampling
from ssgan_jax import state as state_lib
from ssgan_jax import train
from ssgan_jax import workdir as workdir_lib
from ssgan_jax.evaluation import run as evaluate_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """4 G steps, checkpoints at 2 and 4, FD-FMNIST (best kept) at 2 and 4."""
  workdir = tmp_path_factory.mktemp("run")
  config = tiny_config(
    total_steps=4,
    **{"eval.every_steps": 2, "eval.num_samples": 64, "eval.batch_size": 64},
  )
  train.train_and_evaluate(config, str(workdir))
  return workdir


def _png_size(path):
  with Image.open(path) as im:
    return im.size  # (width, height)


def test_samples_grid_and_interpolation_of_a_checkpoint(trained, tmp_path):
  out, grid, interp = (
    tmp_path / "s.npz",
    tmp_path / "g.png",
    tmp_path / "i.png",
  )
  result = sampling.sample_workdir(
    trained,
    out=str(out),
    grid=str(grid),
    interpolate="3x5",
    interpolate_out=str(interp),
    step=2,
    num_samples=40,
    grid_size=16,
    batch_size=16,
    seed=3,
    progress=False,
  )
  assert result["step"] == 2 and result["checkpoint"] == "checkpoints/2"
  assert set(result["files"]) == {"out", "grid", "interpolate_out"}
  with np.load(out) as f:
    assert set(f.files) == {"images", "step", "seed"}  # no labels: uncond.
    images, step, seed = f["images"], int(f["step"]), int(f["seed"])
  assert images.shape == (40, 32, 32, 1) and images.dtype == np.uint8
  assert (step, seed) == (2, 3)
  # The images evaluate draws with the same seed and batch size (the
  # sampler is shared), stored as uint8.
  run = workdir_lib.load(trained, step=2)
  made = sampling.generate(
    run.comps, run.state, run.mesh, 40, 16, seed=3, progress=False
  )
  np.testing.assert_array_equal(images, images_lib.to_uint8(made))
  # 16 images in a 4 x 4 grid of 32-pixel images with 1-pixel gaps.
  assert _png_size(grid) == (4 * 33 + 1, 4 * 33 + 1)
  assert _png_size(interp) == (5 * 33 + 1, 3 * 33 + 1)  # 5 columns, 3 rows
  assert not list(tmp_path.glob(".*tmp*"))
  # The stored file is scored as it is.
  scored = evaluate_run.evaluate_file(str(out))
  assert scored["num_images"] == 40 and np.isfinite(scored["fd_fmnist"])


def test_float32_samples_are_what_g_made(trained, tmp_path):
  common = dict(num_samples=8, batch_size=8, progress=False)
  sampling.sample_workdir(trained, out=str(tmp_path / "f.npz"), **common,
                          dtype="float32")  # fmt: skip
  sampling.sample_workdir(trained, out=str(tmp_path / "u.npz"), **common)
  with np.load(tmp_path / "f.npz") as f, np.load(tmp_path / "u.npz") as u:
    assert f["images"].dtype == np.float32 and int(f["step"]) == 4  # newest
    np.testing.assert_array_equal(images_lib.to_uint8(f["images"]), u["images"])


def test_best_checkpoint_is_the_one_eval_kept(trained, tmp_path):
  best = json.loads((trained / "eval" / "best.json").read_text())
  result = sampling.sample_workdir(
    trained,
    grid=str(tmp_path / "g.png"),
    best=True,
    grid_size=8,
    batch_size=8,
    progress=False,
  )
  assert result["step"] == best["step"]
  assert result["checkpoint"] == f"best_checkpoint/{best['step']}"
  scored = evaluate_run.evaluate(
    workdir=str(trained), best=True, num_samples=16, batch_size=8
  )
  assert scored["step"] == best["step"]


def test_interpolation_rows_join_their_two_codes():
  # G in eval mode maps each code on its own, so the ends of a row do not
  # depend on how many steps lie between them.
  c = tiny_config()
  comps = state_lib.build_components(c)
  st = state_lib.init_state(comps, jax.random.key(0))
  mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:1]), ("data",))
  two, _ = sampling.interpolate_codes(comps, st, mesh, 3, 2, seed=1)
  five, labels = sampling.interpolate_codes(comps, st, mesh, 3, 5, seed=1)
  assert labels is None and five.shape == (15, 32, 32, 1)
  two, five = two.reshape(3, 2, -1), five.reshape(3, 5, -1)
  np.testing.assert_allclose(five[:, [0, -1]], two, atol=1e-5)
  # The middle differs from both ends (the row moves).
  assert np.abs(five[:, 2] - five[:, 0]).mean() > 1e-4


def test_cond_gan_cycle_order_labels_every_class_in_turn():
  c = tiny_config(
    **{"model.generator.norm": "conditional", "dataset.num_classes": 10}
  )
  comps = state_lib.build_components(c)
  st = state_lib.init_state(comps, jax.random.key(0))
  mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:1]), ("data",))
  sampler = sampling.make_sampler(comps, mesh, 8, class_order="cycle")
  images, labels = sampling.generate(
    comps, st, mesh, 20, 8, sampler=sampler, progress=False, with_labels=True
  )
  assert images.shape == (20, 32, 32, 1)
  np.testing.assert_array_equal(labels, np.arange(20) % 10)
  _, uniform = sampling.generate(
    comps, st, mesh, 20, 8, progress=False, with_labels=True
  )
  assert uniform.dtype == np.int32 and set(uniform) <= set(range(10))
  _, row_labels = sampling.interpolate_codes(comps, st, mesh, 3, 4)
  np.testing.assert_array_equal(row_labels, np.repeat([0, 1, 2], 4))


def test_an_rgb_folder_run_is_sampled(tmp_path):
  # Nothing about sampling is Fashion-MNIST's: a 3-channel folder dataset.
  data = tmp_path / "data"
  data.mkdir()
  rng = np.random.default_rng(0)
  for i in range(16):
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(
      data / f"{i:02d}.png"
    )
  config = tiny_config(
    total_steps=2,
    **{
      "dataset.name": "folder",
      "dataset.path": str(data),
      "dataset.channels": 3,
      "dataset.num_classes": 0,
    },
  )
  workdir = tmp_path / "run"
  train.train_and_evaluate(config, str(workdir))
  out = tmp_path / "rgb.npz"
  sampling.sample_workdir(
    workdir, out=str(out), num_samples=8, batch_size=8, progress=False
  )
  with np.load(out) as f:
    assert f["images"].shape == (8, 32, 32, 3)


@pytest.mark.parametrize(
  "kwargs,fragment",
  [
    ({}, "nothing to write: pass --out FILE.npz"),
    ({"out": "s.png"}, "--out=s.png must end in .npz"),
    ({"grid": "g.jpg"}, "--grid=g.jpg must end in .png"),
    ({"out": "s.npz", "step": 2, "best": True}, "pass --step or --best"),
    ({"out": "s.npz", "step": 3}, "no checkpoint for --step=3 in"),
    ({"out": "s.npz", "step": -1}, "--step=-1 must be >= 0"),
    ({"interpolate": "8"}, "must be ROWSxCOLUMNS"),
    ({"interpolate": "2x1", "interpolate_out": "i.png"}, "at least 1 row"),
    ({"interpolate": "2x3"}, "--interpolate needs --interpolate_out"),
    ({"interpolate_out": "i.png", "out": "s.npz"}, "needs --interpolate"),
    ({"out": "x.npz", "grid": "x.npz"}, "must end in .png"),
    (
      {"grid": "x.png", "interpolate": "2x2", "interpolate_out": "x.png"},
      "must name different files",
    ),
    ({"out": "s.npz", "class_order": "random"}, "known: uniform, cycle"),
    ({"out": "s.npz", "dtype": "float16"}, "known: uint8, float32"),
    ({"grid": "g.png", "grid_size": 0}, "--grid_size=0 must be at least 1"),
    ({"out": "s.npz", "num_samples": 0}, "--num_samples=0 must be at least 1"),
    ({"out": "s.npz", "batch_size": 12}, "multiple of the 8 device(s)"),
  ],
)
def test_bad_inputs_are_one_line_and_write_nothing(
  trained, tmp_path, monkeypatch, kwargs, fragment
):
  monkeypatch.chdir(tmp_path)
  with pytest.raises(errors.UserError) as e:
    sampling.sample_workdir(trained, progress=False, **kwargs)
  assert fragment in str(e.value) and "\n" not in str(e.value)
  assert not list(tmp_path.iterdir())


def test_bad_workdirs(tmp_path):
  with pytest.raises(errors.UserError, match="does not exist"):
    sampling.sample_workdir(tmp_path / "nope", out=str(tmp_path / "s.npz"))
  with pytest.raises(errors.UserError, match="has no config.json"):
    sampling.sample_workdir(tmp_path, out=str(tmp_path / "s.npz"))
  (tmp_path / "config.json").write_text(json.dumps(tiny_config().to_dict()))
  with pytest.raises(errors.UserError, match="kept no best checkpoint"):
    sampling.sample_workdir(tmp_path, out=str(tmp_path / "s.npz"), best=True)


def test_cli_writes_files_and_reports_json(trained, tmp_path):
  grid = tmp_path / "grid.png"
  done = run_module(
    "ssgan_jax.sample",
    "--workdir",
    trained,
    "--grid",
    grid,
    "--grid_size",
    "4",
    "--batch_size",
    "4",
  )
  assert done.returncode == 0, done.stderr
  report = json.loads(done.stdout)
  assert report["files"] == {"grid": str(grid)} and report["step"] == 4
  assert _png_size(grid) == (2 * 33 + 1, 2 * 33 + 1)
  bad = run_module("ssgan_jax.sample", "--workdir", trained)
  assert bad.returncode == 2 and bad.stdout == ""
  assert bad.stderr.strip().splitlines() == [
    "error: nothing to write: pass --out FILE.npz, --grid FILE.png and/or"
    " --interpolate RxC --interpolate_out FILE.png."
  ]
