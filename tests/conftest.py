"""Test setup: 8 fake CPU devices, fast compiles, shared tiny configs.

XLA_FLAGS must be set before JAX initialises its backend, hence at import.
"""

import atexit
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

os.environ["XLA_FLAGS"] = (
  os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One persistent XLA cache for the whole session, inherited by the
# `python -m ssgan_jax.main` subprocesses: the end-to-end tests launch the
# same tiny programs many times, and compiling them dominates their time.
# A cached executable is the one XLA would build again, so bit-exactness
# tests compare the same code either way.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  _xla_cache = tempfile.mkdtemp(prefix="ssgan_jax_tests_xla_cache_")
  atexit.register(shutil.rmtree, _xla_cache, ignore_errors=True)
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _xla_cache
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
  os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_threefry_partitionable", True)
# Tiny models: compile time dominates, so trade run time for compile time.
jax.config.update("jax_disable_most_optimizations", True)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli_env(devices: int | None = None) -> dict[str, str]:
  """Environment for a `python -m ssgan_jax...` subprocess of a test.

  One CPU device as a user would run it (or `devices` fake ones), fast
  compiles for the tiny models, and this session's XLA cache.
  """
  env = dict(os.environ)
  env.pop("XLA_FLAGS", None)
  if devices is not None:
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  env["JAX_PLATFORMS"] = "cpu"
  env["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1"
  return env


def run_module(module: str, *args, timeout: int = 600, devices=None):
  """Runs `python -m <module> <args>` as a user would, from the repo root.

  Returns the CompletedProcess (text stdout/stderr); the caller checks it.
  """
  return subprocess.run(
    [sys.executable, "-m", module, *map(str, args)],
    cwd=REPO,
    env=cli_env(devices),
    capture_output=True,
    text=True,
    timeout=timeout,
    check=False,
  )


def run_main(workdir, *args, config=None, timeout: int = 600):
  """`python -m ssgan_jax.main [--config CONFIG] --workdir WORKDIR <args>`."""
  head = ["--config", config] if config else []
  return run_module(
    "ssgan_jax.main", *head, "--workdir", workdir, *args, timeout=timeout
  )


def tiny_config(**overrides):
  """The quick Fashion-MNIST SS-GAN config, unlocked, with overrides."""
  from configs import fashion_mnist_ssgan  # pylint: disable=g-import-not-at-top

  c = fashion_mnist_ssgan.get_config("quick")
  for dotted, value in overrides.items():
    node = c
    *parents, leaf = dotted.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = value
  return c


@pytest.fixture
def devices8():
  devs = jax.devices()
  if len(devs) < 8:
    pytest.fail("tests need 8 fake CPU devices (XLA_FLAGS was set too late)")
  return devs[:8]


def kept_checkpoints(directory) -> list[str]:
  """The step folders in a checkpoint directory (its checksums/ aside).

  Also checks that checksums/ holds a file for each kept step and for no
  other (one per process that saved it).
  """
  directory = pathlib.Path(directory)
  steps = sorted(p.name for p in directory.iterdir() if p.name != "checksums")
  sums = {f.name.split(".")[0] for f in (directory / "checksums").iterdir()}
  assert sums == set(steps), (sums, steps)
  return steps


def load_checkpoint(step_dir):
  """A saved GANState as nested dicts of numpy arrays, onto device 0.

  Restoring with an explicit target works whatever device topology wrote
  the checkpoint (e.g. two processes).
  """
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top

  path = os.path.join(str(step_dir), "default")
  dev = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  with ocp.StandardCheckpointer() as ckptr:
    meta = ckptr.metadata(path)
    tree = getattr(meta, "item_metadata", meta)
    target = jax.tree.map(
      lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=dev), tree
    )
    restored = ckptr.restore(path, target)
  return jax.tree.map(lambda x: np.asarray(x), restored)


_BLOCKED = ("tensorflow", "tensorflow_datasets")


def env_without_tensorflow(tmp_path) -> dict[str, str]:
  """cli_env() in which TensorFlow and TFDS fail to import, as if missing.

  Packages of those names earlier on PYTHONPATH raise ModuleNotFoundError,
  as accelerator images without TensorFlow do.
  """
  for name in _BLOCKED:
    pkg = tmp_path / "blocked" / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
      f'raise ModuleNotFoundError("No module named {name}", name="{name}")\n'
    )
  env = cli_env()
  env["PYTHONPATH"] = os.pathsep.join(
    [str(tmp_path / "blocked"), str(REPO), env.get("PYTHONPATH", "")]
  )
  return env
