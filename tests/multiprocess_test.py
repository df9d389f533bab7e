"""Two processes on localhost (2 fake CPU devices each) train the same run as
one process with 4 devices, and resume from their shared checkpoint."""

import json
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
  port = _free_port()
  procs = [
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
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for i in range(2)
  ]
  outs = []
  for p in procs:
    try:
      _, err = p.communicate(timeout=400)
    except subprocess.TimeoutExpired:
      for q in procs:
        q.kill()
      raise
    outs.append((p.returncode, err))
  return outs


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
  for rc, err in outs:
    assert rc == 0, err[-3000:]
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
  for rc, err in outs:
    assert rc == 0, err[-3000:]
    assert "at step 4" in err and "Trained steps 4..6" in err
  assert (multi / "eval" / "during_training" / "step_6.json").is_file()
  best = json.loads((multi / "eval" / "best.json").read_text())
  assert best["step"] in (4, 6)
  assert [p.name for p in (multi / "best_checkpoint").iterdir()] == [
    str(best["step"])
  ]
