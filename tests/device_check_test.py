"""benchmarks/device_check.py --dry_run: every section runs on CPU at tiny
sizes without TensorFlow, so the accelerator check is known to work before a
device is lent. Its default-job section is also the test that the default
job trains and evaluates (FD-FMNIST) without TensorFlow."""

import json
import os
import subprocess
import sys

from conftest import REPO
from conftest import env_without_tensorflow


def test_dry_run_measures_every_section(tmp_path):
  out = tmp_path / "device_check.json"
  env = env_without_tensorflow(tmp_path)
  torch_python = os.environ.get("SSGAN_TORCH_PYTHON", "")
  proc = subprocess.run(
    [
      sys.executable,
      "benchmarks/device_check.py",
      "--dry_run",
      f"--out={out}",
      f"--torch_python={torch_python}",
    ],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
    check=False,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = json.loads(out.read_text())
  assert result["dry_run"] and result["total_wall_s"] > 0
  rows = result["steps"]
  assert [(r["dtype"], r["fraction"]) for r in rows] == [("float32", 0.25)]
  for r in rows:
    assert r["metrics_finite"], r
    assert r["g_steps_per_s"] > 0 and r["flops_per_step"] > 0
    assert 0 < r["fraction_of_measured_matmul"]
  (ref,) = result["reference"]
  assert ref["measured"] == bool(torch_python), ref
  job = result["default_job"]
  assert "error" not in job, job
  (last,) = job["evaluations"]
  assert last["step"] == 4 and last["fd_fmnist"] > 0
  assert job["steps_per_s_logged"]
  # The default job without TensorFlow: TensorBoard off, said once.
  assert job["said_tensorboard_is_off"] == 1
  assert job["tensorboard_event_files"] == 0
