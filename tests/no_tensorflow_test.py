"""Without TensorFlow (as on accelerator images): the blocker works, and a TFDS
dataset is one clear error. That the default job trains and evaluates there
with TensorBoard off is device_check_test.py's (its dry run's default job).

TensorFlow and TFDS are hidden by packages earlier on PYTHONPATH whose import
fails as a missing package's does.
"""

import subprocess
import sys

from conftest import REPO
from conftest import env_without_tensorflow

from ssgan_jax import writers


def _run(env, *args, timeout=600):
  return subprocess.run(
    [sys.executable, "-m", *map(str, args)],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=timeout,
    check=False,
  )


def test_blocker_hides_tensorflow(tmp_path):
  env = env_without_tensorflow(tmp_path)
  out = subprocess.run(
    [sys.executable, "-c", "from ssgan_jax import writers;"
     " print(writers.tensorflow_installed())"],
    cwd=REPO, env=env, capture_output=True, text=True, check=True,
  )  # fmt: skip
  assert out.stdout.strip() == "False"
  assert writers.tensorflow_installed()  # this env has it


def test_tfds_dataset_without_tensorflow_is_one_line(tmp_path):
  env = env_without_tensorflow(tmp_path)
  workdir = tmp_path / "cifar"
  out = _run(
    env,
    "ssgan_jax.main",
    "--config",
    "configs/cifar10_ssgan.py",
    "--workdir",
    workdir,
    timeout=300,
  )
  assert out.returncode == 2, out.stderr[-3000:]
  lines = out.stderr.strip().splitlines()
  assert lines[-1].startswith("error: dataset 'cifar10' is read through TFDS")
  assert "pip install tensorflow-cpu tensorflow-datasets" in lines[-1]
  assert "Traceback" not in out.stderr
  assert not workdir.exists()
