"""Every bad input gets one clear line; docs/errors.md is generated from here.

Each case is run for real (through `train.train_and_evaluate`, or the
command line where the mistake is in the flags) and its message is checked.
The table in docs/errors.md must equal what these cases produce; after
changing a message run

  UPDATE_ERRORS_DOC=1 pytest tests/bad_inputs_test.py

and commit the regenerated file.
"""

import os
import pathlib
import time

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from conftest import REPO
from conftest import run_main
from conftest import tiny_config

from ssgan_jax import errors
from ssgan_jax import fashion_mnist
from ssgan_jax import train
from ssgan_jax.ssl import rotation

DOC = pathlib.Path(REPO) / "docs" / "errors.md"


# (input as a user writes it, config overrides, expected message fragment)
def _probe_block(metric: str) -> dict:
  """A probe block on small splits whose `metrics` names `metric`."""
  return {
    "evaluator": "probe",
    "every_steps": 2,
    "batch_size": 16,
    "train_limit": 64,
    "test_limit": 0,
    "metrics": (metric,),
  }


CONFIG_CASES = [
  (
    "--config.batch_size=0",
    {"batch_size": 0},
    "batch_size=0 must be a positive integer",
  ),
  (
    "--config.batch_size=-8",
    {"batch_size": -8},
    "batch_size=-8 must be a positive integer",
  ),
  (
    "--config.total_steps=0",
    {"total_steps": 0},
    "total_steps=0 must be a positive",
  ),
  (
    "--config.disc_iters=0",
    {"disc_iters": 0},
    "disc_iters=0 must be a positive",
  ),
  (
    "--config.log_every_steps=0",
    {"log_every_steps": 0},
    "log_every_steps=0 must be",
  ),
  (
    "--config.checkpoint_every_steps=-1",
    {"checkpoint_every_steps": -1},
    "checkpoint_every_steps=-1",
  ),
  ("--config.model.z_dim=0", {"model.z_dim": 0}, "model.z_dim=0 must be"),
  (
    "--config.model.generator.width=0",
    {"model.generator.width": 0},
    "model.generator.width=0",
  ),
  (
    "--config.model.generator.name=dcgan",
    {"model.generator.name": "dcgan"},
    "unknown generator 'dcgan'; choose one of: resnet128, resnet32",
  ),
  (
    "--config.model.discriminator.name=big",
    {"model.discriminator.name": "big"},
    "unknown discriminator 'big'; choose one of",
  ),
  (
    "--config.loss.name=hinj",
    {"loss.name": "hinj"},
    "unknown loss 'hinj'; choose one of: hinge",
  ),
  (
    "--config.penalty.name=gp",
    {"penalty.name": "gp"},
    "unknown penalty 'gp'; choose one of: none, wgan_gp",
  ),
  (
    "--config.penalty.weight=-1",
    {"penalty.weight": -1.0},
    "penalty.weight=-1.0 must be >= 0",
  ),
  (
    "--config.optimizer.g.name=adamm",
    {"optimizer.g.name": "adamm"},
    "unknown optimizer 'adamm'; choose one of: adam, sgd",
  ),
  (
    "--config.optimizer.g.schedule=cosine",
    {"optimizer.g.schedule": "cosine"},
    "unknown learning-rate schedule 'cosine'; choose one of: constant,"
    " linear_decay",
  ),
  (
    "--config.optimizer.d.decay_start=1.5",
    {"optimizer.d.decay_start": 1.5},
    "optimizer.d.decay_start=1.5 must be in [0, 1)",
  ),
  (
    "--config.optimizer.d.learning_rate=-0.1",
    {"optimizer.d.learning_rate": -0.1},
    "optimizer.d.learning_rate=-0.1 must be > 0",
  ),
  (
    "--config.optimizer.g.learning_rate=nan",
    {"optimizer.g.learning_rate": float("nan")},
    "optimizer.g.learning_rate=nan must be a finite number",
  ),
  (
    "--config.ssl.rotation.weight_d=inf",
    {"ssl.rotation.weight_d": float("inf")},
    "ssl.rotation.weight_d=inf must be a finite number",
  ),
  (
    "--config.model.conv=fft",
    {"model.conv": "fft"},
    "model.conv='fft' is not a convolution algorithm; use one of auto, xla,"
    " tuned, taps, winograd2, winograd4",
  ),
  (
    "--config.ema.decay=1.5",
    {"ema.decay": 1.5},
    "ema.decay=1.5 must be in [0, 1)",
  ),
  (
    "--config.ema.bn_stats=running",
    {"ema.bn_stats": "running"},
    "ema.bn_stats='running' is unknown; use one of standing, batch",
  ),
  (
    "--config.ema.standing_batches=0",
    {"ema.standing_batches": 0},
    "ema.standing_batches=0 must be a positive integer",
  ),
  (
    "--config.model.compute_dtype=float16",
    {"model.compute_dtype": "float16"},
    "compute_dtype='float16' is not supported",
  ),
  (
    "--config.model.z_distribution=cauchy",
    {"model.z_distribution": "cauchy"},
    "z_distribution='cauchy' is unknown",
  ),
  (
    "--config.ssl.rotation.fraction=0.3",
    {"ssl.rotation.fraction": 0.3},
    "fraction=0.3 must be 1/n",
  ),
  (
    "--config.ssl.rotation.fraction=0",
    {"ssl.rotation.fraction": 0.0},
    "fraction=0.0 must be in (0, 1]",
  ),
  (
    "config.ssl = {'rot': {...}} in a config file",
    {"ssl": {"rot": {"weight_d": 1.0}}},
    "unknown ssl task 'rot'; choose one of:",
  ),
  (
    "--config.loss.weight=0 with config.ssl empty",
    {"loss.weight": 0.0, "ssl": {}},
    "leaves nothing to train",
  ),
  (
    "--config.dataset.image_size=64 (resnet32)",
    {"dataset.image_size": 64},
    "handles image sizes [32]",
  ),
  (
    "--config.dataset.channels=3 (Fashion-MNIST)",
    {"dataset.channels": 3},
    "has 1 image channel(s) but dataset.channels=3",
  ),
  (
    "--config.dataset.name=fashion-mnist",
    {"dataset.name": "fashion-mnist"},
    "is neither one of ours (fashion_mnist, folder) nor a TFDS dataset",
  ),
  (
    "--config.dataset.name=cifar10 --config.dataset.download=False (not prepared)",
    {
      "dataset.name": "cifar10",
      "dataset.channels": 3,
      "dataset.download": False,
      "dataset.data_dir": "<empty dir>",
    },
    "is not prepared in data_dir",
  ),
  (
    "--config.batch_size=12 on 8 devices",
    {"batch_size": 12},
    "batch_size=12 is not divisible by 8 devices",
  ),
  (
    "--config.ssl.rotation.fraction=0.5 with batch 8 on 8 devices",
    {"ssl.rotation.fraction": 0.5},
    "not divisible by 8 devices x 2",
  ),
  (
    "--config.mesh.shape=(3,) on 8 devices",
    {"mesh.shape": (3,)},
    "mesh.shape (3,) does not fit 8 devices",
  ),
  (
    "--config.mesh.axes=('model',)",
    {"mesh.axes": ("model",)},
    "must include 'data'",
  ),
  (
    "--config.model.generator.norm=layer_norm",
    {"model.generator.norm": "layer_norm"},
    "unknown model.generator.norm 'layer_norm'; choose one of: batch_norm",
  ),
  (
    "--config.model.discriminator.projection=True (Cond-GAN half set)",
    {"model.discriminator.projection": True},
    "Cond-GAN needs both model.generator.norm='conditional'",
  ),
  (
    "Cond-GAN with --config.dataset.num_classes=0",
    {
      "model.discriminator.projection": True,
      "model.generator.norm": "conditional",
      "dataset.num_classes": 0,
    },
    "dataset.num_classes=0 must be a positive integer for Cond-GAN",
  ),
  (
    "--config.dataset.preprocess=bicubic",
    {"dataset.preprocess": "bicubic"},
    "unknown dataset.preprocess 'bicubic'; choose one of",
  ),
  (
    "--config.dataset.preprocess=random_crop_resize with in_memory=True",
    {"dataset.preprocess": "random_crop_resize"},
    "would crop each image once for the whole run",
  ),
  (
    "--config.eval.every_steps=2 --config.eval.best_metric=fid_score",
    {"eval.every_steps": 2, "eval.best_metric": "fid_score"},
    "unknown eval.best_metric 'fid_score'; evaluator 'fmnist' reports: fd_fmnist",
  ),
  (
    "--config.eval.every_steps=2 --config.eval.evaluator=inception (no files)",
    {"eval.every_steps": 2, "eval.evaluator": "inception"},
    "eval.evaluator='inception' needs eval.inception_weights",
  ),
  (
    "--config.eval.every_steps=2 on a CIFAR10-shaped run (fmnist evaluator)",
    {"eval.every_steps": 2, "dataset.channels": 3},
    "eval.evaluator='fmnist' scores 32x32x1 Fashion-MNIST images",
  ),
  (
    "evals.probe naming a block D does not have",
    {"evals.probe": _probe_block("probe/block7/top1_test")},
    "evals.probe.metrics names 'probe/block7/top1_test', but D has 4 blocks",
  ),
  (
    "evals.probe naming an ssl task the run does not have",
    {"evals.probe": _probe_block("probe/jigsaw/top1")},
    "evals.probe.metrics has unknown metric(s) ['probe/jigsaw/top1']",
  ),
  (
    "--config.eval.evaluator=probe (the main block scores samples)",
    {"eval.every_steps": 2, "eval.evaluator": "probe"},
    "eval.evaluator='probe' scores no samples",
  ),
]


def _set(config, overrides, tmp_path):
  for dotted, value in overrides.items():
    if value == "<empty dir>":
      value = str(tmp_path / "empty")
    node = config
    *parents, leaf = dotted.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = (
      ml_collections.ConfigDict(value) if isinstance(value, dict) else value
    )
  return config


def _message(exc: Exception, tmp_path) -> str:
  return str(exc).replace(str(tmp_path), "<tmp>")


def _config_case(overrides, tmp_path):
  config = _set(tiny_config(), overrides, tmp_path)
  with pytest.raises(errors.UserError) as info:
    train.train_and_evaluate(config, str(tmp_path / "workdir"))
  return _message(info.value, tmp_path)


def _data_dir_case(damage, tmp_path):
  """Runs with $SSGAN_JAX_FASHION_MNIST_DIR pointing at a damaged copy."""
  d = tmp_path / "fmnist"
  d.mkdir()
  src = fashion_mnist.default_data_dir()
  for name in fashion_mnist.FILES:
    (d / name).symlink_to(src / name)
  target = d / "train-labels-idx1-ubyte.gz"
  target.unlink()
  if damage == "corrupt":
    target.write_bytes((src / target.name).read_bytes()[:-10])
  old = os.environ.get(fashion_mnist.DATA_DIR_ENV)
  os.environ[fashion_mnist.DATA_DIR_ENV] = str(d)
  fashion_mnist.load.cache_clear()
  try:
    return _config_case({}, tmp_path)
  finally:
    if old is None:
      del os.environ[fashion_mnist.DATA_DIR_ENV]
    else:
      os.environ[fashion_mnist.DATA_DIR_ENV] = old
    fashion_mnist.load.cache_clear()


def _unwritable_case(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a directory")
  config = tiny_config()
  with pytest.raises(errors.UserError) as info:
    train.train_and_evaluate(config, str(blocker / "workdir"))
  return _message(info.value, tmp_path)


def _folder_case(make, tmp_path):
  """A run on `dataset.path=make(folder)`; nothing may reach the workdir."""
  from PIL import Image  # pylint: disable=g-import-not-at-top

  def png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path)

  root = tmp_path / "images"
  root.mkdir()
  path = make(root, png)
  config = _set(
    tiny_config(),
    {"dataset.name": "folder", "dataset.path": str(path)},
    tmp_path,
  )
  with pytest.raises(errors.UserError) as info:
    train.train_and_evaluate(config, str(tmp_path / "workdir"))
  assert not (tmp_path / "workdir").exists()
  return _message(info.value, tmp_path)


def _eight_gray(root, png):
  for i in range(8):
    png(root / f"img{i}.png", np.full((32, 32), i))
  return root


def _undecodable_folder(root, png):
  _eight_gray(root, png)
  (root / "broken.png").write_bytes(b"\x89PNG not really")
  return root


def _mixed_channel_folder(root, png):
  _eight_gray(root, png)
  png(root / "rgb.png", np.zeros((32, 32, 3)))
  return root


def _mixed_layout_folder(root, png):
  png(root / "top.png", np.zeros((32, 32)))
  png(root / "cat" / "a.png", np.zeros((32, 32)))
  return root


def _too_few_folder(root, png):
  for i in range(3):
    png(root / f"img{i}.png", np.zeros((32, 32)))
  return root


def _empty_folder(root, png):
  del png
  (root / "notes.txt").write_text("no images here")
  return root


def _locked_case(tmp_path):
  """A second run into a workdir whose run still holds the lock."""
  import fcntl  # pylint: disable=g-import-not-at-top

  workdir = tmp_path / "workdir"
  workdir.mkdir()
  with open(workdir / train.LOCK_FILE, "w", encoding="utf-8") as f:
    f.write("pid 4242 on host-a since 2026-12-02T08:00:00+00:00\n")
    f.flush()
    fcntl.flock(f, fcntl.LOCK_EX)
    with pytest.raises(errors.UserError) as info:
      train.train_and_evaluate(tiny_config(), str(workdir))
  return _message(info.value, tmp_path)


def _offline_tfds_case(tmp_path):
  """A TFDS download on an offline machine, made deterministic: every
  request goes to a closed local port. TFDS's own 10 retries with backoff
  took ~210 s and left a partial download (issue 17)."""
  data_dir = tmp_path / "tfds"
  proxy = "http://127.0.0.1:9"
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("HTTPS_PROXY", proxy)
    mp.setenv("HTTP_PROXY", proxy)
    t0 = time.time()
    msg = _cli(
      tmp_path,
      "--config",
      "configs/cifar10_ssgan.py:quick",
      f"--config.dataset.data_dir={data_dir}",
    )
    took = time.time() - t0
  assert took < 30, took  # TensorFlow's import included
  assert not data_dir.exists()  # no partial download left behind
  assert not (tmp_path / "w").exists()
  return msg


def _non_square_case(tmp_path):
  del tmp_path
  with pytest.raises(errors.UserError) as info:
    rotation.rotate4(jnp.zeros((2, 32, 28, 1)))
  return str(info.value)


def _images_case(array, tmp_path, key="images"):
  """`evaluate --images FILE.npz` with `array` saved under `key`."""
  from ssgan_jax.evaluation import run  # pylint: disable=g-import-not-at-top

  path = tmp_path / "samples.npz"
  np.savez(path, **{key: array})
  with pytest.raises(errors.UserError) as info:
    run.load_images_file(path)
  return _message(info.value, tmp_path)


def _sample_case(tmp_path, **kwargs):
  """`sample --workdir W ...` with flags that are wrong before W is read."""
  from ssgan_jax import sampling  # pylint: disable=g-import-not-at-top

  with pytest.raises(errors.UserError) as info:
    sampling.sample_workdir(tmp_path / "w", progress=False, **kwargs)
  assert not (tmp_path / "w").exists()
  return _message(info.value, tmp_path)


def _cli(tmp_path, *args):
  out = run_main(tmp_path / "w", *args, timeout=300)
  assert out.returncode != 0
  assert "Traceback" not in out.stderr, out.stderr[-2000:]
  # One line and nothing else: no library start-up noise, no INFO lines.
  lines = [line for line in out.stderr.splitlines() if line.strip()]
  assert len(lines) == 1 and "rror" in lines[0], out.stderr[-2000:]
  return lines[0].replace(str(tmp_path), "<tmp>")


def _no_get_config(tmp_path):
  f = tmp_path / "my_config.py"
  f.write_text("X = 1\n")
  return _cli(tmp_path, "--config", str(f))


OTHER_CASES = [
  (
    "missing Fashion-MNIST file",
    lambda t: _data_dir_case("missing", t),
    "is missing (expected sha256 0ae29f65",
  ),
  (
    "corrupt Fashion-MNIST file",
    lambda t: _data_dir_case("corrupt", t),
    "or unset $SSGAN_JAX_FASHION_MNIST_DIR to use the embedded copy",
  ),
  (
    "dataset.name=folder without dataset.path",
    lambda t: _folder_case(lambda root, png: "", t),
    "needs the folder: set --config.dataset.path=DIR",
  ),
  (
    "dataset.path that is not a directory",
    lambda t: _folder_case(lambda root, png: root / "nope", t),
    "is not a directory",
  ),
  (
    "dataset.path with no images",
    lambda t: _folder_case(_empty_folder, t),
    "holds no images",
  ),
  (
    "dataset.path with a file that does not decode",
    lambda t: _folder_case(_undecodable_folder, t),
    "broken.png' cannot be decoded",
  ),
  (
    "dataset.path with grayscale and RGB images",
    lambda t: _folder_case(_mixed_channel_folder, t),
    "rgb.png has 3, img0.png has 1",
  ),
  (
    "dataset.path with images beside class folders",
    lambda t: _folder_case(_mixed_layout_folder, t),
    "both at its top level (e.g. top.png)",
  ),
  (
    "dataset.path with fewer images than a batch",
    lambda t: _folder_case(_too_few_folder, t),
    "has 3 image(s), fewer than one batch (batch_size=8)",
  ),
  ("--workdir under an existing file", _unwritable_case, "is not writable"),
  (
    "configs/cifar10_ssgan.py:quick on an offline machine (TFDS download)",
    _offline_tfds_case,
    "could not download/prepare TFDS dataset 'cifar10'",
  ),
  (
    "--workdir of a run that is still running",
    _locked_case,
    "is in use by another run (pid 4242 on host-a",
  ),
  (
    "rotation of non-square images [2, 32, 28, 1]",
    _non_square_case,
    "rotation needs square images, got 32x28",
  ),
  (
    "--config configs/nope.py",
    lambda t: _cli(t, "--config", "configs/nope.py"),
    "cannot read config file 'configs/nope.py'",
  ),
  (
    "--config my_config.py without get_config()",
    _no_get_config,
    "does not define get_config()",
  ),
  (
    "--config.no_such_field=1",
    lambda t: _cli(
      t,
      "--config",
      "configs/fashion_mnist_ssgan.py",
      "--config.no_such_field=1",
    ),
    "names a field that does not exist ('no_such_field')",
  ),
  (
    "--config.batch_size=abc",
    lambda t: _cli(
      t, "--config", "configs/fashion_mnist_ssgan.py", "--config.batch_size=abc"
    ),
    "invalid literal for int()",
  ),
  (
    "--config configs/fashion_mnist_ssgan.py:quik",
    lambda t: _cli(t, "--config", "configs/fashion_mnist_ssgan.py:quik"),
    "unknown config variant(s) ['quik']",
  ),
  (
    "evaluate --images with RGB images [8, 32, 32, 3]",
    lambda t: _images_case(np.zeros((8, 32, 32, 3), np.uint8), t),
    "has shape (8, 32, 32, 3); expected [N, 32, 32, 1]",
  ),
  (
    "evaluate --images with int64 images",
    lambda t: _images_case(np.zeros((8, 32, 32, 1), np.int64), t),
    "has dtype int64; use uint8 in 0..255 or float in [-1, 1]",
  ),
  (
    "evaluate --images with float images in 0..255",
    lambda t: _images_case(np.full((8, 32, 32, 1), 255.0, np.float32), t),
    "float images must be in [-1, 1]",
  ),
  (
    "evaluate --images with the array under another key",
    lambda t: _images_case(np.zeros((8, 32, 32, 1), np.uint8), t, key="x"),
    "has no 'images' array (keys found: 'x')",
  ),
  (
    "evaluate --images with 3 images",
    lambda t: _images_case(np.zeros((3, 32, 32, 1), np.uint8), t),
    "at least 4 are needed",
  ),
  (
    "sample --workdir W (no output named)",
    lambda t: _sample_case(t),
    "nothing to write: pass --out FILE.npz",
  ),
  (
    "sample --out samples.png",
    lambda t: _sample_case(t, out="samples.png"),
    "--out=samples.png must end in .npz",
  ),
  (
    "sample --ema_bn_stats=running --out s.npz",
    lambda t: _sample_case(t, out="s.npz", ema_bn_stats="running"),
    "--ema_bn_stats='running' is unknown; known: standing, batch",
  ),
  (
    "sample --live_weights --ema_bn_stats=batch --out s.npz",
    lambda t: _sample_case(
      t, out="s.npz", live_weights=True, ema_bn_stats="batch"
    ),
    "--ema_bn_stats sets how the EMA G normalises, but --live_weights",
  ),
  (
    "sample --interpolate 8 --interpolate_out i.png",
    lambda t: _sample_case(t, interpolate="8", interpolate_out="i.png"),
    "must be ROWSxCOLUMNS",
  ),
  (
    "sample --workdir <tmp>/w (no such directory) --out s.npz",
    lambda t: _sample_case(t, out=str(t / "s.npz")),
    "--workdir <tmp>/w does not exist",
  ),
  ("--config not given", lambda t: _cli(t), "Flag --config must have a value"),
]

ALL_IDS = [c[0] for c in CONFIG_CASES] + [c[0] for c in OTHER_CASES]


def _run_case(case_id, tmp_path):
  for cid, overrides, _ in CONFIG_CASES:
    if cid == case_id:
      return _config_case(overrides, tmp_path)
  for cid, fn, _ in OTHER_CASES:
    if cid == case_id:
      return fn(tmp_path)
  raise KeyError(case_id)


_RESULTS: dict[str, str] = {}


@pytest.mark.parametrize("case_id", ALL_IDS)
def test_bad_input(case_id, tmp_path):
  expected = {c[0]: c[2] for c in CONFIG_CASES + OTHER_CASES}[case_id]
  msg = _run_case(case_id, tmp_path)
  assert expected in msg, msg
  assert "\n" not in msg.strip(), msg
  _RESULTS[case_id] = msg


# A spread of the config cases, run through the command line as a user
# types them: the whole of stderr must be the one error line.
CLI_SAMPLE = [
  c[0] for c in CONFIG_CASES if c[0].startswith("--config.") and " " not in c[0]
][::8]


@pytest.mark.parametrize("flag", CLI_SAMPLE)
def test_config_error_is_the_only_line_on_the_command_line(flag, tmp_path):
  expected = {c[0]: c[2] for c in CONFIG_CASES}[flag]
  quick = "configs/fashion_mnist_ssgan.py:quick"
  assert expected in _cli(tmp_path, "--config", quick, flag)
  assert not (tmp_path / "w").exists()  # nothing written


def test_malformed_evaluator_weights_stop_before_the_workdir(tmp_path):
  # Used to fail only after ~75 lines of parameter tables, with config.json,
  # a TensorBoard file and checkpoints/ already written (issue 17).
  bad = tmp_path / "weights.npz"
  bad.write_text("not an archive")
  msg = _cli(
    tmp_path,
    "--config",
    "configs/fashion_mnist_ssgan.py:quick",
    "--config.eval.every_steps=2",
    "--config.eval.evaluator=inception",
    "--config.eval.metrics=('fid',)",
    "--config.eval.best_metric=fid",
    f"--config.eval.inception_weights={bad}",
    f"--config.eval.reference_stats={bad}",
  )
  assert "are not an .npz archive" in msg
  assert not (tmp_path / "w").exists()


def test_restore_hint_fits_the_copy():
  # The repository's own copy: git can restore it. Any other copy (issue
  # 17: a copy outside the repo was told to `git checkout` itself): re-copy.
  name = "train-labels-idx1-ubyte.gz"
  own = fashion_mnist._embedded_dir() / name  # pylint: disable=protected-access
  hint = fashion_mnist._restore_hint  # pylint: disable=protected-access
  if (pathlib.Path(REPO) / ".git").exists():
    assert f"git checkout -- data/fashion_mnist/{name}` in {REPO}" in hint(own)
  other = hint(pathlib.Path("/elsewhere/fmnist") / name)
  assert "git" not in other and "re-copy it into /elsewhere/fmnist" in other


def render(results: dict[str, str]) -> str:
  rows = [
    "# Bad inputs and what ssgan_jax answers",
    "",
    "Generated by `tests/bad_inputs_test.py` (which runs every row);"
    " do not edit by hand. Every answer is one line on stderr and a"
    " non-zero exit status (2 for ssgan_jax's own checks).",
    "",
    f"{len(results)} inputs.",
    "",
    "| input | message |",
    "|---|---|",
  ]
  for case_id in ALL_IDS:
    msg = results[case_id].replace("|", "\\|")
    rows.append(f"| `{case_id}` | {msg} |")
  return "\n".join(rows) + "\n"


def test_errors_doc_is_current():
  if len(_RESULTS) != len(ALL_IDS):
    pytest.fail("run the whole file: the doc is built from every case")
  text = render(_RESULTS)
  if os.environ.get("UPDATE_ERRORS_DOC"):
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
  assert DOC.exists() and DOC.read_text() == text, (
    "docs/errors.md is stale; run UPDATE_ERRORS_DOC=1 pytest tests/bad_inputs_test.py"
  )
  assert len(ALL_IDS) >= 25
