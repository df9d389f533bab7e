"""The benchmark's machinery on a tiny config: rows, keys, JSON, table.

Not a timed test: one timed step of a width-8/4 model, the reference
skipped, two rows (the default convolution and its per-tap A/B twin) and no
per-part breakdown (each would be one more compile).
"""

import json
import os

from benchmarks import step_speed as benchmark
from configs import cifar10_ssgan
from ssgan_jax import state as state_lib

_ROW_KEYS = {
  "name",
  "fraction",
  "dtype",
  "g_params",
  "d_params",
  "d_images_per_d_update",
  "d_images_per_g_update",
  "compile_s",
  "step",
  "g_steps_per_s",
  "images_per_s",
  "cpu_s_per_step",
  "system_cpu_s_per_step",
  "minor_faults_per_step",
  "flops_per_step",
  "achieved_flops_per_s",
  "fraction_of_matmul_peak",
  "memory",
  "loadavg_1min_before_after",
}


def test_tiny_run_writes_all_keys(tmp_path):
  base = cifar10_ssgan.get_config("quick")  # width 8, batch 8
  result = benchmark.run(
    steps=1,
    warmup=0,
    fractions=(0.25,),
    torch_python=None,
    breakdown=False,
    base_config=base,
    matmul_n=64,
    command="test",
    widths=(8, 4),
    baseline_convs=("taps",),
  )
  path = tmp_path / "results.json"
  path.write_text(json.dumps(result))
  loaded = json.loads(path.read_text())

  for key in (
    "command",
    "device",
    "threads",
    "versions",
    "setting",
    "matmul_peak",
    "reference",
    "ours",
    "ratios_g_steps_per_s",
    "ratios_cpu_s_per_step",
    "table",
  ):
    assert key in loaded, key
  assert loaded["setting"]["loss"] == "hinge"
  assert loaded["versions"]["jax"]
  assert loaded["threads"] >= 1
  assert loaded["setting"]["g_width"] == 8
  assert loaded["setting"]["d_width"] == 4
  # The headline row, then its A/B twin on the per-tap weight gradient.
  assert [r["fraction"] for r in loaded["ours"]] == [0.25, 0.25]
  assert [r["conv"] for r in loaded["ours"]] == ["auto", "taps"]
  assert loaded["ours"][1]["name"].endswith("conv=taps")
  for row in loaded["ours"]:
    assert _ROW_KEYS <= set(row), _ROW_KEYS - set(row)
    assert row["step"]["mean_s"] > 0
    assert row["flops_per_step"] > 0
    assert row["g_params"] > 0 and row["d_params"] > 0
  assert loaded["ld_preload"] == os.environ.get("LD_PRELOAD", "")
  assert "memory allocator (both sides):" in loaded["table"]
  assert not loaded["reference"]["measured"]
  assert "NOT MEASURED" in loaded["table"]
  assert "pip install --no-deps torch-mimicry" in loaded["table"]


def test_allocator_names_the_preloaded_libraries():
  assert benchmark.allocator("") == "glibc (no LD_PRELOAD)"
  assert (
    benchmark.allocator("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4")
    == "libtcmalloc_minimal.so.4"
  )
  assert benchmark.allocator("/a/libx.so:/b/liby.so") == "libx.so, liby.so"


def test_per_step_usage_divides_each_counter_by_the_steps():
  usage = benchmark.per_step_usage((10.0, 2.0, 100), (16.0, 3.5, 4100), 4)
  assert usage == {
    "cpu_s_per_step": 1.5,
    "system_cpu_s_per_step": 0.375,
    "minor_faults_per_step": 1000.0,
  }


def test_missing_reference_env_is_reported_not_raised():
  ref = benchmark.measure_reference(
    "/nonexistent/python",
    benchmark.cifar10_bench_config(),
    steps=1,
    warmup=0,
    threads=1,
  )
  assert ref["measured"] is False
  assert "does not exist" in ref["reason"]


def test_d_views_match_torch_mimicry_at_quarter_fraction():
  # torch-mimicry: 3B images per D update, 2B per G update. Ours at 0.25
  # shares the B/4 upright rotation views with the GAN loss.
  for f, expected in ((0.25, (176, 112)), (1.0, (320, 256))):
    config = benchmark.cifar10_bench_config(f)
    comps = state_lib.build_components(config)
    assert benchmark.d_views_per_update(config, comps) == expected


def test_scales_name_the_widths_the_configs_use():
  from configs import fashion_mnist_ssgan  # pylint: disable=g-import-not-at-top

  paper = cifar10_ssgan.get_config()
  assert benchmark.SCALES["paper"] == (
    paper.model.generator.width,
    paper.model.discriminator.width,
  )
  fm = fashion_mnist_ssgan.get_config()
  assert benchmark.SCALES["width32"] == (
    fm.model.generator.width,
    fm.model.discriminator.width,
  )
  config = benchmark.cifar10_bench_config(widths=(32, 32), conv="xla")
  assert config.model.generator.width == config.model.discriminator.width == 32
  assert config.model.conv == "xla"


def test_unknown_scale_is_one_clear_error(capsys):
  import pytest  # pylint: disable=g-import-not-at-top

  with pytest.raises(SystemExit):
    benchmark.main(["--scales", "huge", "--out", ""])
  assert "choose from paper, width32" in capsys.readouterr().err


def test_input_pipeline_benchmark_measures_every_source(tmp_path):
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top

  from conftest import REPO  # pylint: disable=g-import-not-at-top
  from conftest import cli_env  # pylint: disable=g-import-not-at-top

  out = tmp_path / "pipeline.json"
  run = subprocess.run(
    [
      sys.executable,
      "benchmarks/input_pipeline.py",
      *("--images", "128", "--steps", "2", "--sizes", "32", "--threads", "2"),
      *("--json", str(out)),
    ],
    cwd=REPO,
    env=cli_env(),
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )
  assert run.returncode == 0, run.stderr[-3000:]
  rows = json.loads(out.read_text())["rows"]
  assert [r["source"] for r in rows] == [
    "embedded",
    "folder (start-up decode)",
    "folder",
    "array_record 32px",
  ]
  assert all(r["images_per_s"] > 0 and r["x_step_need"] > 0 for r in rows)
  assert "| array_record 32px |" in run.stdout
