"""One accelerator check: paper-scale step speed and MFU, torch-mimicry on the
same chip, and a 3-minute default job scored with FD-FMNIST.

  # On a GPU machine (jax preinstalled; see benchmarks/device_check.sh):
  python benchmarks/device_check.py --out benchmarks/results_h200.json \
      --torch_python python3
  # Anywhere, in seconds, with tiny sizes (CI runs this):
  python benchmarks/device_check.py --dry_run --out /tmp/device_check.json

Sized for <= 8 minutes on one H200, compiles included:

1. `steps`: the SS-GAN train step of `configs/cifar10_ssgan.py` (G 256 / D
   128, hinge, n_dis 2) at batch 64 and 256, float32 and bfloat16 compute,
   rotation fraction 0.25 (torch-mimicry's rotation work) and 1.0 (the
   paper's): 8 rows, compiled concurrently in threads (XLA compiles on the
   host's cores), then timed one after another. Per row: steps/s, images/s,
   XLA's cost-analysis FLOPs per step, and MFU against the chip's dense spec
   peak (float32 rows against TF32, the tensor-core rate XLA uses for float32
   dots on this GPU generation by default, and against plain FP32) and against
   a large matmul timed in the same run.
2. `reference`: torch-mimicry's SSGAN32 train step on the same device
   (`benchmarks/torch_reference.py --device cuda`) at batch 64 and 256, and
   ours / theirs at f = 0.25 float32.
3. `default_job`: `python -m ssgan_jax.main` on the default config with a
   3-minute training budget, FD-FMNIST during training and at the end; the
   scores and their wall-clock minutes.

Each section is written to `--out` as soon as it ends, so a run stopped by a
time limit keeps what it measured; a section that fails records its error
and the others still run. Nothing here needs TensorFlow.
"""

import argparse
import concurrent.futures
import functools
import json
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from benchmarks import step_speed as benchmark  # noqa: E402
from ssgan_jax import writers  # noqa: E402

# Dense (no sparsity) spec peaks, FLOP/s, by jax device_kind (vendor sheets:
# H100/H200 SXM: FP32 67 T, TF32 tensor 495 T, BF16 tensor 989 T).
SPEC_PEAKS = {
  "NVIDIA H200": {"float32": 67e12, "tf32": 495e12, "bfloat16": 989e12},
  "NVIDIA H100 80GB HBM3": {
    "float32": 67e12,
    "tf32": 495e12,
    "bfloat16": 989e12,
  },
}
FULL = {
  "widths": (256, 128),
  "batches": (64, 256),
  "dtypes": ("float32", "bfloat16"),
  "fractions": (0.25, 1.0),
  "steps": 20,
  "warmup": 3,
  "matmul_n": 8192,
  "train_minutes": 3.0,
  "eval_every": 2000,
  "eval_samples": 10_000,
  "config_arg": "",
}
DRY = {
  "widths": (8, 8),
  "batches": (8,),
  "dtypes": ("float32",),
  "fractions": (0.25,),
  "steps": 2,
  "warmup": 1,
  "matmul_n": 256,
  "train_minutes": 0.0,
  "eval_every": 4,
  "eval_samples": 16,
  "config_arg": ":quick",
}


def row_config(width_gd, batch, dtype, fraction):
  c = benchmark.cifar10_bench_config(fraction, dtype, widths=width_gd)
  c.batch_size = batch
  return c


def measure_steps(size: dict, peaks: dict) -> list[dict]:
  """Section 1: every (batch, dtype, fraction) row."""
  configs = [
    row_config(size["widths"], b, d, f)
    for b in size["batches"]
    for d in size["dtypes"]
    for f in size["fractions"]
  ]
  t0 = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(len(configs)) as pool:
    setups = list(pool.map(benchmark.make_setup, configs))
    compiled = list(pool.map(benchmark.compile_step, setups))
  all_compile_s = time.perf_counter() - t0
  kind = jax.devices()[0].device_kind
  spec = SPEC_PEAKS.get(kind, {})
  rows = []
  for config, setup, (exe, compile_times) in zip(configs, setups, compiled):
    state = setup.state
    for _ in range(size["warmup"]):
      state, metrics = exe(state, setup.images, setup.rng)
    jax.block_until_ready(state)
    times = []
    for _ in range(size["steps"]):
      t = time.perf_counter()
      state, metrics = exe(state, setup.images, setup.rng)
      jax.block_until_ready((state, metrics))
      times.append(time.perf_counter() - t)
    host = jax.device_get(metrics)
    finite = all(bool(jnp.all(jnp.isfinite(v))) for v in host.values())
    mean = statistics.fmean(times)
    flops = benchmark.cost_of(exe)["flops"]
    achieved = flops / mean if flops else None
    dtype = config.model.compute_dtype
    spec_key = "bfloat16" if dtype == "bfloat16" else "tf32"
    row = {
      "batch_size": config.batch_size,
      "dtype": dtype,
      "fraction": config.ssl.rotation.fraction,
      "compile_s": sum(compile_times.values()),
      "step": benchmark.summarize(times),
      "g_steps_per_s": 1.0 / mean,
      "images_per_s": config.disc_iters * config.batch_size / mean,
      "flops_per_step": flops,
      "achieved_flops_per_s": achieved,
      "mfu_vs_spec": achieved / spec[spec_key]
      if achieved and spec_key in spec
      else None,
      "mfu_vs_spec_fp32": achieved / spec["float32"]
      if achieved and dtype == "float32" and "float32" in spec
      else None,
      "fraction_of_measured_matmul": achieved / peaks[dtype]
      if achieved and peaks.get(dtype)
      else None,
      "metrics_finite": finite,
    }
    rows.append(row)
    print(
      f"  batch {row['batch_size']} {dtype} f={row['fraction']:g}:"
      f" {row['g_steps_per_s']:.2f} steps/s,"
      f" {row['images_per_s']:.0f} images/s",
      flush=True,
    )
    del state, exe
  for row in rows:
    row["all_rows_compile_wall_s"] = all_compile_s
  return rows


def measure_reference(size: dict, torch_python: str, device: str) -> list:
  """Section 2: torch-mimicry at each batch, float32, on `device`."""
  out = []
  for b in size["batches"]:
    config = row_config(size["widths"], b, "float32", 0.25)
    ref = benchmark.measure_reference(
      torch_python,
      config,
      steps=size["steps"],
      warmup=size["warmup"],
      threads=benchmark.num_cores(),
      device=device,
      timeout_s=300,
    )
    ref["batch_size"] = b
    out.append(ref)
    if ref.get("measured"):
      print(f"  torch-mimicry batch {b}: {ref['g_steps_per_s']:.2f} steps/s")
    else:
      print(f"  torch-mimicry batch {b}: not measured ({ref['reason']})")
  return out


def run_default_job(size: dict) -> dict:
  """Section 3: the default job for a wall-clock budget, FD-FMNIST scored."""
  with tempfile.TemporaryDirectory() as tmp:
    workdir = pathlib.Path(tmp) / "run"
    cmd = [
      sys.executable,
      "-m",
      "ssgan_jax.main",
      f"--config=configs/fashion_mnist_ssgan.py{size['config_arg']}",
      f"--workdir={workdir}",
      f"--config.eval.every_steps={size['eval_every']}",
      f"--config.eval.num_samples={size['eval_samples']}",
    ]
    if size["train_minutes"]:
      cmd += [
        "--config.total_steps=1000000",
        f"--config.train_minutes={size['train_minutes']}",
      ]
    else:
      cmd += ["--config.eval.batch_size=8"]
    # The repo first, then what the caller put there (the carried wheels).
    path = [str(REPO), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    t0 = time.time()
    proc = subprocess.run(
      cmd,
      cwd=REPO,
      env=env,
      capture_output=True,
      text=True,
      timeout=600,
      check=False,
    )
    wall = time.time() - t0
    if proc.returncode:
      raise RuntimeError(
        f"exit {proc.returncode}: " + " | ".join(proc.stderr.splitlines()[-8:])
      )
    evals = []
    for path in sorted((workdir / "eval" / "during_training").glob("*.json")):
      r = json.loads(path.read_text())
      evals.append({
        k: r.get(k)
        for k in ("step", "train_wall_s", "fd_fmnist", "kid", "precision",
                  "recall", "class_tv", "num_samples")
      })  # fmt: skip
    evals.sort(key=lambda r: r["step"])
    rates = [
      float(x.split("=")[1].split(",")[0])
      for x in proc.stderr.split()
      if x.startswith("steps_per_sec=")
    ]
    tensorboard_files = len(list(workdir.glob("events.out.tfevents.*")))
  return {
    "command": shlex.join(["python", *cmd[1:]]).replace(str(workdir), "RUN"),
    "wall_s": wall,
    # Without TensorFlow the run says so once and writes no event files.
    "said_tensorboard_is_off": proc.stderr.count(writers.NO_TENSORBOARD),
    "tensorboard_event_files": tensorboard_files,
    "steps_per_s_logged": rates,
    "evaluations": evals,
  }


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", required=True)
  parser.add_argument("--dry_run", action="store_true")
  parser.add_argument(
    "--torch_python",
    default=os.environ.get(benchmark.TORCH_PYTHON_ENV, ""),
    help="python with torch and torch-mimicry; '' skips the reference",
  )
  parser.add_argument(
    "--sections", default="steps,reference,default_job", help="which to run"
  )
  args = parser.parse_args(argv)
  sections = [s for s in args.sections.split(",") if s]
  known = ("steps", "reference", "default_job")
  if not sections or any(s not in known for s in sections):
    parser.error(
      f"--sections={args.sections!r}: choose from {', '.join(known)}"
    )
  size = DRY if args.dry_run else FULL
  jax.config.update("jax_threefry_partitionable", True)  # as main.py
  platform = jax.devices()[0].platform
  out = pathlib.Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  result = {
    "command": shlex.join(["python", *sys.argv]),
    "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "dry_run": args.dry_run,
    "device": benchmark.device_info(),
    "versions": benchmark.versions(),
    "size": {
      k: list(v) if isinstance(v, tuple) else v for k, v in size.items()
    },
  }
  write = lambda: out.write_text(json.dumps(result, indent=2) + "\n")
  t_start = time.time()
  peaks = {
    d: benchmark.matmul_flops_per_s(size["matmul_n"], getattr(jnp, d))
    for d in size["dtypes"]
  }
  result["measured_matmul_flops_per_s"] = peaks
  result["spec_peaks"] = SPEC_PEAKS.get(jax.devices()[0].device_kind)
  write()
  runners = {
    "steps": functools.partial(measure_steps, size, peaks),
    "reference": functools.partial(
      measure_reference,
      size,
      args.torch_python,
      "cuda" if platform == "gpu" else "cpu",
    ),
    "default_job": functools.partial(run_default_job, size),
  }
  for name in sections:
    print(f"{name} ...", flush=True)
    t0 = time.time()
    try:
      result[name] = runners[name]()
    except Exception as e:  # pylint: disable=broad-except
      traceback.print_exc()
      result[name] = {"error": f"{type(e).__name__}: {e}"}
    result[f"{name}_wall_s"] = time.time() - t0
    write()
  steps, refs = result.get("steps"), result.get("reference")
  if isinstance(steps, list) and isinstance(refs, list):
    result["ratios_ours_f025_fp32_over_torch"] = {
      str(ref["batch_size"]): next(
        r["g_steps_per_s"]
        for r in steps
        if r["batch_size"] == ref["batch_size"]
        and r["dtype"] == "float32"
        and r["fraction"] == 0.25
      )
      / ref["g_steps_per_s"]
      for ref in refs
      if ref.get("measured")
    }
  result["total_wall_s"] = time.time() - t_start
  write()
  failed = [
    n for n in sections if isinstance(result[n], dict) and "error" in result[n]
  ]
  print(f"wrote {out} in {result['total_wall_s']:.0f} s")
  if failed:
    raise SystemExit(f"sections failed: {', '.join(failed)} (see {out})")


if __name__ == "__main__":
  main()
