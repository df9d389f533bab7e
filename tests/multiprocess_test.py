"""Two processes on localhost (2 fake CPU devices each) train the same run as
one process with 4 devices, and resume from their shared checkpoint."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
from conftest import REPO
from conftest import cli_env
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


def _two_processes(workdir, *extra):
  """Runs both processes; returns [(returncode, stderr text)] per process.

  Output goes to files, not pipes: a process blocked on a full pipe that
  nobody drains never reaches the shutdown barrier, and its peer then aborts
  there after the coordination service's shutdown timeout.
  """
  port = _free_port()
  logs = workdir.parent / "logs"
  logs.mkdir(parents=True, exist_ok=True)
  run = len(list(logs.glob("*.err"))) // 2  # first run 0, resume 1
  err_paths = [logs / f"run{run}_process{i}.err" for i in range(2)]
  procs = []
  for i in range(2):
    with (
      open(err_paths[i], "w") as err,
      open(logs / f"run{run}_process{i}.out", "w") as out,
    ):
      procs.append(
        subprocess.Popen(
          [
            sys.executable,
            "-m",
            "ssgan_jax.main",
            *ARGS,
            *extra,
            "--workdir",
            str(workdir),
            f"--coordinator_address=127.0.0.1:{port}",
            "--num_processes=2",
            f"--process_id={i}",
          ],
          cwd=REPO,
          env=cli_env(2),
          stdout=out,
          stderr=err,
        )
      )
  try:
    for p in procs:
      p.wait(timeout=400)
  except subprocess.TimeoutExpired:
    for q in procs:
      q.kill()
    raise
  return [(p.returncode, path.read_text()) for p, path in zip(procs, err_paths)]


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
  assert [p.name for p in (multi / "best_checkpoint").iterdir()] == ["4"]

  outs = _two_processes(multi, "--config.total_steps=6")
  _check_ok(outs)
  for _, err in outs:
    assert "at step 4" in err and "Trained steps 4..6" in err
  assert (multi / "eval" / "during_training" / "step_6.json").is_file()
  best = json.loads((multi / "eval" / "best.json").read_text())
  assert best["step"] in (4, 6)
  assert [p.name for p in (multi / "best_checkpoint").iterdir()] == [
    str(best["step"])
  ]


def test_concurrent_saves_of_two_checkpoint_directories(tmp_path):
  """The run's and the best checkpoint, saved at the same step by two
  processes whose saves start at different times, both complete (their
  cross-process barriers must not share names)."""
  port = _free_port()
  logs = [tmp_path / f"process{i}.log" for i in range(2)]
  procs = []
  for i in range(2):
    with open(logs[i], "w") as log:
      procs.append(
        subprocess.Popen(
          [
            sys.executable,
            os.path.join(REPO, "tests", "checkpointers_worker.py"),
            str(port),
            str(i),
            str(tmp_path),
          ],
          cwd=REPO,
          env=cli_env(2),
          stdout=log,
          stderr=subprocess.STDOUT,
        )
      )
  try:
    for p in procs:
      p.wait(timeout=200)
  except subprocess.TimeoutExpired:
    for q in procs:
      q.kill()
    raise
  for i, p in enumerate(procs):
    out = logs[i].read_text()
    assert p.returncode == 0, f"process {i}:\n{out[-3000:]}"
    assert f"process {i} saved [5] [5]" in out
