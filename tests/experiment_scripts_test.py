"""The experiment scripts that only print or configure: Table 2 sweep."""

import importlib.util
import json
import os
import shlex

from conftest import REPO

from ssgan_jax import config_lib


def _load(path):
  spec = importlib.util.spec_from_file_location("sweep", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


SWEEP = _load(os.path.join(REPO, "experiments", "table2", "sweep.py"))


def test_table2_grid_size_and_cells():
  cells = list(SWEEP.grid())
  # 2 datasets x 2 methods x (2 SN + 2 GP) x 2 betas x 3 seeds.
  assert len(cells) == 96
  assert len({name for name, *_ in cells}) == 96  # one workdir each
  gp = [o for _, _, o, _ in cells if o["penalty.name"] == "wgan_gp"]
  assert {o["penalty.weight"] for o in gp} == {1.0, 10.0}
  assert all(o["disc_iters"] == 5 for o in gp)
  assert not any(o["model.discriminator.spectral_norm"] for o in gp)
  sn = [o for _, _, o, _ in cells if o["penalty.name"] == "none"]
  assert {o["disc_iters"] for o in sn} == {1, 2}


def _apply(config, dotted, text):
  """Sets `--config.<dotted>=<text>` the way config_flags does: the field
  must exist and the text must convert to the field's type."""
  *parents, leaf = dotted.split(".")
  node = config
  for p in parents:
    node = node[p]
  old = node[leaf]  # KeyError: the sweep names a field that does not exist
  if isinstance(old, bool):
    assert text in ("True", "False"), (dotted, text)
    node[leaf] = text == "True"
  else:
    node[leaf] = type(old)(text)


def test_every_printed_command_names_real_fields(capsys):
  SWEEP.main(["--seeds", "0"])
  lines = capsys.readouterr().out.splitlines()
  assert len(lines) == 32
  for line in lines:
    argv = shlex.split(line)
    assert argv[:4] == ["python", "-m", "ssgan_jax.main", "--config"]
    path = os.path.join(REPO, argv[4])
    config = _load(path).get_config()
    assert argv[5] == "--workdir"
    for arg in argv[7:]:
      key, text = arg.removeprefix("--config.").split("=", 1)
      _apply(config, key, text)
    config_lib.validate(config)


ANALYZE = _load(
  os.path.join(REPO, "experiments", "fashion_mnist_table1", "analyze.py")
)


def _row(method, seed, fd, probe):
  return {"method": method, "seed": seed, "fd_fmnist": fd, "probe_last": probe}


def test_table1_mean_std_and_paired_differences_by_hand():
  rows = [
    _row("gan", 0, 100.0, 0.70),
    _row("gan", 1, 120.0, 0.72),
    _row("ssgan", 0, 90.0, 0.71),
    _row("ssgan", 1, 116.0, 0.75),
    _row("ssgan_ms", 1, 110.0, 0.74),  # seed 1 only
  ]
  table = ANALYZE.table(rows)
  # Uncond-GAN: mean 110, sample std 14.1; SS-GAN: 103, 18.4.
  assert "| Uncond-GAN | 2 | 110.0 ± 14.1 |" in table
  assert "| SS-GAN | 2 | 103.0 ± 18.4 |" in table
  assert "| SSGAN-MS | 1 | 110.0 |" in table
  paired = ANALYZE.paired_table(rows)
  lines = {ln.split(" | ")[0]: ln for ln in paired.splitlines()}
  # SS-GAN - Uncond-GAN: FD -10 and -4 -> mean -7.0, std 4.2; probe +0.01
  # and +0.03 -> +0.020 ± 0.014.
  ssgan = lines["| SS-GAN − Uncond-GAN"]
  assert "| 2 | -7.0 ± 4.2 (-10.0, -4.0) |" in ssgan
  assert "+0.020 ± 0.014 (+0.010, +0.030)" in ssgan
  # SSGAN-MS - SS-GAN is paired on seed 1 only: FD 110 - 116.
  assert "| 1 | -6.0 (-6.0) |" in lines["| SSGAN-MS − SS-GAN"]
  assert "SS-GAN (sBN)" not in paired  # no sBN runs


def test_table1_collect_reads_the_run_files_unscaled(tmp_path):
  run = tmp_path / "ssgan_seed3"
  (run / "eval" / "during_training").mkdir(parents=True)
  final = {
    "num_images": 10000,
    "fd_fmnist": 250.5,
    "kid_mean": 98.9,
    "precision": 0.5,
    "recall": 0.01,
    "coverage_classes": 10,
    "is_fmnist": 2.2,
  }
  (run / "eval" / "step_1000.json").write_text(json.dumps(final))
  for step, fd in ((250, 400.0), (500, 300.0), (1000, 260.0)):
    (run / "eval" / "during_training" / f"step_{step}.json").write_text(
      json.dumps({"step": step, "fd_fmnist": fd})
    )
  probe = {
    "num_blocks": 2,
    "probe/block1/top1_test": 0.65,
    "probe/block2/top1_test": 0.72,
    "probe/rotation/top1": 0.58,
  }
  (run / "eval" / "probe_step_1000.json").write_text(json.dumps(probe))
  (tmp_path / "notes").mkdir()  # not a run: ignored
  rows, curves = ANALYZE.collect(tmp_path)
  assert len(rows) == 1
  row = rows[0]
  assert (row["method"], row["seed"], row["step"]) == ("ssgan", 3, 1000)
  for key in ("fd_fmnist", "kid_mean", "precision", "recall"):
    assert row[key] == final[key]
  assert row["best_fd_2k"] == 260.0
  assert (row["probe_last"], row["probe_best"]) == (0.72, 0.72)
  assert row["rotation_acc"] == 0.58
  assert curves["ssgan"][3] == [(250, 400.0), (500, 300.0), (1000, 260.0)]


def test_table1_curve_in_minutes_and_the_cond_gan_pairs(tmp_path):
  run = tmp_path / "cgan_seed0"
  (run / "eval" / "during_training").mkdir(parents=True)
  (run / "eval" / "step_1800.json").write_text(
    json.dumps({"num_images": 10000, "fd_fmnist": 30.0, "coverage_tv": 0.05})
  )
  for step, wall, fd in ((300, 150.0, 120.0), (600, 330.0, 80.0)):
    (run / "eval" / "during_training" / f"step_{step}.json").write_text(
      json.dumps({"step": step, "train_wall_s": wall, "fd_fmnist": fd})
    )
  rows, curves = ANALYZE.collect(tmp_path, "minutes")
  # train_wall_s / 60: 150 s -> 2.5 min, 330 s -> 5.5 min.
  assert curves["cgan"][0] == [(2.5, 120.0), (5.5, 80.0)]
  # A clock that restarted mid-run (falls from 330 s to 90 s): the run
  # keeps its row but has no curve in minutes.
  (run / "eval" / "during_training" / "step_900.json").write_text(
    json.dumps({"step": 900, "train_wall_s": 90.0, "fd_fmnist": 60.0})
  )
  again, curves = ANALYZE.collect(tmp_path, "minutes")
  assert [r["method"] for r in again] == ["cgan"] and "cgan" not in curves
  assert again[0]["best_fd_2k"] == 60.0
  rows.append(
    {"method": "ssgan", "seed": 0, "fd_fmnist": 36.0, "coverage_tv": 0.12}
  )
  lines = {
    ln.split(" | ")[0]: ln for ln in ANALYZE.paired_table(rows).splitlines()
  }
  # Cond-GAN - SS-GAN on seed 0: FD 30 - 36 = -6.0, TV 0.05 - 0.12.
  assert "| 1 | -6.0 (-6.0) |" in lines["| Cond-GAN − SS-GAN"]
  assert "-0.070 (-0.070)" in lines["| Cond-GAN − SS-GAN"]


def test_table1_forgetting_runs_are_read_apart_from_the_table(tmp_path):
  run = tmp_path / "gan_forgetting_seed0"
  (run / "eval" / "probe").mkdir(parents=True)
  (run / "eval" / "during_training").mkdir(parents=True)
  (run / "eval" / "step_200.json").write_text(
    json.dumps({"num_images": 10, "fd_fmnist": 1.0})
  )
  # Block 2 peaks at step 100 (0.80) and falls back to 0.74 by step 200.
  for step, b1, b2, fd, wall in (
    (100, 0.60, 0.80, 50.0, 30.0),
    (200, 0.65, 0.74, 40.0, 66.0),
  ):
    (run / "eval" / "probe" / f"step_{step}.json").write_text(
      json.dumps(
        {
          "num_blocks": 2,
          "probe/block1/top1_test": b1,
          "probe/block2/top1_test": b2,
        }
      )
    )
    (run / "eval" / "during_training" / f"step_{step}.json").write_text(
      json.dumps({"step": step, "train_wall_s": wall, "fd_fmnist": fd})
    )
  rows, _ = ANALYZE.collect(tmp_path)
  assert rows == []  # not a row of Table 1
  runs = ANALYZE.forgetting(tmp_path)
  assert runs[("gan", 0)] == [
    {
      "step": 100,
      "block1": 0.60,
      "block2": 0.80,
      "fd_fmnist": 50.0,
      "minutes": 0.5,
    },
    {
      "step": 200,
      "block1": 0.65,
      "block2": 0.74,
      "fd_fmnist": 40.0,
      "minutes": 1.1,
    },
  ]
  text = ANALYZE.forgetting_table(runs)
  assert "| 200 | 1.1 | 40.0 | 0.6500 | 0.7400 |" in text
  assert "| block2 | 0.8000 (100) | 0.7400 | -0.0600 |" in text
  assert "| block1 | 0.6500 (200) | 0.6500 | +0.0000 |" in text
  ANALYZE.plot_forgetting(runs, tmp_path / "f.png")
  assert (tmp_path / "f.png").stat().st_size > 0
