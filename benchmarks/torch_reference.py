"""Times torch-mimicry's SSGAN32 training step; run by `step_speed.py`.

  TORCHENV/bin/python benchmarks/torch_reference.py \
      --out /tmp/ref.json --threads 2 --steps 5 --warmup 3

Runs in a separate virtual env that has `torch` and `torch-mimicry`
(installed with `--no-deps`), never in ssgan_jax's own env, so this module
imports torch only inside `main`. One step is what torch-mimicry's `Trainer`
does per global step: `n_dis` calls of `SSGANDiscriminator32.train_step`, each
with a fresh real batch, then one `SSGANGenerator32.train_step`. Data loading
is left out (reals are pre-made random tensors), as on the JAX side.

torch-mimicry's package `__init__` imports its metrics and datasets, which need
TensorFlow, torchvision, scipy and more. The networks themselves need only
torch, so the package object is registered without running its `__init__` and
only `nets`, `modules` and `training.metric_log` are imported.

Writes one JSON object to `--out`: step times (total, D part, G part), the
parameter counts, peak RSS, torch's float32 matmul FLOP/s and versions.
"""

import argparse
import importlib
import importlib.util
import json
import platform
import resource
import statistics
import sys
import time


def _register_package_only(name: str) -> None:
  """Puts package `name` in sys.modules without executing its __init__."""
  if name in sys.modules:
    return
  spec = importlib.util.find_spec(name)
  if spec is None:
    raise ImportError(
      f"{name} is not installed; run `pip install --no-deps torch-mimicry`"
      " in the reference env."
    )
  sys.modules[name] = importlib.util.module_from_spec(spec)


def import_mimicry():
  """Returns (ssgan_32 module, MetricLog class) from torch-mimicry."""
  _register_package_only("torch_mimicry")
  _register_package_only("torch_mimicry.training")
  ssgan_32 = importlib.import_module("torch_mimicry.nets.ssgan.ssgan_32")
  metric_log = importlib.import_module("torch_mimicry.training.metric_log")
  return ssgan_32, metric_log.MetricLog


def _matmul_flops_per_s(torch, device, n: int = 2048, reps: int = 3) -> float:
  a = torch.randn(n, n, device=device)
  b = torch.randn(n, n, device=device)
  sync = _synchronizer(torch, device)
  torch.mm(a, b)  # warm up
  sync()
  best = float("inf")
  for _ in range(reps):
    t0 = time.perf_counter()
    torch.mm(a, b)
    sync()
    best = min(best, time.perf_counter() - t0)
  return 2.0 * n**3 / best


def _synchronizer(torch, device):
  """() -> waits for the device's queued work (a no-op on CPU)."""
  if device.type == "cuda":
    return torch.cuda.synchronize
  return lambda: None


def _summary(times):
  return {
    "mean_s": statistics.fmean(times),
    "median_s": statistics.median(times),
    "min_s": min(times),
    "all_s": list(times),
  }


def _peak_rss_mib() -> float:
  """This process's peak RSS: VmHWM, which exec resets.

  ru_maxrss is not enough: Linux carries it across exec, so a reference
  started by a benchmark that already held 5 GiB would report 5 GiB.
  """
  try:
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith("VmHWM:"):
          return int(line.split()[1]) / 1024
  except OSError:
    pass
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", required=True)
  parser.add_argument("--threads", type=int, required=True)
  parser.add_argument("--steps", type=int, default=5)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--n_dis", type=int, default=2)
  parser.add_argument("--g_width", type=int, default=256)
  parser.add_argument("--d_width", type=int, default=128)
  parser.add_argument("--z_dim", type=int, default=128)
  parser.add_argument("--image_size", type=int, default=32)
  parser.add_argument("--channels", type=int, default=3)
  parser.add_argument("--loss", default="hinge", choices=["hinge", "ns"])
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda")
  args = parser.parse_args(argv)

  import torch  # pylint: disable=g-import-not-at-top

  torch.set_num_threads(args.threads)
  torch.manual_seed(args.seed)
  ssgan_32, metric_log_cls = import_mimicry()

  if args.channels != 3 or args.image_size != 32:
    raise SystemExit("SSGAN32 is fixed to 32x32 RGB images.")
  device = torch.device(args.device)
  sync = _synchronizer(torch, device)
  net_g = ssgan_32.SSGANGenerator32(
    nz=args.z_dim, ngf=args.g_width, loss_type=args.loss
  ).to(device)
  net_d = ssgan_32.SSGANDiscriminator32(
    ndf=args.d_width, loss_type=args.loss
  ).to(device)
  # The paper's optimiser (PAPER.md section 4), as in torch-mimicry's example.
  opt_g = torch.optim.Adam(net_g.parameters(), 2e-4, betas=(0.0, 0.9))
  opt_d = torch.optim.Adam(net_d.parameters(), 2e-4, betas=(0.0, 0.9))
  net_g.train()
  net_d.train()

  b = args.batch_size
  shape = (b, args.channels, args.image_size, args.image_size)
  reals = [
    torch.rand(shape, device=device) * 2.0 - 1.0 for _ in range(args.n_dis)
  ]
  labels = torch.zeros(b, dtype=torch.long, device=device)  # unused by SSGAN

  def one_step():
    """n_dis D steps then one G step; returns (d seconds, g seconds)."""
    log = metric_log_cls()
    t0 = time.perf_counter()
    for i in range(args.n_dis):
      net_d.train_step(
        real_batch=(reals[i], labels),
        netG=net_g,
        optD=opt_d,
        log_data=log,
        device=device,
      )
    sync()
    t1 = time.perf_counter()
    net_g.train_step(
      real_batch=(reals[-1], labels),
      netD=net_d,
      optG=opt_g,
      log_data=log,
      device=device,
    )
    sync()
    t2 = time.perf_counter()
    for name in ("errD", "errG"):
      if not torch.isfinite(torch.tensor(log[name])):
        raise SystemExit(f"non-finite {name} in the reference step")
    return t1 - t0, t2 - t1

  first = time.perf_counter()
  for _ in range(args.warmup):
    one_step()
  warm_s = time.perf_counter() - first
  d_times, g_times = [], []
  usage0 = _usage()
  for _ in range(args.steps):
    d_s, g_s = one_step()
    d_times.append(d_s)
    g_times.append(g_s)
  cpu_s, sys_s, faults = (b - a for a, b in zip(usage0, _usage()))
  steps = [d + g for d, g in zip(d_times, g_times)]
  mean = statistics.fmean(steps)

  n_params = lambda m: sum(p.numel() for p in m.parameters())
  result = {
    "measured": True,
    "implementation": "torch-mimicry SSGANGenerator32/SSGANDiscriminator32"
    " train_step",
    "torch_version": torch.__version__,
    "torch_mimicry_version": _dist_version("torch-mimicry"),
    "python": platform.python_version(),
    "threads": torch.get_num_threads(),
    "interop_threads": torch.get_num_interop_threads(),
    "mkldnn_enabled": bool(torch.backends.mkldnn.is_available()),
    "batch_size": b,
    "n_dis": args.n_dis,
    "g_width": args.g_width,
    "d_width": args.d_width,
    "loss": args.loss,
    "g_params": n_params(net_g),
    "d_params": n_params(net_d),
    "warmup_steps": args.warmup,
    "warmup_s": warm_s,
    "timed_steps": args.steps,
    "step": _summary(steps),
    "d_updates_per_step": _summary(d_times),
    "g_update": _summary(g_times),
    "g_steps_per_s": 1.0 / mean,
    # User + system CPU seconds of all threads per step: less sensitive to
    # other processes than wall time.
    "cpu_s_per_step": cpu_s / args.steps,
    # What the allocator costs: glibc hands each step fresh pages.
    "system_cpu_s_per_step": sys_s / args.steps,
    "minor_faults_per_step": faults / args.steps,
    "images_per_s": args.n_dis * b / mean,
    # D images per step: per D update B real + B fake upright + B rotated
    # (a quarter batch per angle); per G update B upright + B rotated fakes.
    "d_images_per_d_update": 3 * b,
    "d_images_per_g_update": 2 * b,
    "peak_rss_mib": _peak_rss_mib(),
    "device": str(device),
    "device_name": (
      torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    ),
    "matmul_f32_flops_per_s": _matmul_flops_per_s(torch, device),
  }
  with open(args.out, "w") as f:
    json.dump(result, f, indent=2)


def _usage() -> tuple[float, float, int]:
  """(user + system CPU s, system CPU s, minor page faults) of this process.

  As step_speed.py's, which this env (torch, no jax) cannot import.
  """
  r = resource.getrusage(resource.RUSAGE_SELF)
  return r.ru_utime + r.ru_stime, r.ru_stime, r.ru_minflt


def _dist_version(name: str) -> str:
  try:
    from importlib import metadata  # pylint: disable=g-import-not-at-top

    return metadata.version(name)
  except Exception:  # pylint: disable=broad-except
    return "unknown"


if __name__ == "__main__":
  main()
