"""Resume safety: incompatible configs, damaged checkpoints, SIGTERM, exact
resume and the NaN guard, each through the real entry point."""

import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO
from conftest import cli_env
from conftest import load_checkpoint
from conftest import run_main

QUICK = "configs/fashion_mnist_ssgan.py:quick"


def _cmd(workdir, *extra):
  return [
    sys.executable,
    "-m",
    "ssgan_jax.main",
    "--config",
    QUICK,
    "--workdir",
    str(workdir),
    *extra,
  ]


def _run(workdir, *extra):
  return run_main(workdir, *extra, config=QUICK)


def _steps(workdir):
  return sorted(
    int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()
  )


def _load(workdir, step):
  return load_checkpoint(workdir / "checkpoints" / str(step))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A finished 4-step quick run (checkpoints at 2 and 4)."""
  workdir = tmp_path_factory.mktemp("trained") / "run"
  out = _run(workdir)
  assert out.returncode == 0, out.stderr[-3000:]
  return workdir


def _copy(trained, tmp_path) -> pathlib.Path:
  dst = tmp_path / "run"
  shutil.copytree(trained, dst)
  return dst


def test_incompatible_config_is_one_clear_line(trained, tmp_path):
  workdir = _copy(trained, tmp_path)
  out = _run(workdir, "--config.model.discriminator.width=16")
  assert out.returncode == 2
  assert "was made with another model" in out.stderr
  assert "use a fresh --workdir" in out.stderr
  assert "Traceback" not in out.stderr


def test_damaged_newest_checkpoint_falls_back(trained, tmp_path):
  workdir = _copy(trained, tmp_path)
  # Truncate every data file of the newest checkpoint.
  for f in (workdir / "checkpoints" / "4").rglob("*"):
    if f.is_file() and f.stat().st_size > 0 and "ocdbt" in str(f):
      f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])
  out = _run(workdir, "--config.total_steps=6")
  assert out.returncode == 0, out.stderr[-3000:]
  assert "/4 is damaged" in out.stderr
  assert "at step 2" in out.stderr and "Trained steps 2..6" in out.stderr
  assert _steps(workdir)[-1] == 6


def test_flipped_byte_in_newest_checkpoint_is_caught(trained, tmp_path):
  # Orbax reads a flipped byte back without complaint (issue 17): the
  # array checksums written at save time catch it.
  workdir = _copy(trained, tmp_path)
  # The largest array data file (OCDBT's d/ folders; not the JSON metadata,
  # whose damage Orbax's parser already reports).
  files = [
    f
    for f in (workdir / "checkpoints" / "4").rglob("*")
    if f.is_file() and f.parent.name == "d"
  ]
  biggest = max(files, key=lambda f: f.stat().st_size)
  data = bytearray(biggest.read_bytes())
  data[len(data) // 2] ^= 0x01
  biggest.write_bytes(bytes(data))
  out = _run(workdir, "--config.total_steps=6")
  assert out.returncode == 0, out.stderr[-3000:]
  # Mostly the flip lands in array bytes that decode fine and only the
  # checksums see (ChecksumMismatch); when it lands in a compressed chunk's
  # framing, the reader fails first. Either way the checkpoint is refused.
  damaged = re.search(r"/4 is damaged \((\w+): ([^;]*)", out.stderr)
  assert damaged, out.stderr[-3000:]
  if damaged[1] == "ChecksumMismatch":
    assert damaged[2].startswith("1 array(s) differ"), damaged[0]
  assert "at step 2" in out.stderr and "Trained steps 2..6" in out.stderr
  assert (workdir / "checkpoints" / "4.damaged").is_dir()
  assert _steps(workdir)[-1] == 6


def test_checksums_follow_the_kept_checkpoints(trained, tmp_path):
  workdir = _copy(trained, tmp_path)
  out = _run(workdir, "--config.total_steps=10")
  assert out.returncode == 0, out.stderr[-3000:]
  sums = sorted(
    int(f.name.split(".")[0])
    for f in (workdir / "checkpoints" / "checksums").iterdir()
  )
  assert sums == _steps(workdir)  # max_to_keep deleted the rest with theirs


def test_resume_is_bit_exact(trained, tmp_path):
  # 2 steps, stop, resume to 4 == 4 steps straight (same seed).
  workdir = tmp_path / "split"
  assert _run(workdir, "--config.total_steps=2").returncode == 0
  out = _run(workdir)
  assert out.returncode == 0 and "at step 2" in out.stderr
  _assert_same_state(_load(trained, 4), _load(workdir, 4))


def _flatten(tree, prefix=""):
  out = {}
  if isinstance(tree, dict):
    for k, v in tree.items():
      out.update(_flatten(v, f"{prefix}/{k}"))
  elif isinstance(tree, (list, tuple)):
    for i, v in enumerate(tree):
      out.update(_flatten(v, f"{prefix}/{i}"))
  elif tree is not None:
    out[prefix] = np.asarray(tree)
  return out


def _assert_same_state(a, b):
  """Every leaf of two saved states equal to the last bit."""
  a, b = _flatten(a), _flatten(b)
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _start_and_wait_for_step_3(workdir, *extra):
  """Starts an endless run logging every step; returns once step 3 ran.

  Returns the process (stderr still open) and the stderr lines read so far.
  """
  proc = subprocess.Popen(
    _cmd(
      workdir,
      "--config.total_steps=100000",
      "--config.sample_every_steps=100000",
      "--config.log_every_steps=1",
      *extra,
    ),
    cwd=REPO,
    env=cli_env(),
    stderr=subprocess.PIPE,
    text=True,
  )
  deadline = time.time() + 300
  seen = []
  for line in proc.stderr:
    seen.append(line)
    if "] [3] d/" in line:
      return proc, seen
    if time.time() > deadline:
      proc.kill()
      raise AssertionError("step 3 never logged:\n" + "".join(seen))
  raise AssertionError("the run ended before step 3:\n" + "".join(seen))


def test_sigterm_saves_and_resumes(tmp_path):
  workdir = tmp_path / "run"
  proc, seen = _start_and_wait_for_step_3(
    workdir, "--config.checkpoint_every_steps=100000"
  )
  proc.send_signal(signal.SIGTERM)
  _, rest = proc.communicate(timeout=300)
  err = "".join(seen) + rest
  assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
  assert "stopped by signal" in err and "Run the same command again" in err
  step = _steps(workdir)[-1]
  assert step >= 3
  out = _run(workdir, f"--config.total_steps={step + 1}")
  assert out.returncode == 0, out.stderr[-3000:]
  assert f"at step {step}" in out.stderr


def test_nan_stops_without_overwriting(trained, tmp_path):
  workdir = _copy(trained, tmp_path)
  before = _load(workdir, 4)
  out = _run(
    workdir,
    "--config.total_steps=8",
    "--config.optimizer.d.learning_rate=1e30",
    "--config.optimizer.g.learning_rate=1e30",
  )
  assert out.returncode == 2, out.stderr[-3000:]
  assert "non-finite" in out.stderr and "at step 6" in out.stderr
  assert "the last good checkpoint (step 4) was kept" in out.stderr
  assert _steps(workdir) == [2, 4]
  after = _load(workdir, 4)
  np.testing.assert_array_equal(
    _flatten(before)["/d/params/gan_head/kernel"],
    _flatten(after)["/d/params/gan_head/kernel"],
  )


def test_nan_before_any_checkpoint_says_there_is_none(tmp_path):
  # A fresh run that diverges before its first checkpoint must not claim a
  # "last good checkpoint".
  workdir = tmp_path / "fresh"
  out = _run(
    workdir,
    "--config.optimizer.d.learning_rate=1e30",
    "--config.optimizer.g.learning_rate=1e30",
    "--config.checkpoint_every_steps=1000",
    "--config.log_every_steps=1",
  )
  assert out.returncode == 2, out.stderr[-3000:]
  assert "non-finite" in out.stderr
  assert "no checkpoint was written yet" in out.stderr
  assert "last good checkpoint" not in out.stderr


def test_sigkill_between_checkpoints_resumes_bit_exact(trained, tmp_path):
  # Hard kill after step 3 (last checkpoint at 2); the restart redoes step 3
  # from the checkpoint and must end exactly where an uninterrupted run does.
  workdir = tmp_path / "killed"
  proc, _ = _start_and_wait_for_step_3(
    workdir, "--config.checkpoint_every_steps=2"
  )
  deadline = time.time() + 300
  # Checkpoint 2 is written asynchronously: kill once it is complete.
  while not (workdir / "checkpoints" / "2").exists():
    assert time.time() < deadline, "checkpoint 2 never appeared"
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.communicate(timeout=60)
  assert proc.returncode == -signal.SIGKILL
  assert _steps(workdir)[-1] in (2, 4)
  out = _run(workdir)  # total_steps=4, as the uninterrupted run
  assert out.returncode == 0, out.stderr[-3000:]
  _assert_same_state(_load(trained, 4), _load(workdir, 4))


def test_workdir_check_is_safe_for_concurrent_processes(tmp_path):
  """Every process of a run checks the shared workdir at once; none may
  mistake another's probe file for its own (a shared name made one process
  report "not writable" and the other wait at a barrier until timeout)."""
  import concurrent.futures  # pylint: disable=g-import-not-at-top

  from ssgan_jax import train  # pylint: disable=g-import-not-at-top

  workdir = tmp_path / "shared"

  def check(_):
    for _ in range(300):
      train.prepare_workdir(str(workdir))

  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    list(pool.map(check, range(4)))  # re-raises any UserError
  assert not list(workdir.iterdir())  # no probe file left behind


def test_second_run_into_a_running_workdir_stops_with_one_line(
  trained, tmp_path
):
  """Two runs into one workdir: the second stops before touching it; the
  lock a killed run leaves behind is not held and is taken over."""
  import fcntl  # pylint: disable=g-import-not-at-top

  workdir = _copy(trained, tmp_path)
  before = sorted(str(p) for p in workdir.rglob("*"))
  lock = workdir / ".lock"
  with open(lock, "w", encoding="utf-8") as f:
    f.write("pid 4242 on host-a since 2026-12-02T08:00:00+00:00\n")
    f.flush()
    fcntl.flock(f, fcntl.LOCK_EX)
    out = _run(workdir, "--config.total_steps=6")
  assert out.returncode == 2, out.stderr[-3000:]
  assert "is in use by another run (pid 4242 on host-a" in out.stderr
  assert "Traceback" not in out.stderr
  assert sorted(str(p) for p in workdir.rglob("*")) == before
  assert _steps(workdir)[-1] == 4
  # The holder is gone (its file stays, unlocked): the next run trains.
  out = _run(workdir, "--config.total_steps=6")
  assert out.returncode == 0, out.stderr[-3000:]
  assert _steps(workdir)[-1] == 6
  assert lock.read_text().startswith("pid ")
  assert "4242" not in lock.read_text()
