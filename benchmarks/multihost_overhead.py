"""Steps/s of a 2-process localhost run against 1 process, same global batch.

  python benchmarks/multihost_overhead.py --out benchmarks/results_multihost_cpu.json \
      [--repo DIR] [--repo_before DIR] [--steps 200] [--log_every 50]

What multi-process training costs per step beyond the work itself, at a tiny
width where the step is short and per-step host overhead shows: the default
job's config (`configs/fashion_mnist_ssgan.py`) at width 8, batch 16, as
(a) one process with 4 fake CPU devices and (b) two processes on localhost
with 2 fake devices each (`jax.distributed` over 127.0.0.1), the same mesh
of 4 devices and the same global batch. The ratio (b)/(a) is the overhead.

`--repo_before DIR` also runs both from another checkout (e.g. a `git
worktree` of an older commit), alternating with this one, for a before/after
in one invocation. The rates are the `steps_per_sec` the run logs for its
windows after the first (the first one holds the compile).

On a 2-core machine the two processes share the cores with each other, as
the one process's XLA threads do; numbers are for comparing rows of one run.
"""

import argparse
import json
import os
import pathlib
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
_RATE = re.compile(r"\[(\d+)\] steps_per_sec=([0-9.eE+-]+)")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _args(steps: int, log_every: int, workdir: str) -> list[str]:
  return [
    "--config=configs/fashion_mnist_ssgan.py",
    f"--workdir={workdir}",
    f"--config.total_steps={steps}",
    f"--config.log_every_steps={log_every}",
    f"--config.checkpoint_every_steps={steps}",
    f"--config.sample_every_steps={steps}",
    "--config.eval.every_steps=0",
    "--config.batch_size=16",
    "--config.model.generator.width=8",
    "--config.model.discriminator.width=8",
    "--config.ssl.rotation.fraction=1.0",
  ]


def _env(devices: int, repo: pathlib.Path) -> dict[str, str]:
  env = dict(os.environ)
  env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  env["JAX_PLATFORMS"] = "cpu"
  env["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(repo), os.environ.get("PYTHONPATH", "")) if p
  )
  return env


def _rates(log: str, log_every: int) -> list[float]:
  """The logged steps/s of every window after the first."""
  return [float(r) for s, r in _RATE.findall(log) if int(s) > log_every]


def run_one(repo, processes: int, steps: int, log_every: int) -> dict:
  """One training run of `processes` processes; its rates and wall time."""
  devices = 4 // processes
  with tempfile.TemporaryDirectory() as tmp:
    port = _free_port()
    procs, logs = [], []
    t0 = time.time()
    for i in range(processes):
      cmd = [sys.executable, "-m", "ssgan_jax.main"]
      cmd += _args(steps, log_every, f"{tmp}/run")
      if processes > 1:
        cmd += [
          f"--coordinator_address=127.0.0.1:{port}",
          f"--num_processes={processes}",
          f"--process_id={i}",
        ]
      err = open(f"{tmp}/{i}.err", "w")  # pylint: disable=consider-using-with
      logs.append(err)
      procs.append(
        subprocess.Popen(
          cmd,
          cwd=repo,
          env=_env(devices, repo),
          stdout=subprocess.DEVNULL,
          stderr=err,
        )
      )
    for p in procs:
      p.wait(timeout=1800)
    wall = time.time() - t0
    for f in logs:
      f.close()
    log = pathlib.Path(f"{tmp}/0.err").read_text()
    if any(p.returncode for p in procs):
      raise RuntimeError(f"run failed:\n{log[-3000:]}")
  rates = _rates(log, log_every)
  if not rates:
    raise RuntimeError(f"no steps_per_sec logged:\n{log[-3000:]}")
  return {
    "processes": processes,
    "devices_per_process": devices,
    "steps_per_s_windows": rates,
    "steps_per_s": statistics.median(rates),
    "wall_s": wall,
  }


def _commit(repo) -> str:
  out = subprocess.run(
    ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
    capture_output=True,
    text=True,
    check=False,
  )
  return out.stdout.strip() or "?"


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default="")
  parser.add_argument("--repo", default=str(REPO))
  parser.add_argument("--repo_before", default="")
  parser.add_argument("--steps", type=int, default=200)
  parser.add_argument("--log_every", type=int, default=50)
  parser.add_argument("--repeats", type=int, default=1)
  args = parser.parse_args(argv)
  if args.steps < 3 * args.log_every:
    parser.error("--steps must be >= 3 * --log_every (two timed windows)")
  repos = {"after": pathlib.Path(args.repo)}
  if args.repo_before:
    repos = {"before": pathlib.Path(args.repo_before), **repos}
  rows = []
  for _ in range(args.repeats):
    for label, repo in repos.items():
      for n in (1, 2):
        row = run_one(repo, n, args.steps, args.log_every)
        row.update(label=label, commit=_commit(repo))
        rows.append(row)
        print(
          f"{label} ({row['commit']}) {n} process(es):"
          f" {row['steps_per_s']:.2f} steps/s",
          flush=True,
        )
  summary = {}
  for label in repos:
    one = statistics.median(
      r["steps_per_s"]
      for r in rows
      if r["label"] == label and r["processes"] == 1
    )
    two = statistics.median(
      r["steps_per_s"]
      for r in rows
      if r["label"] == label and r["processes"] == 2
    )
    summary[label] = {
      "one_process_steps_per_s": one,
      "two_processes_steps_per_s": two,
      "two_over_one": two / one,
    }
    print(f"{label}: 2 processes / 1 process = {two / one:.3f}")
  result = {
    "command": shlex.join(["python", *sys.argv]),
    "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "cores": os.cpu_count(),
    "setting": " ".join(_args(args.steps, args.log_every, "<tmp>")),
    "rows": rows,
    "summary": summary,
  }
  if args.out:
    pathlib.Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
