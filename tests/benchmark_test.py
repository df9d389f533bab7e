"""The benchmark's machinery on a tiny config: rows, keys, JSON, table.

Not a timed test: one timed step of a width-8 model, the reference skipped,
one row and no per-part breakdown (each would be one more compile).
"""

import json

from configs import cifar10_ssgan
from ssgan_jax import benchmark
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
  assert [r["fraction"] for r in loaded["ours"]] == [0.25]
  for row in loaded["ours"]:
    assert _ROW_KEYS <= set(row), _ROW_KEYS - set(row)
    assert row["step"]["mean_s"] > 0
    assert row["flops_per_step"] > 0
    assert row["g_params"] > 0 and row["d_params"] > 0
  assert not loaded["reference"]["measured"]
  assert "NOT MEASURED" in loaded["table"]
  assert "pip install --no-deps torch-mimicry" in loaded["table"]


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
