"""End to end: `python -m ssgan_jax.main` on the quick config over the real
embedded data, then again to prove it resumes instead of starting over."""

import json
import pathlib

from conftest import run_main
from conftest import run_module

from ssgan_jax import checkpointing


def _run(workdir, *extra, timeout=600):
  return run_main(
    workdir,
    *extra,
    config="configs/fashion_mnist_ssgan.py:quick",
    timeout=timeout,
  )


def _steps(workdir: pathlib.Path):
  return sorted(
    int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()
  )


def test_train_then_resume(tmp_path):
  workdir = tmp_path / "run"
  first = _run(workdir)
  assert first.returncode == 0, first.stderr[-3000:]
  assert _steps(workdir) == [2, 4]
  samples = sorted(p.name for p in (workdir / "samples").iterdir())
  assert samples == ["step_0000002.png", "step_0000004.png"]
  assert list(workdir.glob("events.out.tfevents.*"))
  config = json.loads((workdir / "config.json").read_text())
  assert config["total_steps"] == 4
  assert "Resumed" not in first.stderr

  second = _run(workdir, "--config.total_steps=6")
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Resumed from" in second.stderr and "at step 4" in second.stderr
  assert "Trained steps 4..6" in second.stderr
  assert _steps(workdir)[-1] == 6
  assert (workdir / "samples" / "step_0000006.png").exists()
  # The log is readable: Orbax's per-file INFO lines are filtered out.
  assert "Renaming" not in second.stderr


def test_help_works():
  out = run_module("ssgan_jax.main", "--help", timeout=120)
  # absl ends --help with exit status 1 by convention; the text is what
  # matters.
  assert out.returncode in (0, 1), out.stderr[-2000:]
  assert "--workdir" in out.stdout and "--config" in out.stdout
  assert "Traceback" not in out.stderr


def test_bad_override_is_one_clear_line(tmp_path):
  out = _run(tmp_path / "bad", "--config.batch_size=0")
  assert out.returncode == 2
  assert "error: batch_size=0 must be a positive integer" in out.stderr
  assert "Traceback" not in out.stderr


def test_wall_clock_budget_ends_the_run_as_its_last_step(tmp_path):
  """train_minutes: the first log step past the budget is the final step.

  A budget of ~0 is spent by the first log step (2): the run then does
  what it does at total_steps (checkpoint, grid, evaluation with the wall
  time) and stops; a non-positive or NaN budget is one line.
  """
  workdir = tmp_path / "budget"
  out = _run(
    workdir,
    "--config.train_minutes=1e-9",
    "--config.total_steps=8",
    "--config.eval.every_steps=6",
    "--config.eval.num_samples=64",
    "--config.eval.batch_size=32",
  )
  assert out.returncode == 0, out.stderr[-3000:]
  assert _steps(workdir) == [2]
  assert (workdir / "samples" / "step_0000002.png").exists()
  result = json.loads(
    (workdir / "eval" / "during_training" / "step_2.json").read_text()
  )
  assert result["step"] == 2 and result["train_wall_s"] > 0
  bad = _run(tmp_path / "bad_budget", "--config.train_minutes=nan")
  assert bad.returncode == 2
  assert "error: train_minutes=nan must be a finite number >= 0" in bad.stderr


def test_a_resumed_run_continues_its_clock_and_budget(tmp_path):
  """The training clock is saved with each checkpoint and continued.

  Run 1 trains 3 steps (log steps 2, 4, ...; checkpoints at 2 and the
  final 3). Run 2 resumes at 3 with a ~0 budget: 3 is not a log step, so
  it trains on to the next one, 4, finds the budget spent and ends there.
  Run 3, the same command, finds it spent at step 4 and trains nothing.
  """
  workdir = tmp_path / "run"
  first = _run(workdir, "--config.total_steps=3")
  assert first.returncode == 0, first.stderr[-3000:]
  assert _steps(workdir) == [2, 3]
  budget = ("--config.total_steps=8", "--config.train_minutes=1e-9")
  second = _run(workdir, *budget)
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Trained steps 3..4" in second.stderr
  assert _steps(workdir) == [2, 3, 4]
  ckpt = checkpointing.Checkpointer(workdir / "checkpoints")
  clocks = [ckpt.train_wall_s(s) for s in (2, 3, 4)]
  ckpt.close()
  assert 0 < clocks[0] < clocks[1] < clocks[2]
  third = _run(workdir, *budget)
  assert third.returncode == 0, third.stderr[-3000:]
  assert "budget (train_minutes=1e-09) was spent by step 4" in third.stderr
  assert "Trained steps" not in third.stderr
  assert _steps(workdir) == [2, 3, 4]
