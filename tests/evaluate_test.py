"""`python -m ssgan_jax.evaluate`: scoring image files and training runs.

Bad inputs are checked in-process through `evaluation.run` (fast); the real
command runs once on a valid file and once on a missing one to prove the
wiring (JSON on stdout; one `error:` line and exit status 2).
"""

import io
import json

import numpy as np
import pytest
from conftest import run_module
from conftest import tiny_config

from ssgan_jax import errors
from ssgan_jax import fashion_mnist
from ssgan_jax import input_pipeline
from ssgan_jax import preprocess
from ssgan_jax import sampling
from ssgan_jax import train
from ssgan_jax import workdir as workdir_lib
from ssgan_jax.evaluation import run


def _real(n: int = 200) -> np.ndarray:
  """The first n Fashion-MNIST test images, uint8 [n, 28, 28, 1]."""
  return np.array(fashion_mnist.load("test")[0][:n])


def _cli(*args, timeout=300):
  return run_module("ssgan_jax.evaluate", *args, timeout=timeout)


# --- --images ------------------------------------------------------------------


def test_cli_scores_an_image_file(tmp_path):
  path = tmp_path / "real.npz"
  np.savez(path, images=_real())
  out = _cli("--images", str(path))
  assert out.returncode == 0, out.stderr[-3000:]
  result = json.loads(out.stdout)
  assert result["num_images"] == 200
  assert result["reference_split"] == "test"
  assert result["reference"] == "fashion_mnist:test"
  assert np.isfinite(result["fd_fmnist"])
  # Real images against real images: close, and every class is there.
  assert result["fd_fmnist"] < 30 and result["coverage_classes"] == 10
  assert "N=200 vs fashion_mnist:test" in out.stderr
  assert "not FID" in out.stderr


def test_cli_error_is_one_line(tmp_path):
  out = _cli("--images", str(tmp_path / "missing.npz"), timeout=120)
  assert out.returncode == 2
  assert "Traceback" not in out.stderr
  assert out.stderr.strip().splitlines()[-1] == (
    f"error: --images {tmp_path / 'missing.npz'} does not exist."
  )


def test_28x28_images_are_padded_with_background(tmp_path):
  real = _real(8)
  want = preprocess.to_float(input_pipeline.pad_to(real, 32))
  cases = {
    "u8_nhwc": real,
    "u8_nhw": real[..., 0],
    "f32_nhw": preprocess.to_float(real)[..., 0],
    "f64_32": want.astype(np.float64),
  }
  for name, images in cases.items():
    np.savez(tmp_path / f"{name}.npz", images=images)
    got = run.load_images_file(tmp_path / f"{name}.npz")
    assert got.shape == (8, 32, 32, 1) and got.dtype == np.float32, name
    np.testing.assert_allclose(got, want, atol=1e-6, err_msg=name)


def _write_text(path):
  path.write_text("not numpy")


def _save(**arrays):
  return lambda path: np.savez(path, **arrays)


_U8 = np.zeros((8, 28, 28), np.uint8)


def _npz_bytes(npy: bool = False) -> bytes:
  """`images=_U8` as .npz bytes (or as a lone .npy array)."""
  buf = io.BytesIO()
  if npy:
    np.save(buf, _U8)
  else:
    np.savez(buf, images=_U8)
  return buf.getvalue()


# (case, how to write the file (None: leave it missing), message fragment)
BAD_IMAGE_FILES = [
  ("missing", None, "does not exist."),
  ("directory", lambda p: p.mkdir(), "is not a file."),
  ("not_npz", _write_text, "is not an .npz archive (not a zip file)"),
  (
    "truncated_npz",
    lambda p: p.write_bytes(_npz_bytes()[:100]),
    "is a damaged .npz archive (BadZipFile: File is not a zip file)",
  ),
  (
    "npy_not_npz",
    lambda p: p.write_bytes(_npz_bytes(npy=True)),
    "is a single .npy array, not an .npz archive",
  ),
  (
    "no_images_key",
    _save(x=_U8, labels=np.zeros(8)),
    "has no 'images' array (keys found: 'x', 'labels')",
  ),
  (
    "object_array",
    _save(images=np.array([_U8, None], dtype=object)),
    "'images' cannot be read (ValueError: Object arrays cannot be loaded",
  ),
  (
    "rgb",
    _save(images=np.zeros((8, 32, 32, 3), np.uint8)),
    "has shape (8, 32, 32, 3); expected [N, 32, 32, 1], [N, 28, 28, 1] or"
    " [N, 28, 28]",
  ),
  (
    "one_image_2d",
    _save(images=np.zeros((28, 28), np.uint8)),
    "has shape (28, 28); expected",
  ),
  (
    "channels_first",
    _save(images=np.zeros((8, 1, 28, 28), np.uint8)),
    "(channels-first? transpose to [N, H, W, 1])",
  ),
  (
    "int64",
    _save(images=_U8.astype(np.int64)),
    "has dtype int64; use uint8 in 0..255 or float in [-1, 1].",
  ),
  ("bool", _save(images=_U8.astype(bool)), "has dtype bool; use uint8"),
  (
    "complex",
    _save(images=_U8.astype(np.complex64)),
    "has dtype complex64; use uint8",
  ),
  (
    "float_0_255",
    _save(images=np.full((8, 28, 28), 255.0, np.float32)),
    "are float with values in [255, 255]; float images must be in [-1, 1]",
  ),
  (
    "float_nan",
    _save(images=np.full((8, 28, 28), np.nan, np.float32)),
    "holds 6272 NaN or infinite value(s)",
  ),
  (
    "too_few",
    _save(images=_U8[:3]),
    "holds 3 image(s); at least 4 are needed",
  ),
  ("empty", _save(images=_U8[:0]), "holds 0 image(s); at least 4"),
]


@pytest.mark.parametrize(
  "write,fragment",
  [c[1:] for c in BAD_IMAGE_FILES],
  ids=[c[0] for c in BAD_IMAGE_FILES],
)
def test_bad_image_files_get_one_line(tmp_path, write, fragment):
  path = tmp_path / "bad.npz"
  if write is not None:
    write(path)
  with pytest.raises(errors.UserError) as e:
    run.evaluate(images=str(path))
  message = str(e.value)
  assert fragment in message, message
  assert "\n" not in message


@pytest.mark.parametrize(
  "kwargs,fragment",
  [
    ({}, "pass exactly one of --workdir DIR"),
    ({"images": "a.npz", "workdir": "w"}, "pass exactly one of"),
    ({"images": "a.npz", "step": 2}, "--step applies only with --workdir"),
    (
      {"images": "a.npz", "reference": "cifar10:test"},
      "--reference='cifar10:test' is not available offline; only"
      " fashion_mnist:test / fashion_mnist:train are",
    ),
  ],
)
def test_bad_flag_combinations(kwargs, fragment):
  with pytest.raises(errors.UserError, match=None) as e:
    run.evaluate(**kwargs)
  assert fragment in str(e.value)


# --- --workdir -----------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("run")
  config = tiny_config(total_steps=2)
  train.train_and_evaluate(config, str(workdir))
  return workdir


def test_workdir_is_sampled_and_scored(trained):
  result, path = run.evaluate_workdir(
    trained, num_samples=64, batch_size=64, progress=False
  )
  assert path == trained / "eval" / "step_2.json"
  saved = json.loads(path.read_text())
  assert saved == result
  assert saved["step"] == 2 and saved["num_images"] == 64
  assert saved["reference_split"] == "test"
  assert saved["generator_weights"] == "live"  # the default has no EMA
  assert np.isfinite(saved["fd_fmnist"])
  assert not list(path.parent.glob("*.tmp*"))
  assert "[N=64 vs fashion_mnist:test]" in run.summary(result)


def test_live_weights_of_an_ema_run_are_scored_apart(tmp_path):
  # An EMA run: by default its EMA G is scored (standing statistics);
  # --live_weights scores the live G of the same checkpoint into its own
  # file, so neither result replaces the other.
  workdir = tmp_path / "run"
  config = tiny_config(total_steps=2, **{"ema.decay": 0.5})
  train.train_and_evaluate(config, str(workdir))
  common = dict(num_samples=64, batch_size=32, progress=False)
  ema, ema_path = run.evaluate_workdir(workdir, **common)
  live, live_path = run.evaluate_workdir(workdir, live_weights=True, **common)
  assert ema_path == workdir / "eval" / "step_2.json"
  assert live_path == workdir / "eval" / "live_step_2.json"
  assert ema["generator_weights"] == "ema, standing statistics"
  assert live["generator_weights"] == "live"
  assert live["fd_fmnist"] != ema["fd_fmnist"]
  assert json.loads(ema_path.read_text()) == ema
  assert f"Written to {live_path}." in run.summary(live)
  batch, batch_path = run.evaluate_workdir(
    workdir, ema_bn_stats="batch", **common
  )
  assert batch_path == workdir / "eval" / "ema_batch_step_2.json"
  assert batch["generator_weights"] == "ema, batch statistics"
  assert json.loads(ema_path.read_text()) == ema  # untouched
  with pytest.raises(errors.UserError, match="pass one"):
    run.evaluate_workdir(
      workdir, live_weights=True, ema_bn_stats="batch", **common
    )


@pytest.mark.parametrize(
  "kwargs,fragment",
  [
    ({"step": 3}, "no checkpoint for --step=3 in"),
    (
      {"batch_size": 60},
      "--batch_size=60 must be a positive multiple of the 8",
    ),
    ({"num_samples": 3}, "--num_samples=3 must be at least 4"),
    ({"reference": "fashion_mnist:val"}, "is not available offline"),
  ],
)
def test_bad_workdir_options(trained, kwargs, fragment):
  with pytest.raises(errors.UserError) as e:
    run.evaluate(workdir=str(trained), **{"batch_size": 64, **kwargs})
  assert fragment in str(e.value)


def test_bad_workdirs(trained, tmp_path):
  with pytest.raises(errors.UserError, match="does not exist"):
    run.evaluate_workdir(tmp_path / "nope")
  with pytest.raises(errors.UserError, match="has no config.json"):
    run.evaluate_workdir(tmp_path)
  config = json.loads((trained / "config.json").read_text())
  config["dataset"]["name"] = "cifar10"
  (tmp_path / "config.json").write_text(json.dumps(config))
  with pytest.raises(errors.UserError) as e:
    run.evaluate_workdir(tmp_path)
  assert "trained on 'cifar10'; FD-FMNIST compares with" in str(e.value)
  assert "--evaluator inception" in str(e.value)
  fresh = tmp_path / "fresh"
  fresh.mkdir()
  (fresh / "config.json").write_text((trained / "config.json").read_text())
  with pytest.raises(errors.UserError, match="has saved no checkpoint yet"):
    run.evaluate_workdir(fresh)


def test_default_batch_size_fits_the_devices():
  assert sampling.default_batch_size() == 496  # 500 rounded down to 8 devices


def test_config_of_an_older_version_loads_with_its_behaviour(tmp_path):
  # Runs written before the learning-rate schedules have no
  # optimizer.*.schedule; they trained at a constant rate.
  raw = tiny_config().to_dict()
  # Runs before standing statistics sampled an EMA G with batch ones.
  for net in ("g", "d"):
    del raw["optimizer"][net]["schedule"], raw["optimizer"][net]["decay_start"]
  del raw["ema"]["bn_stats"], raw["ema"]["standing_batches"]
  del raw["evals"]  # runs before further eval blocks had only `eval`
  (tmp_path / "config.json").write_text(json.dumps(raw))
  config = workdir_lib.load_config(tmp_path)
  assert config.optimizer.g.schedule == "constant"
  assert config.optimizer.d.schedule == "constant"
  assert config.ema.bn_stats == "batch"
  assert config.ema.standing_batches == 16
  assert not config.evals
  assert config.mesh.shape == tiny_config().mesh.shape  # lists -> tuples


# --- --evaluator inception: any run ------------------------------------------


@pytest.fixture(scope="module")
def rgb_run(tmp_path_factory):
  """A 2-step run on a folder of RGB images, with random FID Inception
  weights and reference statistics at the network's smallest input."""
  from inception_test import OFFICIAL_LIKE_SHA  # pylint: disable=g-import-not-at-top
  from inception_test import SMALL  # pylint: disable=g-import-not-at-top
  from inception_test import random_state_dict  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top

  from ssgan_jax.evaluation import convert_inception  # pylint: disable=g-import-not-at-top
  from ssgan_jax.evaluation import fid  # pylint: disable=g-import-not-at-top
  from ssgan_jax.evaluation import inception  # pylint: disable=g-import-not-at-top

  root = tmp_path_factory.mktemp("rgb")
  rng = np.random.default_rng(0)
  reals = rng.integers(0, 255, (16, 32, 32, 3), np.uint8)
  (root / "data").mkdir()
  for i, image in enumerate(reals):
    Image.fromarray(image).save(root / "data" / f"{i:02d}.png")
  weights = root / "fid_inception.npz"
  convert_inception.save_npz(
    weights,
    inception.convert_state_dict(random_state_dict()),
    OFFICIAL_LIKE_SHA,
  )
  stats = fid.compute_reference_stats(
    reals[:8], inception.load_params(weights), batch_size=8, resize_to=SMALL
  )
  fid.save_stats(root / "stats.npz", stats)
  config = tiny_config(
    total_steps=2,
    **{
      "dataset.name": "folder",
      "dataset.path": str(root / "data"),
      "dataset.channels": 3,
      "dataset.num_classes": 0,
      "eval.evaluator": "inception",
    },
  )
  train.train_and_evaluate(config, str(root / "run"))
  return root


def test_any_run_is_scored_with_inception(rgb_run):
  common = {"workdir": str(rgb_run / "run"), "num_samples": 8, "batch_size": 8}
  with pytest.raises(errors.UserError) as e:
    run.evaluate(**common)  # the run's eval.evaluator, but no files given
  assert "--evaluator inception needs --inception_weights" in str(e.value)
  with pytest.raises(errors.UserError) as e:
    run.evaluate(**common, evaluator="fmnist")
  assert "trained on 'folder'; FD-FMNIST compares with" in str(e.value)
  assert "--evaluator inception --inception_weights W.npz" in str(e.value)
  result = run.evaluate(
    **common,
    inception_weights=str(rgb_run / "fid_inception.npz"),
    reference_stats=str(rgb_run / "stats.npz"),
  )
  assert result["evaluator"] == "inception" and result["step"] == 2
  assert result["num_images"] == 8 and result["num_reference"] == 8
  assert np.isfinite(result["fid"]) and np.isfinite(result["kid_mean"])
  path = rgb_run / "run" / "eval" / "inception_step_2.json"
  assert json.loads(path.read_text()) == result
  assert "inception_step_2.json" in run.summary(result)


@pytest.mark.parametrize(
  "kwargs,fragment",
  [
    ({"evaluator": "fid"}, "--evaluator='fid' is unknown; known: fmnist"),
    (
      {"evaluator": "fmnist", "reference_stats": "s.npz"},
      "--reference_stats belongs to --evaluator inception",
    ),
    (
      {"evaluator": "inception", "reference": "fashion_mnist:train"},
      "the inception evaluator compares with --reference_stats",
    ),
    (
      {"evaluator": "inception", "inception_weights": "nope.npz",
       "reference_stats": "s.npz"},
      "nope.npz",
    ),
  ],
)  # fmt: skip
def test_bad_evaluator_options(trained, kwargs, fragment):
  with pytest.raises(errors.UserError) as e:
    run.evaluate(workdir=str(trained), batch_size=64, **kwargs)
  assert fragment in str(e.value) and "\n" not in str(e.value)


def test_evaluator_flags_do_not_apply_to_image_files(tmp_path):
  with pytest.raises(errors.UserError) as e:
    run.evaluate(images=str(tmp_path / "x.npz"), evaluator="inception")
  assert "--evaluator applies only with --workdir" in str(e.value)
