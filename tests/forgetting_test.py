"""End-to-end tests of the experiments/forgetting scripts at toy size.

task_sequence.py (Fig. 2): runs the script's `main` in-process (2 tasks x 3
steps, width 8, batch 8, one seed) and checks the three outputs and that
"+rotation" really trains the rotation head on top of the binary loss.

probe_over_training.py (Fig. 3): trains the quick config for 4 steps into a
fake runs dir, probes its checkpoints and initial D with 64/32 images, and
checks the outputs, the cache and that run selection skips what it should.
"""

import csv
import importlib.util
import json
import os
import pathlib
import shutil

import jax
import numpy as np
import pytest
from conftest import REPO
from conftest import load_checkpoint
from conftest import run_main

from ssgan_jax import state as state_lib
from ssgan_jax import workdir as workdir_lib

_SCRIPT = os.path.join(REPO, "experiments", "forgetting", "task_sequence.py")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# 2 tasks x 3 steps, evaluated after every step on 16 test images per task.
_TINY = (
  "--width=8",
  "--batch_size=8",
  "--num_tasks=2",
  "--steps_per_task=3",
  "--cycles=1",
  "--eval_every=1",
  "--test_per_task=16",
  "--seeds=0",
)


def _load_script():
  spec = importlib.util.spec_from_file_location("task_sequence", _SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope="module")
def script():
  return _load_script()


@pytest.fixture(scope="module")
def result(script, tmp_path_factory):
  out_dir = tmp_path_factory.mktemp("forgetting")
  return script.main(["--out_dir", str(out_dir), *_TINY])


def test_csv_has_one_row_per_variant_and_evaluation(result, script):
  with open(result["paths"]["csv"]) as f:
    reader = csv.DictReader(f)
    rows = list(reader)
  assert tuple(reader.fieldnames) == script.CSV_COLUMNS
  # 2 variants x 1 seed x 6 evaluations (every step of 2 tasks x 3 steps).
  assert len(rows) == 12
  for variant in script.VARIANTS:
    mine = [r for r in rows if r["variant"] == variant]
    assert [int(r["step"]) for r in mine] == [1, 2, 3, 4, 5, 6]
    assert [int(r["task"]) for r in mine] == [0, 0, 0, 1, 1, 1]
    acc = np.array([float(r["test_accuracy"]) for r in mine])
    # 16 test images per task: accuracies are multiples of 1/16.
    assert np.all((acc >= 0) & (acc <= 1))
    np.testing.assert_allclose(acc * 16, np.round(acc * 16), atol=1e-2)


def test_png_is_a_png(result):
  with open(result["paths"]["png"], "rb") as f:
    head = f.read(8)
  assert head == _PNG_MAGIC
  assert os.path.getsize(result["paths"]["png"]) > 1000


def test_summary_has_switch_numbers_per_variant(result, script):
  with open(result["paths"]["summary"]) as f:
    summary = json.load(f)
  assert summary["settings"]["total_steps"] == 6
  assert set(summary["variants"]) == set(script.VARIANTS)
  for numbers in summary["variants"].values():
    for key in (
      "acc_after_switch",
      "acc_end_of_task",
      "drop_at_switch",
      "acc_final",
      "acc_after_switch_by_cycle",
      "acc_end_of_task_by_cycle",
    ):
      assert key in numbers
    assert 0.0 <= numbers["acc_after_switch"] <= 1.0
  assert summary["wall_time_s"]["total"] > 0


def test_rotation_variant_adds_the_rotation_loss(result):
  base, rot = result["metrics"]["baseline"], result["metrics"]["rotation"]
  assert "rotation_loss" not in base
  assert base["loss"] == pytest.approx(base["bce"])
  assert rot["rotation_loss"] > 0
  # beta = 1.0: the total is the binary loss plus the rotation loss.
  assert rot["loss"] == pytest.approx(rot["bce"] + rot["rotation_loss"])


def test_balanced_batches_and_test_sets(script):
  train = np.arange(10)[:, None, None, None, None] * np.ones(
    (10, 9, 32, 32, 1), np.uint8
  )  # every image's pixels equal its class
  images, labels = script.sample_batch(
    jax.numpy.asarray(train), np.int32(3), jax.random.key(0), 64
  )
  cls = np.round((np.asarray(images)[:, 0, 0, 0] + 1) * 127.5)  # [64]
  assert np.all(cls[:32] == 3) and not np.any(cls[32:] == 3)
  np.testing.assert_array_equal(np.asarray(labels), [1.0] * 32 + [0.0] * 32)
  test_images, test_labels = script.balanced_test_set(train, 2, 18)
  assert test_images.shape == (2, 18, 32, 32, 1)
  np.testing.assert_array_equal(test_labels.mean(1), [0.5, 0.5])
  neg = np.round((test_images[1, 9:, 0, 0, 0] + 1) * 127.5)
  assert sorted(neg) == [0, 2, 3, 4, 5, 6, 7, 8, 9]  # the nine other classes


def test_summary_numbers_by_hand(script):
  s = script.Settings(
    steps_per_task=2, cycles=2, num_tasks=2, eval_every=1, seeds=(0,)
  )
  # Segments of 2 steps: (after switch, end) = (.5, .9), (.6, .8), (.7, 1.),
  # (.6, .9); the first is not a switch.
  acc = [0.5, 0.9, 0.6, 0.8, 0.7, 1.0, 0.6, 0.9]
  rows = [
    {"variant": "baseline", "seed": 0, "step": i + 1, "test_accuracy": a}
    for i, a in enumerate(acc)
  ]
  got = script.summarize(rows, s)["baseline"]
  assert got["acc_after_switch"] == pytest.approx((0.6 + 0.7 + 0.6) / 3)
  assert got["acc_end_of_task"] == pytest.approx((0.9 + 0.8 + 1.0 + 0.9) / 4)
  assert got["drop_at_switch"] == pytest.approx((0.3 + 0.1 + 0.4) / 3)
  assert got["acc_final"] == pytest.approx(0.9)
  assert got["acc_after_switch_by_cycle"] == pytest.approx([0.6, 0.65])
  assert got["acc_end_of_task_by_cycle"] == pytest.approx([0.85, 0.95])


def test_same_seed_same_curve(script, result, tmp_path):
  again = script.main(
    ["--out_dir", str(tmp_path), *_TINY, "--variants", "baseline"]
  )
  assert again["metrics"]["baseline"] == result["metrics"]["baseline"]
  with open(again["paths"]["csv"]) as f:
    rerun = list(csv.DictReader(f))
  with open(result["paths"]["csv"]) as f:
    first = [r for r in csv.DictReader(f) if r["variant"] == "baseline"]
  assert rerun == first


# --- experiments/forgetting/probe_over_training.py (Fig. 3) -------------------

_PROBE_SCRIPT = os.path.join(
  REPO, "experiments", "forgetting", "probe_over_training.py"
)
# Probes fit on 64 train images and score on 32 test images: top-1 values are
# multiples of 1/32.
_PROBE_LIMITS = ("--train_limit", "64", "--test_limit", "32")


@pytest.fixture(scope="module")
def probe_script():
  spec = importlib.util.spec_from_file_location(
    "probe_over_training", _PROBE_SCRIPT
  )
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope="module")
def fake_runs(tmp_path_factory):
  """A runs dir: ssgan_seed0 finished (checkpoints 2, 4), ssgan_seed1 not.

  ssgan_seed0 is the quick config's 4 steps, checkpointed every 2; the
  final-evaluation marker that run_all.sh would write is faked, since only
  its existence matters. ssgan_seed1 has the config but no marker, like a
  run still training.
  """
  runs = tmp_path_factory.mktemp("runs")
  workdir = runs / "ssgan_seed0"
  trained = run_main(
    workdir, config="configs/fashion_mnist_ssgan.py:quick", timeout=300
  )
  assert trained.returncode == 0, trained.stderr[-3000:]
  (workdir / "eval").mkdir(exist_ok=True)
  (workdir / "eval" / "step_4.json").write_text("{}")
  (runs / "ssgan_seed1").mkdir()
  shutil.copy(workdir / "config.json", runs / "ssgan_seed1" / "config.json")
  return runs


@pytest.fixture(scope="module")
def probed(probe_script, fake_runs, tmp_path_factory):
  out_dir = tmp_path_factory.mktemp("fig3")
  argv = [
    "--runs",
    str(fake_runs),
    "--methods",
    "gan,ssgan",
    "--out_dir",
    str(out_dir),
    *_PROBE_LIMITS,
  ]
  return argv, probe_script.main(argv)


def _eval_dir(result):
  runs = result["summary"]["settings"]["runs"]
  return pathlib.Path(runs) / "ssgan_seed0" / "eval"


def _csv_rows(path):
  with open(path) as f:
    reader = csv.DictReader(f)
    return tuple(reader.fieldnames), list(reader)


def test_probe_csv_has_every_block_of_every_step(probed, probe_script):
  _, result = probed
  columns, rows = _csv_rows(result["paths"]["csv"])
  assert columns == probe_script.CSV_COLUMNS
  # Steps 0 (initial D), 2 and 4, four D blocks each; only seed 0 finished.
  assert [(int(r["step"]), int(r["block"])) for r in rows] == [
    (s, b) for s in (0, 2, 4) for b in (1, 2, 3, 4)
  ]
  assert {(r["method"], r["seed"]) for r in rows} == {("ssgan", "0")}
  top1 = np.array([float(r["top1_test"]) for r in rows])
  assert np.all((top1 >= 0) & (top1 <= 1))
  np.testing.assert_allclose(top1 * 32, np.round(top1 * 32), atol=1e-2)


def test_probe_png_and_summary(probed):
  _, result = probed
  with open(result["paths"]["png"], "rb") as f:
    assert f.read(8) == _PNG_MAGIC
  with open(result["paths"]["json"]) as f:
    summary = json.load(f)
  settings = summary["settings"]
  assert (settings["num_train"], settings["num_test"]) == (64, 32)
  assert settings["runs_used"] == ["ssgan_seed0"]
  assert settings["runs_skipped"] == [
    "ssgan_seed1: unfinished (no eval/step_4.json yet)"
  ]
  assert list(summary["methods"]) == ["ssgan"]  # no gan run at all
  ssgan = summary["methods"]["ssgan"]
  assert ssgan["steps"] == [0, 2, 4] and ssgan["num_seeds"] == [1, 1, 1]
  _, rows = _csv_rows(result["paths"]["csv"])
  last = [float(r["top1_test"]) for r in rows if r["block"] == "4"]
  means = [p["mean"] for p in ssgan["last_block"]]
  np.testing.assert_allclose(means, last, atol=1e-4)  # CSV has 4 decimals
  assert all(0 <= a <= 1 for a in ssgan["rotation_top1_mean"])
  assert summary["probes"] == {"computed": 3, "reused": 0}
  # probe_workdir's own file for a checkpoint, and one for the initial D.
  eval_dir = _eval_dir(result)
  for step in (0, 2, 4):
    stored = json.loads((eval_dir / f"probe_step_{step}.json").read_text())
    assert (stored["step"], stored["num_train"]) == (step, 64)


def test_probes_are_reused_and_foreign_probes_kept(probed, probe_script):
  argv, first = probed
  again = probe_script.main(argv)
  assert again["summary"]["probes"] == {"computed": 0, "reused": 3}
  assert again["rows"] == first["rows"]
  # A probe of step 2 made with other settings (say a full-data one) sits
  # where probe_workdir writes: it is recomputed beside it, never replaced.
  eval_dir = _eval_dir(first)
  foreign = '{"step": 2, "num_train": 60000, "num_test": 10000}'
  (eval_dir / "probe_step_2.json").write_text(foreign)
  third = probe_script.main(argv)
  assert third["summary"]["probes"] == {"computed": 1, "reused": 2}
  assert (eval_dir / "probe_step_2.json").read_text() == foreign
  assert (eval_dir / "probe_step_2.train64_test32.json").is_file()
  # Full-batch L-BFGS from zero weights: the same probe again.
  assert third["rows"] == first["rows"]


def test_initial_state_is_the_one_training_started_from(
  probe_script, fake_runs
):
  # An Adam step moves each D weight by at most ~lr (the first steps by
  # about lr exactly), while another seed's init differs by O(0.1): the
  # rebuilt step-0 D must be within the first of the checkpoint at step 2
  # and not of the second.
  workdir = fake_runs / "ssgan_seed0"
  saved = load_checkpoint(workdir / "checkpoints" / "2")["d"]["params"]
  config = workdir_lib.load_config(workdir)
  gaps = []
  for seed in (config.seed, config.seed + 1):
    config.seed = seed
    comps = state_lib.build_components(config)
    init = probe_script.initial_state(comps).d.params
    gaps.append(
      max(
        float(np.max(np.abs(np.asarray(a) - b)))
        for a, b in zip(
          jax.tree.leaves(init), jax.tree.leaves(saved), strict=True
        )
      )
    )
  d_steps = 2 * config.disc_iters
  bound = 1.5 * d_steps * config.optimizer.d.learning_rate
  assert gaps[0] < bound < 0.05 < gaps[1], (gaps, bound)


def test_checkpoints_off_the_save_grid_are_left_out(
  probe_script, fake_runs, tmp_path
):
  # A resumed run also holds the save made when it stopped (step 3 here).
  run = tmp_path / "gan_seed0"
  (run / "checkpoints").mkdir(parents=True)
  shutil.copy(fake_runs / "ssgan_seed0" / "config.json", run / "config.json")
  for name in ("2", "3", "4", "4.orbax-checkpoint-tmp-1"):
    (run / "checkpoints" / name).mkdir()
  assert probe_script.checkpoint_steps(run) == ([2, 4], [3])


def test_probe_summary_by_hand(probe_script):
  # Two seeds at one step; the best block differs between them.
  top1 = {0: (0.5, 0.7, 0.6), 1: (0.4, 0.5, 0.8)}
  rows = [
    {"method": "gan", "seed": s, "step": 10, "block": b + 1, "top1_test": v}
    for s, vals in top1.items()
    for b, v in enumerate(vals)
  ]
  got = probe_script.summarize(rows, {("gan", 10): [None, None]}, ["gan"])
  gan = got["gan"]
  assert gan["steps"] == [10] and gan["num_seeds"] == [2]
  assert gan["last_block"][0]["mean"] == pytest.approx(0.7)
  assert gan["last_block"][0]["min"] == pytest.approx(0.6)
  assert gan["best_block"][0]["mean"] == pytest.approx(0.75)
  assert gan["best_block_index"] == [[2, 3]]
  assert gan["per_block_mean"]["1"] == [pytest.approx(0.45)]
  assert gan["rotation_top1_mean"] == [None]
