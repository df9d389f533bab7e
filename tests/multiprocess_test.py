"""Two processes on localhost (2 fake CPU devices each) train the same run as
one process with 4 devices, and resume from their shared checkpoint."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
from conftest import REPO
from conftest import cli_env
from conftest import kept_checkpoints
from conftest import load_checkpoint

# SGD so that parameters compare to float tolerance: Adam's first update is
# ~lr * sign(grad), and G's conv biases in front of BatchNorm have exactly-zero
# gradients whose round-off sign depends on the reduction order.
ARGS = [
  "--config",
  "configs/fashion_mnist_ssgan.py:quick",
  "--config.optimizer.g.name=sgd",
  "--config.optimizer.d.name=sgd",
  "--config.optimizer.g.learning_rate=0.05",
  "--config.optimizer.d.learning_rate=0.05",
  "--config.batch_size=8",
  "--config.disc_iters=2",
  # Periodic evaluation and the best checkpoint: process 0 decides, every
  # process samples and saves.
  "--config.eval.every_steps=4",
  "--config.eval.num_samples=16",
  "--config.eval.batch_size=8",
]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _start_pair(argv, logs, **env):
  """Starts `argv(i)` for processes i = 0, 1; returns the Popen objects.

  Each process writes to its own files under `logs` (`<i>.out`, `<i>.err`),
  not to pipes: a process blocked on a full pipe that nobody drains would
  never reach the shutdown barrier its peer waits at.
  """
  logs.mkdir(parents=True, exist_ok=True)
  procs = []
  for i in range(2):
    with (
      open(logs / f"{i}.err", "w") as err,
      open(logs / f"{i}.out", "w") as out,
    ):
      procs.append(
        subprocess.Popen(
          argv(i),
          cwd=REPO,
          env={**cli_env(2), **env},
          stdout=out,
          stderr=err,
        )
      )
  return procs


def _wait_all(procs, timeout):
  """Waits for every process; returns the seconds until the last exited."""
  t0 = time.time()
  try:
    for p in procs:
      p.wait(timeout=max(1.0, timeout - (time.time() - t0)))
  except subprocess.TimeoutExpired:
    for q in procs:
      q.kill()
    raise
  return time.time() - t0


def _run_pair(argv, logs, timeout):
  """Runs `argv(i)` for processes i = 0, 1; returns [(returncode, stderr)]."""
  procs = _start_pair(argv, logs)
  _wait_all(procs, timeout)
  return [
    (p.returncode, (logs / f"{i}.err").read_text()) for i, p in enumerate(procs)
  ]


def _main_argv(port, workdir, *extra, script=("-m", "ssgan_jax.main")):
  """i -> the command of process i of two training `workdir` together."""
  return lambda i: [
    sys.executable,
    *script,
    *ARGS,
    *extra,
    "--workdir",
    str(workdir),
    f"--coordinator_address=127.0.0.1:{port}",
    "--num_processes=2",
    f"--process_id={i}",
  ]


def _two_processes(workdir, *extra):
  """Trains with two processes; returns [(returncode, stderr)] per process."""
  port = _free_port()
  runs = workdir.parent / "logs"
  logs = runs / str(len(list(runs.glob("*"))) if runs.exists() else 0)
  return _run_pair(_main_argv(port, workdir, *extra), logs, timeout=400)


def _check_ok(outs):
  """Asserts that both processes succeeded, showing both logs otherwise."""
  if any(rc != 0 for rc, _ in outs):
    raise AssertionError(
      "\n".join(
        f"--- process {i} exited {rc}:\n{err[-2500:]}"
        for i, (rc, err) in enumerate(outs)
      )
    )


def _params(workdir, step):
  state = load_checkpoint(workdir / "checkpoints" / str(step))
  return state["g"]["params"], state["d"]["params"]


def _leaves(tree, prefix=""):
  if isinstance(tree, dict):
    out = {}
    for k, v in tree.items():
      out.update(_leaves(v, f"{prefix}/{k}"))
    return out
  return {prefix: np.asarray(tree)}


def test_two_processes_equal_one_and_resume(tmp_path):
  multi = tmp_path / "multi"
  outs = _two_processes(multi)
  _check_ok(outs)
  assert "2 processes, 4 devices" in outs[0][1]

  single = tmp_path / "single"
  out = subprocess.run(
    [sys.executable, "-m", "ssgan_jax.main", *ARGS, "--workdir", str(single)],
    cwd=REPO,
    env=cli_env(4),
    capture_output=True,
    text=True,
    timeout=400,
    check=False,
  )
  assert out.returncode == 0, out.stderr[-3000:]

  a = _leaves(dict(zip("gd", _params(multi, 4))))
  b = _leaves(dict(zip("gd", _params(single, 4))))
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-5, err_msg=k)
  # Only process 0 writes samples and logs.
  assert sorted(p.name for p in (multi / "samples").iterdir()) == [
    "step_0000002.png",
    "step_0000004.png",
  ]

  assert (multi / "eval" / "during_training" / "step_4.json").is_file()
  assert kept_checkpoints(multi / "best_checkpoint") == ["4"]

  outs = _two_processes(multi, "--config.total_steps=6")
  _check_ok(outs)
  for _, err in outs:
    assert "at step 4" in err and "Trained steps 4..6" in err
  assert (multi / "eval" / "during_training" / "step_6.json").is_file()
  best = json.loads((multi / "eval" / "best.json").read_text())
  assert best["step"] in (4, 6)
  assert kept_checkpoints(multi / "best_checkpoint") == [str(best["step"])]


def test_concurrent_saves_of_two_checkpoint_directories(tmp_path):
  """The run's and the best checkpoint, saved concurrently at the same steps
  by two processes that finish writing at different times, both complete
  (their cross-process barriers must not share names; see the worker)."""
  port = _free_port()
  outs = _run_pair(
    lambda i: [
      sys.executable,
      os.path.join(REPO, "tests", "checkpointers_worker.py"),
      str(port),
      str(i),
      str(tmp_path),
    ],
    tmp_path / "logs",
    timeout=200,
  )
  _check_ok(outs)
  for i, _ in enumerate(outs):
    out = (tmp_path / "logs" / f"{i}.out").read_text()
    assert f"process {i} saved [5] [5]" in out


def _wait_for_line(path, text, procs, timeout=300):
  deadline = time.time() + timeout
  while True:
    # Poll before reading: a process that had exited before the read has
    # written all it will (reading first raced with a process that wrote
    # the line and exited between the read and the poll).
    exited = any(p.poll() is not None for p in procs)
    if text in path.read_text():
      return
    if exited or time.time() > deadline:
      break
    time.sleep(0.2)
  for p in procs:
    p.kill()
  raise AssertionError(f"{text!r} never appeared in {path}")


def test_a_process_failing_alone_stops_both_fast(tmp_path):
  """Process 1 raises at step 2; process 0 did not: both are gone within
  60 s of the failure, process 0 naming process 1's error."""
  logs = tmp_path / "logs"
  procs = _start_pair(
    _main_argv(
      _free_port(),
      tmp_path / "run",
      "--config.total_steps=1000",
      "--config.eval.every_steps=0",
      script=(os.path.join(REPO, "tests", "failing_process_worker.py"),),
    ),
    logs,
    SSGAN_TEST_FAIL_PROCESS="1",
  )
  _wait_for_line(logs / "1.err", "injected failure at step 2", procs)
  after_failure_s = _wait_all(procs, timeout=120)
  errs = [(logs / f"{i}.err").read_text() for i in range(2)]
  assert after_failure_s < 60, errs
  assert procs[1].returncode == 1, errs[1][-3000:]
  assert procs[0].returncode == 1, errs[0][-3000:]
  assert "Traceback" in errs[1]  # the failing process keeps its context
  assert "error: process 1: RuntimeError: injected failure at step 2" in errs[1]
  assert (
    "error: process 1: RuntimeError: injected failure at step 2;"
    " this process stops too" in errs[0]
  ), errs[0][-3000:]


def test_sigterm_to_one_process_stops_both_at_one_boundary(tmp_path):
  """A signal to process 1 alone: both save the same step, a log step (the
  flags are exchanged there only), and exit 128+SIGTERM."""
  logs = tmp_path / "logs"
  workdir = tmp_path / "run"
  argv = _main_argv(
    _free_port(),
    workdir,
    "--config.total_steps=1000",
    "--config.eval.every_steps=0",
    "--config.log_every_steps=3",
    "--config.checkpoint_every_steps=100000",
    "--config.sample_every_steps=100000",
  )
  procs = _start_pair(argv, logs)
  _wait_for_line(logs / "0.err", "[3] d/", procs)
  procs[1].send_signal(signal.SIGTERM)
  _wait_all(procs, timeout=300)
  errs = [(logs / f"{i}.err").read_text() for i in range(2)]
  for p, err in zip(procs, errs):
    assert p.returncode == 128 + signal.SIGTERM, err[-3000:]
  steps = [
    int(re.search(r"stopped by signal \d+ at step (\d+)", e)[1]) for e in errs
  ]
  assert steps[0] == steps[1] and steps[0] % 3 == 0, steps
  # Resuming from it is the single-process SIGTERM test's (reliability_test).
  assert kept_checkpoints(workdir / "checkpoints") == [str(steps[0])]
