"""Train-step speed of ssgan_jax against torch-mimicry's SSGAN32, one machine.

  python benchmarks/step_speed.py --out benchmarks/results_cpu.json \
      [--steps 5] [--warmup 3] [--dtype float32|bfloat16|both] \
      [--scales paper,width32] [--baseline_convs taps] \
      [--torch_python TORCHENV/bin/python]

Ours is the full SS-GAN train step of `configs/cifar10_ssgan.py` (SN-ResNet
32x32, batch 64, n_dis 2) at each scale of SCALES: the paper's widths (G 256 /
D 128) and the CPU default job's (G 32 / D 32). It is built as `train.py`
builds it:
`state.build_components`, `state.init_state`, `train_step.make_train_step`,
`jax.jit(..., donate_argnums=0)` on a one-device mesh. The loss is switched
to hinge, torch-mimicry's default, so both sides compute the same thing.

Rotation work differs by design: torch-mimicry rotates one quarter of the
batch by each angle (B rotated views per update), ours at fraction f adds
all four angles of f*B examples (4fB views, fB of them the upright images
the GAN loss already uses). Fraction 0.25 is the like-for-like row (the
headline ratio); fraction 1.0, the paper config's default, does 4x the
rotation work and is reported beside it.

The torch side runs in its own virtual env (`--torch_python`) as a
subprocess, `benchmarks/torch_reference.py`, with torch's thread count set to
the number of cores XLA uses here. Set it up with

  python3 -m venv TORCHENV
  TORCHENV/bin/pip install torch==2.13.0 numpy
  TORCHENV/bin/pip install --no-deps torch-mimicry

and pass `--torch_python TORCHENV/bin/python` (or set $SSGAN_TORCH_PYTHON).

Without it the benchmark still measures ours and says so in the table.

`--baseline_convs taps` adds, per scale, a row with every layer on the per-tap
weight gradient (what all layers ran before `models/conv.py`'s cpu_plan), so
the algorithm choice is measured against its predecessor in the same run.

`--dtype both` adds one bfloat16 row (`model.compute_dtype`; parameters
stay float32) at the headline fraction.

Per row: compile time, steady-state G steps/s and real images/s
(n_dis * B per G step), peak memory, XLA's FLOP count for the step and the
fraction of this machine's float32 matmul rate (a large `jnp.dot` timed in
the same run) that the step achieves; with `--breakdown` also the D update,
the G update and a bare G forward pass, each jitted and timed on its own.
"""

import argparse
import contextlib
import dataclasses
import functools
import gc
import json
import os
import pathlib
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh

from ssgan_jax import sharding
from ssgan_jax import state as state_lib
from ssgan_jax import train_step
from ssgan_jax.models import conv as conv_lib
from ssgan_jax.models import layers
from ssgan_jax.ssl import layout

# The reference env's python: --torch_python, else this variable, else none.
TORCH_PYTHON_ENV = "SSGAN_TORCH_PYTHON"
# Model widths (G, D) of each scale the benchmark knows.
SCALES = {
  "paper": (256, 128),  # configs/cifar10_ssgan.py, the paper's CIFAR-10 nets
  "width32": (32, 32),  # the CPU default job's widths (fashion_mnist_ssgan)
}
REFERENCE_SCRIPT = pathlib.Path(__file__).with_name("torch_reference.py")
INSTALL_HINT = (
  "python3 -m venv TORCHENV && TORCHENV/bin/pip install"
  " torch==2.13.0 numpy && TORCHENV/bin/pip install --no-deps"
  " torch-mimicry, then --torch_python TORCHENV/bin/python"
)
# torch-mimicry's names for our losses.
_TORCH_LOSS = {"hinge": "hinge", "non_saturating": "ns"}


def cifar10_bench_config(
  fraction: float = 0.25,
  dtype: str = "float32",
  base: ml_collections.ConfigDict | None = None,
  widths: tuple[int, int] | None = None,
  conv: str | None = None,
) -> ml_collections.ConfigDict:
  """The paper's CIFAR10 config with hinge loss, a rotation fraction, a dtype.

  Args:
    fraction: `ssl.rotation.fraction` (0.25 = torch-mimicry's rotation work).
    dtype: `model.compute_dtype`, "float32" or "bfloat16".
    base: config to start from instead of `configs/cifar10_ssgan.py` (tests
      pass a tiny one); it is copied, never changed.
    widths: (G width, D width) instead of the base config's (SCALES).
    conv: `model.conv` instead of the base config's (A/B of the algorithms).

  Returns:
    An unlocked config.
  """
  if base is None:
    from configs import cifar10_ssgan  # pylint: disable=g-import-not-at-top

    base = cifar10_ssgan.get_config()
  c = ml_collections.ConfigDict(base.to_dict())
  c.loss.name = "hinge"  # torch-mimicry's default loss
  c.ssl.rotation.fraction = fraction
  c.model.compute_dtype = dtype
  if widths is not None:
    c.model.generator.width, c.model.discriminator.width = widths
  if conv is not None:
    c.model.conv = conv
  return c


# --- Machine -----------------------------------------------------------------


def num_cores() -> int:
  """Cores this process may run on: the size of XLA:CPU's thread pool."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # not Linux
    return os.cpu_count() or 1


def cpu_model() -> str:
  try:
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def device_info() -> dict:
  dev = jax.devices()[0]
  return {
    "platform": dev.platform,
    "device_kind": dev.device_kind,
    "num_devices_visible": jax.device_count(),
    "devices_used": 1,
    "cpu_model": cpu_model(),
    "cores": num_cores(),
    "host_memory_gib": round(
      os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
    ),
  }


def versions() -> dict:
  out = {"python": platform.python_version()}
  for name in ("jax", "jaxlib", "flax", "optax", "numpy"):
    try:
      out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      out[name] = None
  return out


def matmul_flops_per_s(n: int = 2048, dtype=jnp.float32, reps: int = 5):
  """Best-of-`reps` FLOP/s of an [n, n] x [n, n] jitted `jnp.dot`."""
  k1, k2 = jax.random.split(jax.random.key(0))
  a = jax.random.normal(k1, (n, n), jnp.float32).astype(dtype)
  b = jax.random.normal(k2, (n, n), jnp.float32).astype(dtype)
  dot = jax.jit(jnp.dot)
  dot(a, b).block_until_ready()
  best = float("inf")
  for _ in range(reps):
    t0 = time.perf_counter()
    dot(a, b).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return 2.0 * n**3 / best


# --- Memory ------------------------------------------------------------------


def _reset_peak_rss() -> bool:
  """Resets the kernel's peak-RSS mark (VmHWM) of this process, if allowed."""
  try:
    pathlib.Path("/proc/self/clear_refs").write_text("5")
    return True
  except OSError:
    return False


def _vm_hwm_mib() -> float | None:
  try:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
      if line.startswith("VmHWM:"):
        return int(line.split()[1]) / 1024
  except OSError:
    pass
  return None


def memory_report(peak_was_reset: bool) -> dict:
  """Peak host RSS (since the last reset, and for the whole process) and,
  on accelerators, the device allocator's peak."""
  out = {
    # ru_maxrss is in KiB on Linux; it never resets, so it covers every
    # row measured so far in this process.
    "process_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    / 1024,
    "peak_rss_mib": _vm_hwm_mib() if peak_was_reset else None,
  }
  dev = jax.devices()[0]
  if dev.platform != "cpu":
    with contextlib.suppress(Exception):
      stats = dev.memory_stats() or {}
      out["device_peak_bytes_in_use"] = stats.get("peak_bytes_in_use")
      out["device_bytes_limit"] = stats.get("bytes_limit")
  return out


# --- Timing ------------------------------------------------------------------


def summarize(times: list[float]) -> dict:
  return {
    "mean_s": statistics.fmean(times),
    "median_s": statistics.median(times),
    "min_s": min(times),
    "all_s": list(times),
  }


def cost_of(compiled) -> dict:
  """FLOPs and bytes from XLA's cost analysis of a compiled executable."""
  try:
    ca = compiled.cost_analysis()
  except Exception:  # pylint: disable=broad-except
    return {"flops": None, "bytes_accessed": None}
  if isinstance(ca, (list, tuple)):  # older JAX: one dict per computation
    ca = ca[0] if ca else {}
  ca = ca or {}
  get = lambda k: float(ca[k]) if k in ca else None
  return {
    "flops": get("flops"),
    "bytes_accessed": get("bytes accessed"),
    "transcendentals": get("transcendentals"),
  }


def compile_timed(jitted, *args) -> tuple[Any, dict]:
  """AOT-compiles `jitted` for `args`; returns (executable, timings)."""
  t0 = time.perf_counter()
  lowered = jitted.lower(*args)
  t1 = time.perf_counter()
  compiled = lowered.compile()
  t2 = time.perf_counter()
  return compiled, {"trace_lower_s": t1 - t0, "xla_compile_s": t2 - t1}


def _usage() -> tuple[float, float, int]:
  """(user + system CPU s, system CPU s, minor page faults) of this process."""
  r = resource.getrusage(resource.RUSAGE_SELF)
  return r.ru_utime + r.ru_stime, r.ru_stime, r.ru_minflt


def per_step_usage(before, after, steps: int) -> dict:
  """Per-step CPU seconds and page faults between two `_usage()` readings.

  User + system CPU seconds of all threads per step are less sensitive to
  other processes than wall time (on CPU; on GPU they are host overhead).
  System CPU and minor page faults show what the allocator costs: glibc
  hands each step fresh pages (benchmarks/RESULTS.md, 2026-12-06).
  """
  cpu, sys_cpu, faults = (b - a for a, b in zip(before, after))
  return {
    "cpu_s_per_step": cpu / steps,
    "system_cpu_s_per_step": sys_cpu / steps,
    "minor_faults_per_step": faults / steps,
  }


def time_calls(fn, n: int) -> list[float]:
  times = []
  for _ in range(n):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
  return times


def _count(tree) -> int:
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


# --- Ours --------------------------------------------------------------------


@dataclasses.dataclass
class Setup:
  """One row's components, mesh, initial state and inputs."""

  config: ml_collections.ConfigDict
  comps: state_lib.Components
  mesh: Mesh
  state: state_lib.GANState
  images: jax.Array  # [n_dis, B, H, W, C]
  rng: jax.Array


def make_setup(config: ml_collections.ConfigDict) -> Setup:
  """Builds what train.py builds, on a one-device mesh, with random reals."""
  comps = state_lib.build_components(config)
  mesh = Mesh(np.asarray(jax.devices()[:1]), ("data",))
  sharding.check_batch_size(
    config.batch_size, mesh, layout.group_size(list(comps.tasks))
  )
  repl = sharding.replicated(mesh)
  init_rng, train_rng, data_rng = jax.random.split(
    jax.random.key(config.seed), 3
  )
  init_fn = functools.partial(state_lib.init_state, comps)
  state = jax.jit(init_fn, out_shardings=repl)(init_rng)
  size, ch = config.dataset.image_size, config.dataset.channels
  shape = (config.disc_iters, config.batch_size, size, size, ch)
  images = jax.jit(
    lambda k: jax.random.uniform(k, shape, jnp.float32, -1.0, 1.0),
    out_shardings=sharding.batch_sharding(mesh, 5, batch_axis=1),
  )(data_rng)
  train_rng = jax.device_put(train_rng, repl)
  return Setup(config, comps, mesh, state, images, train_rng)


def compile_step(s: Setup) -> tuple[Any, dict]:
  """AOT-compiles the train step for `s` as train.py jits it; (exe, times)."""
  repl = sharding.replicated(s.mesh)
  batch_sh = sharding.batch_sharding(s.mesh, 5, batch_axis=1)
  # As train.py: explicit shardings, the state donated.
  step_fn = jax.jit(
    train_step.make_train_step(s.comps, s.mesh),
    in_shardings=(repl, batch_sh, repl),
    out_shardings=(repl, repl),
    donate_argnums=0,
    compiler_options=conv_lib.jit_options(s.mesh),
  )
  return compile_timed(step_fn, s.state, s.images, s.rng)


def d_views_per_update(config, comps) -> tuple[int, int]:
  """Images D sees in one D update and in one G update."""
  b = config.batch_size
  rotated = 0
  for task in comps.tasks:
    views = task.num_classes - (1 if task.first_view_is_identity else 0)
    rotated += (b // task.stride) * views
  return 2 * b + rotated, b + rotated


def measure_ours(
  config: ml_collections.ConfigDict,
  *,
  steps: int,
  warmup: int,
  breakdown: bool,
  matmul_peak: float | None,
) -> dict:
  """Compiles and times the full train step for `config` (one table row)."""
  reset = _reset_peak_rss()
  load_before = os.getloadavg()[0]
  s = make_setup(config)
  compiled, compile_times = compile_step(s)
  cost = cost_of(compiled)
  g_params, d_params = _count(s.state.g.params), _count(s.state.d.params)

  state = s.state
  metrics = None
  for _ in range(warmup):
    state, metrics = compiled(state, s.images, s.rng)
  jax.block_until_ready(state)
  times = []
  usage0 = _usage()
  for _ in range(steps):
    t0 = time.perf_counter()
    state, metrics = compiled(state, s.images, s.rng)
    jax.block_until_ready((state, metrics))
    times.append(time.perf_counter() - t0)
  usage = per_step_usage(usage0, _usage(), steps)
  host_metrics = jax.device_get(metrics)
  if not all(np.all(np.isfinite(v)) for v in host_metrics.values()):
    raise RuntimeError(f"non-finite metrics in the benchmark: {host_metrics}")

  n_dis, b = config.disc_iters, config.batch_size
  mean = statistics.fmean(times)
  d_imgs, g_imgs = d_views_per_update(config, s.comps)
  row = {
    "name": f"ours f={config.ssl.rotation.fraction:g}"
    f" {config.model.compute_dtype}"
    + ("" if config.model.conv == "auto" else f" conv={config.model.conv}"),
    "conv": config.model.conv,
    "fraction": float(config.ssl.rotation.fraction),
    "dtype": config.model.compute_dtype,
    "g_params": g_params,
    "d_params": d_params,
    "d_images_per_d_update": d_imgs,
    "d_images_per_g_update": g_imgs,
    "compile_s": sum(compile_times.values()),
    **compile_times,
    "warmup_steps": warmup,
    "timed_steps": steps,
    "step": summarize(times),
    "g_steps_per_s": 1.0 / mean,
    "images_per_s": n_dis * b / mean,
    **usage,
    "flops_per_step": cost["flops"],
    "bytes_accessed_per_step": cost["bytes_accessed"],
    "achieved_flops_per_s": cost["flops"] / mean if cost["flops"] else None,
    # Other processes on the machine skew every number: keep the 1-min load.
    "loadavg_1min_before_after": [load_before, os.getloadavg()[0]],
  }
  row["fraction_of_matmul_peak"] = (
    row["achieved_flops_per_s"] / matmul_peak
    if row["achieved_flops_per_s"] and matmul_peak
    else None
  )
  s.state = state  # the initial one was donated to the first step
  del state, compiled, metrics
  if breakdown:
    row["breakdown"] = measure_parts(s, steps=max(1, steps // 2 + 1))
  row["memory"] = memory_report(reset)
  del s
  jax.clear_caches()
  gc.collect()
  return row


def measure_parts(s: Setup, *, steps: int) -> dict:
  """Times one D update, one G update and a bare G forward on their own.

  Each is jitted separately (state not donated), so their sum is an upper
  bound on the fused step; the point is their relative size.
  """
  d_update, g_update = train_step.make_updates(s.comps, s.mesh)
  config, b = s.config, s.config.batch_size
  g_mod = s.comps.generator

  def g_forward(st, rng):
    # As in a D update: G in train mode (batch statistics).
    z = state_lib.sample_z(rng, b, config)
    return state_lib.apply_net(
      g_mod,
      st.g.params,
      st.g.variables,
      z,
      train=True,
      mutable=[layers.BATCH_STATS],
    )[0]

  jit = functools.partial(
    jax.jit, compiler_options=conv_lib.jit_options(s.mesh)
  )
  parts = {
    "d_update": (jit(d_update), (s.state, s.images[0], s.rng)),
    "g_update": (
      jit(lambda st, rng: g_update(st, b, rng)),
      (s.state, s.rng),
    ),
    "g_forward": (jit(g_forward), (s.state, s.rng)),
  }
  out = {}
  for name, (fn, args) in parts.items():
    compiled, compile_times = compile_timed(fn, *args)
    jax.block_until_ready(compiled(*args))  # warm
    times = time_calls(lambda c=compiled, a=args: c(*a), steps)
    out[name] = {
      "compile_s": sum(compile_times.values()),
      "flops": cost_of(compiled)["flops"],
      "time": summarize(times),
    }
    del compiled
  n_dis = config.disc_iters
  d_s = out["d_update"]["time"]["mean_s"]
  g_s = out["g_update"]["time"]["mean_s"]
  gf_s = out["g_forward"]["time"]["mean_s"]
  total = n_dis * d_s + g_s
  out["per_step_s"] = {
    "d_updates": n_dis * d_s,
    "g_update": g_s,
    "sum": total,
    # G runs forward once in every D update (to make the fakes).
    "g_forward_inside_d_updates": n_dis * gf_s,
  }
  out["share_of_sum"] = {
    "d_updates": n_dis * d_s / total,
    "g_update": g_s / total,
    "g_forward_inside_d_updates": n_dis * gf_s / total,
  }
  return out


# --- Reference ---------------------------------------------------------------


def measure_reference(
  torch_python: str | None,
  config: ml_collections.ConfigDict,
  *,
  steps: int,
  warmup: int,
  threads: int,
  timeout_s: float = 3600.0,
  device: str = "cpu",
) -> dict:
  """Runs `torch_reference.py` under `torch_python`; never raises."""
  not_measured = lambda why: {
    "measured": False,
    "reason": why,
    "install": INSTALL_HINT,
  }
  if not torch_python:
    return not_measured("no --torch_python given")
  if not pathlib.Path(torch_python).exists():
    return not_measured(f"{torch_python} does not exist")
  loss = _TORCH_LOSS.get(config.loss.name)
  if loss is None:
    return not_measured(f"torch-mimicry has no {config.loss.name!r} loss")
  load_before = os.getloadavg()[0]
  with tempfile.TemporaryDirectory() as tmp:
    out = pathlib.Path(tmp) / "reference.json"
    cmd = [
      torch_python,
      str(REFERENCE_SCRIPT),
      f"--out={out}",
      f"--threads={threads}",
      f"--steps={steps}",
      f"--warmup={warmup}",
      f"--batch_size={config.batch_size}",
      f"--n_dis={config.disc_iters}",
      f"--g_width={config.model.generator.width}",
      f"--d_width={config.model.discriminator.width}",
      f"--z_dim={config.model.z_dim}",
      f"--image_size={config.dataset.image_size}",
      f"--channels={config.dataset.channels}",
      f"--loss={loss}",
      f"--device={device}",
    ]
    try:
      proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout_s, check=False
      )
    except subprocess.TimeoutExpired:
      return not_measured(f"timed out after {timeout_s:.0f} s")
    if proc.returncode != 0 or not out.exists():
      tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
      return not_measured(
        f"reference exited with {proc.returncode}: " + " | ".join(tail)
      )
    result = json.loads(out.read_text())
  result["command"] = shlex.join(cmd[:2] + ["--out=<tmp>"] + cmd[3:])
  result["loadavg_1min_before_after"] = [load_before, os.getloadavg()[0]]
  return result


# --- Report ------------------------------------------------------------------


def _fmt(x, spec: str) -> str:
  return "-" if x is None else format(x, spec)


def format_table(result: dict) -> str:
  """The results as one Markdown table (ratios are in G steps/s)."""
  ref = result["reference"]
  ref_rate = ref.get("g_steps_per_s") if ref.get("measured") else None
  head = (
    "| run | D imgs per D/G update | compile s | step s (mean) |"
    " G steps/s | images/s | CPU s/step | sys CPU s/step | page faults/step |"
    " GFLOP/step | GFLOP/s |"
    " % f32 matmul peak | peak RSS MiB | speed ours/torch (G steps/s) |"
    " speed ours/torch (CPU s per step) |"
  )
  lines = [head, "|" + "---|" * (head.count("|") - 1)]
  ref_cpu = ref.get("cpu_s_per_step") if ref.get("measured") else None
  for r in result["ours"]:
    ratio = r["g_steps_per_s"] / ref_rate if ref_rate else None
    cpu_ratio = ref_cpu / r["cpu_s_per_step"] if ref_cpu else None
    flops = r["flops_per_step"]
    lines.append(
      f"| {r['name']} | {r['d_images_per_d_update']}/"
      f"{r['d_images_per_g_update']} | {r['compile_s']:.1f} |"
      f" {r['step']['mean_s']:.2f} | {r['g_steps_per_s']:.4f} |"
      f" {r['images_per_s']:.2f} | {r['cpu_s_per_step']:.1f} |"
      f" {r['system_cpu_s_per_step']:.3f} | {r['minor_faults_per_step']:.0f} |"
      f" {_fmt(flops and flops / 1e9, '.0f')} |"
      f" {_fmt(r['achieved_flops_per_s'] and r['achieved_flops_per_s'] / 1e9, '.1f')} |"
      f" {_fmt(r['fraction_of_matmul_peak'] and 100 * r['fraction_of_matmul_peak'], '.0f')} |"
      f" {_fmt(r['memory']['peak_rss_mib'], '.0f')} |"
      f" {_fmt(ratio, '.2f')} | {_fmt(cpu_ratio, '.2f')} |"
    )
  if ref.get("measured"):
    lines.append(
      f"| torch-mimicry (torch {ref['torch_version']},"
      f" {ref['threads']} threads) |"
      f" {ref['d_images_per_d_update']}/{ref['d_images_per_g_update']} | - |"
      f" {ref['step']['mean_s']:.2f} | {ref['g_steps_per_s']:.4f} |"
      f" {ref['images_per_s']:.2f} | {ref['cpu_s_per_step']:.1f} |"
      f" {ref['system_cpu_s_per_step']:.3f} |"
      f" {ref['minor_faults_per_step']:.0f} |"
      f" - | - | - | {ref['peak_rss_mib']:.0f} | 1 | 1 |"
    )
  else:
    lines.append(
      f"| torch-mimicry: NOT MEASURED ({ref['reason']}); install:"
      f" `{ref['install']}` |" + " - |" * (head.count("|") - 2)
    )
  peak = result["matmul_peak"]["float32_flops_per_s"]
  loads = [r["loadavg_1min_before_after"] for r in result["ours"]]
  if ref.get("measured"):
    loads.append(ref["loadavg_1min_before_after"])
  lines.append("")
  lines.append(
    f"Device: {result['device']['cpu_model']} ({result['device']['platform']},"
    f" {result['device']['cores']} cores); threads: {result['threads']};"
    f" float32 matmul peak measured: {peak / 1e9:.1f} GFLOP/s;"
    f" 1-min load average during the runs: {min(map(min, loads)):.2f} to"
    f" {max(map(max, loads)):.2f}; memory allocator (both sides):"
    f" {allocator(result.get('ld_preload', ''))}."
  )
  return "\n".join(lines)


def allocator(ld_preload: str) -> str:
  """The malloc both sides ran with: glibc's, or what LD_PRELOAD named."""
  libs = [pathlib.Path(p).name for p in ld_preload.replace(":", " ").split()]
  return ", ".join(libs) if libs else "glibc (no LD_PRELOAD)"


def run(
  *,
  steps: int = 5,
  warmup: int = 3,
  dtypes: tuple[str, ...] = ("float32",),
  fractions: tuple[float, ...] = (0.25, 1.0),
  torch_python: str | None = None,
  breakdown: bool | str = "first",
  base_config: ml_collections.ConfigDict | None = None,
  matmul_n: int = 2048,
  command: str | None = None,
  widths: tuple[int, int] | None = None,
  baseline_convs: tuple[str, ...] = (),
) -> dict:
  """Measures every (dtype, fraction) row of ours and the reference once.

  Args:
    steps: timed steps per row (after `warmup` untimed ones).
    warmup: untimed steps after compiling.
    dtypes: compute dtypes: every fraction runs in the first; each further
      dtype adds one row at the first fraction.
    fractions: rotation fractions of our rows (0.25 = torch-mimicry's work).
    torch_python: python of the reference env; None skips the reference.
    breakdown: also time D update, G update and G forward on their own;
      True for every row, "first" for the first (headline) row only.
    base_config: config to start from (default: configs/cifar10_ssgan.py).
    matmul_n: size of the square matmul that measures the machine's peak.
    command: the command line to record (default: sys.argv).
    widths: (G, D) widths instead of the base config's (SCALES).
    baseline_convs: further `model.conv` choices timed at the headline
      (first dtype and fraction) for an A/B against the default "auto",
      e.g. "taps" (the algorithm every layer used before cpu_plan).

  Returns:
    The JSON-ready results.
  """
  jax.config.update("jax_threefry_partitionable", True)  # as main.py
  threads = num_cores()
  ref_config = cifar10_bench_config(
    fractions[0], "float32", base_config, widths
  )
  result: dict[str, Any] = {
    "command": command
    or shlex.join(["python", "benchmarks/step_speed.py"] + sys.argv[1:]),
    "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "device": device_info(),
    "threads": threads,
    "versions": versions(),
    "xla_flags": os.environ.get("XLA_FLAGS", ""),
    # Both sides inherit it: a preloaded allocator changes both steps
    # (benchmarks/RESULTS.md, 2026-12-06).
    "ld_preload": os.environ.get("LD_PRELOAD", ""),
    "setting": {
      "config": "configs/cifar10_ssgan.py" if base_config is None else "custom",
      "loss": ref_config.loss.name,
      "batch_size": ref_config.batch_size,
      "n_dis": ref_config.disc_iters,
      "g_width": ref_config.model.generator.width,
      "d_width": ref_config.model.discriminator.width,
      "z_dim": ref_config.model.z_dim,
      "image_size": ref_config.dataset.image_size,
      "channels": ref_config.dataset.channels,
      "images_per_g_step": ref_config.disc_iters * ref_config.batch_size,
      "data": "random reals already on device (no input pipeline)",
    },
    "matmul_peak": {
      "n": matmul_n,
      "float32_flops_per_s": matmul_flops_per_s(matmul_n, jnp.float32),
    },
  }
  if "bfloat16" in dtypes:
    result["matmul_peak"]["bfloat16_flops_per_s"] = matmul_flops_per_s(
      matmul_n, jnp.bfloat16
    )
  # The reference first: a broken torch env shows up before the long part.
  result["reference"] = measure_reference(
    torch_python, ref_config, steps=steps, warmup=warmup, threads=threads
  )
  peak = result["matmul_peak"]["float32_flops_per_s"]
  result["ours"] = []
  rows = [(dtypes[0], f, None) for f in fractions]
  # A second dtype is one more row, at the headline fraction only: on CPU
  # every row costs minutes.
  rows += [(d, fractions[0], None) for d in dtypes[1:]]
  rows += [(dtypes[0], fractions[0], c) for c in baseline_convs]
  for dtype, f, conv in rows:
    config = cifar10_bench_config(f, dtype, base_config, widths, conv)
    row = measure_ours(
      config,
      steps=steps,
      warmup=warmup,
      breakdown=breakdown is True
      or (breakdown == "first" and not result["ours"]),
      matmul_peak=peak,
    )
    result["ours"].append(row)
    print(
      f"measured {row['name']}: {row['step']['mean_s']:.2f} s/step",
      flush=True,
    )
  ref = result["reference"]
  result["ratios_g_steps_per_s"] = {
    f"{r['name']} / torch-mimicry": (
      r["g_steps_per_s"] / ref["g_steps_per_s"] if ref.get("measured") else None
    )
    for r in result["ours"]
  }
  result["ratios_cpu_s_per_step"] = {
    f"torch-mimicry / {r['name']}": (
      ref["cpu_s_per_step"] / r["cpu_s_per_step"]
      if ref.get("measured")
      else None
    )
    for r in result["ours"]
  }
  result["table"] = format_table(result)
  return result


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(
    description=__doc__.splitlines()[0],
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  parser.add_argument("--out", default="benchmarks/results_cpu.json")
  parser.add_argument("--steps", type=int, default=5, help="timed steps")
  parser.add_argument("--warmup", type=int, default=3, help="untimed steps")
  parser.add_argument(
    "--dtype",
    default="float32",
    choices=["float32", "bfloat16", "both"],
    help="compute dtype of our rows; both: float32 rows plus one bfloat16"
    " row at the first fraction",
  )
  parser.add_argument(
    "--fractions",
    default="0.25,1.0",
    help="rotation fractions, comma-separated (0.25 = torch-mimicry's work)",
  )
  parser.add_argument(
    "--torch_python",
    default=os.environ.get(TORCH_PYTHON_ENV, ""),
    help="python of the env with torch and torch-mimicry (default: $"
    + TORCH_PYTHON_ENV
    + "); '' skips it",
  )
  parser.add_argument(
    "--scales",
    default="paper,width32",
    help="comma-separated model scales: "
    + ", ".join(f"{k} (G {g} / D {d})" for k, (g, d) in SCALES.items()),
  )
  parser.add_argument(
    "--baseline_convs",
    default="taps",
    help="model.conv choices also timed at the headline row of each scale"
    " (comma-separated; '' for none)",
  )
  parser.add_argument(
    "--breakdown",
    default="first",
    choices=["none", "first", "all"],
    help="rows for which the D update, G update and G forward are also"
    " compiled and timed on their own (first: the headline row only)",
  )
  args = parser.parse_args(argv)
  scales = [x for x in args.scales.split(",") if x]
  unknown = [x for x in scales if x not in SCALES]
  if unknown or not scales:
    parser.error(f"--scales={args.scales!r}: choose from {', '.join(SCALES)}")
  convs = tuple(x for x in args.baseline_convs.split(",") if x)
  bad = [x for x in convs if x not in conv_lib.IMPLS]
  if bad:
    parser.error(f"--baseline_convs: {bad} not in {', '.join(conv_lib.IMPLS)}")
  dtypes = ("float32", "bfloat16") if args.dtype == "both" else (args.dtype,)
  results = {}
  for name in scales:
    g, d = SCALES[name]
    print(f"scale {name}: G {g} / D {d}", flush=True)
    results[name] = run(
      steps=args.steps,
      warmup=args.warmup,
      dtypes=dtypes,
      fractions=tuple(float(f) for f in args.fractions.split(",")),
      torch_python=args.torch_python or None,
      breakdown={"none": False, "first": "first", "all": True}[args.breakdown],
      widths=(g, d),
      baseline_convs=convs,
    )
  table = "\n\n".join(
    f"### {name}: G {SCALES[name][0]} / D {SCALES[name][1]}\n\n" + r["table"]
    for name, r in results.items()
  )
  print(table)
  if args.out:
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    blob = {"scales": results, "table": table}
    out.write_text(json.dumps(blob, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
  main()
