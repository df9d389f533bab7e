"""Linear probes of D's features over GAN training (the paper's Fig. 3).

  python experiments/forgetting/probe_over_training.py \\
      --runs runs/fashion_mnist_table1 --methods gan,ssgan \\
      --out_dir experiments/forgetting/results

New runs need no script for this: `--config <fashion_mnist config>.py:forgetting`
(or any config with a probe block, `config.evals.probe =
common.probe_eval(N)`) probes D during training and writes
`eval/probe/step_<N>.json` and TensorBoard `probe/block<i>/top1_test`. This
script probes the checkpoints of runs that were trained without one (the
committed results below).

The paper's second forgetting experiment refits a linear probe on the
discriminator's last-block features at regular intervals of GAN training:
Uncond-GAN's accuracy falls late in training, as its D specialises on the
moving real-vs-fake task and loses class information; SS-GAN's keeps rising,
because the rotation loss keeps the features general. This script does the
same from finished training runs rather than during training: for every
`<method>_seed<k>` run under `--runs` whose final evaluation exists
(`eval/step_<total_steps>.json`, written by
experiments/fashion_mnist_table1/run_all.sh) and every checkpoint on the
run's checkpoint grid it calls `probe_run.probe_workdir`, which fits one
logistic regression per D block on average-pooled features (see
ssgan_jax/evaluation/probe.py and docs/probe.md).

Step 0 is the D the run started from: `init_state` with the run's config and
seed, drawn exactly as train.py draws it. Its probe is the baseline of
random features that training has to beat, so the curve shows whether D
gains class information at all before asking whether it loses some.

Each probe is cached in the run's `eval/probe_step_<step>.json` (where
`probe_workdir` writes it; the step-0 one is written here the same way) and
reused when its train/test sizes and fit settings are the ones asked for. A
probe with other settings already there (e.g. a full-data probe for Table 3)
is never overwritten: this script's own then goes to
`eval/probe_step_<step>.train<N>_test<M>.json`.

Outputs in `--out_dir`: probe_over_training.csv (method, seed, step, block,
top1_test), probe_over_training.png (last-block and best-block top-1 vs step,
mean over seeds with a min-max band) and probe_over_training.json (settings,
per-method means at every step, rotation-head accuracy, wall time).

Default size (10,000 train / 5,000 test images per probe): 10-20 s per
checkpoint (an SS-GAN D also has its rotation head scored) and ~30 s for a
step-0 D at width 16 on 2 CPU cores shared with a training job; gan and
ssgan, 3 seeds each, took 6 min 30 s. See experiments/forgetting/README.md
for the measured run and its reading.
"""

import argparse
import collections
import csv
import functools
import json
import logging
import os
import pathlib
import re
import shutil
import sys
import time
from collections.abc import Sequence

_REPO = os.path.dirname(
  os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
if _REPO not in sys.path:  # run as a script from a checkout, not installed
  sys.path.insert(0, _REPO)

import jax  # noqa: E402
import numpy as np  # noqa: E402

from configs import common  # noqa: E402
from ssgan_jax import atomic  # noqa: E402
from ssgan_jax import fashion_mnist  # noqa: E402
from ssgan_jax import sampling  # noqa: E402
from ssgan_jax import sharding  # noqa: E402
from ssgan_jax import state as state_lib  # noqa: E402
from ssgan_jax import workdir as workdir_lib  # noqa: E402
from ssgan_jax.evaluation import probe  # noqa: E402
from ssgan_jax.evaluation import probe_run  # noqa: E402

CSV_COLUMNS = ("method", "seed", "step", "block", "top1_test")
# 10k of the 60k train images fit each probe and 5k of the 10k test images
# score it: <= 20 s per checkpoint on 2 shared CPU cores, so 2 methods x 3
# seeds x 5 steps take ~7 min (all 70k images: ~3x longer). The binomial std
# of a top-1 near 0.72 on 5k test images is 0.6 points.
DEFAULT_TRAIN_LIMIT = 10_000
DEFAULT_TEST_LIMIT = 5_000
METHOD_NAMES = common.METHOD_TITLES
COLORS = {
  "gan": "tab:red",
  "ssgan": "tab:blue",
  "ssgan_sbn": "tab:green",
  "ssgan_ms": "tab:purple",
  "ssgan_la": "tab:orange",
  "cgan": "tab:gray",
}
_log = logging.getLogger(__name__)
_RUN_NAME = re.compile(r"^(?P<method>[a-z0-9_]+)_seed(?P<seed>\d+)$")
_TOP1 = re.compile(r"^probe/block(\d+)/top1_test$")


# ----------------------------------------------------------------------------
# Finding runs and checkpoints.
# ----------------------------------------------------------------------------


def find_runs(
  runs_dir: pathlib.Path, methods: Sequence[str]
) -> tuple[list[tuple[str, int, pathlib.Path]], list[str]]:
  """Finished `<method>_seed<k>` runs of `methods`, and why others were left.

  A run counts as finished when its final evaluation
  `eval/step_<total_steps>.json` exists: a run that is still training has
  checkpoints too, but not all of them, and its newest D would be probed
  before its last.

  Returns:
    [(method, seed, path)] sorted by method (in `methods` order) and seed,
    and one line per skipped run directory of those methods.
  """
  found, skipped = [], []
  for path in sorted(runs_dir.iterdir()):
    m = _RUN_NAME.match(path.name)
    if not m or not path.is_dir() or m["method"] not in methods:
      continue
    try:
      total = int(workdir_lib.load_config(path).total_steps)
    except Exception as e:  # pylint: disable=broad-except
      skipped.append(f"{path.name}: no readable config.json ({e})")
      continue
    if not (path / "eval" / f"step_{total}.json").is_file():
      skipped.append(f"{path.name}: unfinished (no eval/step_{total}.json yet)")
      continue
    found.append((m["method"], int(m["seed"]), path))
  found.sort(key=lambda r: (list(methods).index(r[0]), r[1]))
  return found, skipped


def checkpoint_steps(run: pathlib.Path) -> tuple[list[int], list[int]]:
  """The run's checkpoints on its save grid, and those off it.

  train.py saves every `checkpoint_every_steps` and at the end; a run that
  was stopped and resumed also holds the save made when it stopped (e.g.
  step 701), which no other seed has. Such steps would each be a point of
  one seed, so they are left out and reported.
  """
  config = workdir_lib.load_config(run)
  every, total = config.checkpoint_every_steps, config.total_steps
  saved = sorted(
    int(p.name)
    for p in (run / "checkpoints").iterdir()
    if p.is_dir() and p.name.isdigit()
  )
  on_grid = [s for s in saved if (every and s % every == 0) or s == total]
  return on_grid, [s for s in saved if s not in on_grid]


# ----------------------------------------------------------------------------
# Probing, with a cache in the run directory.
# ----------------------------------------------------------------------------


@functools.cache
def _split_size(split: str) -> int:
  """Images in a Fashion-MNIST split, what a probe without a limit uses."""
  _, labels = fashion_mnist.load(split)
  return len(labels)


def wanted_settings(train_limit: int | None, test_limit: int | None) -> dict:
  """The fields of a probe result that must match for it to be reused."""
  n_train, n_test = _split_size("train"), _split_size("test")
  return {
    "num_train": min(train_limit or n_train, n_train),
    "num_test": min(test_limit or n_test, n_test),
    "l2": probe.DEFAULT_L2,
    "max_steps": probe.DEFAULT_MAX_STEPS,
    "tol": probe.DEFAULT_TOL,
  }


def matches(result: dict, wanted: dict) -> bool:
  return all(result.get(k) == v for k, v in wanted.items())


def _own_path(run: pathlib.Path, step: int, wanted: dict) -> pathlib.Path:
  """Where this script keeps a probe when the standard path is taken."""
  return (
    run
    / "eval"
    / (
      f"probe_step_{step}.train{wanted['num_train']}"
      f"_test{wanted['num_test']}.json"
    )
  )


def _read(path: pathlib.Path) -> dict | None:
  try:
    return json.loads(path.read_text())
  except (OSError, ValueError):
    return None


def cached_probe(run: pathlib.Path, step: int, wanted: dict) -> dict | None:
  """A probe of (run, step) made with `wanted` settings, if one is stored."""
  for path in (probe_run.result_path(run, step), _own_path(run, step, wanted)):
    result = _read(path)
    if result is not None and matches(result, wanted):
      return result
  return None


def initial_state(comps: state_lib.Components) -> state_lib.GANState:
  """The state train.py starts a run from: split(key(seed), 3)[0] inits."""
  init_rng = jax.random.split(jax.random.key(comps.config.seed), 3)[0]
  return jax.jit(functools.partial(state_lib.init_state, comps))(init_rng)


def probe_init(
  run: pathlib.Path,
  train_limit: int | None,
  test_limit: int | None,
  progress: bool,
) -> dict:
  """Probes the D that `run` started from (step 0), like `probe_workdir`.

  No checkpoint holds step 0, so the state is rebuilt by `initial_state`.
  The result has probe_workdir's keys.
  """
  config = workdir_lib.load_config(run)
  comps = state_lib.build_components(config)
  mesh = sharding.make_mesh(config.mesh)
  state = initial_state(comps)
  batch_size = sampling.default_batch_size()

  dc = config.dataset
  train_x, train_y = probe.load_labelled(dc, dc.split, train_limit)
  test_x, test_y = probe.load_labelled(dc, dc.eval_split, test_limit)
  num_classes = int(max(train_y.max(), test_y.max())) + 1
  start = time.perf_counter()
  feats = probe.extract_block_features(
    comps,
    state,
    np.concatenate([train_x, test_x]),
    batch_size,
    mesh,
    progress,
  )
  n = len(train_x)
  result = {}
  for i, f in enumerate(feats, start=1):
    fit = probe.fit_linear_probe(f[:n], train_y, f[n:], test_y, num_classes)
    result.update({f"probe/block{i}/{k}": v for k, v in fit.items()})
  names = [t.name for t in comps.tasks]
  result["probe/rotation/top1"] = (
    probe.ssl_head_accuracy(
      comps, state, test_x, batch_size, mesh, "rotation", progress
    )
    if "rotation" in names
    else None
  )
  result.update(
    {
      "workdir": str(run.absolute()),
      "step": 0,
      "checkpoint": "none: init_state from config.json's seed, as train.py"
      " draws it (split(key(seed), 3)[0])",
      "num_blocks": len(feats),
      "num_classes": num_classes,
      "num_train": n,
      "num_test": len(test_x),
      "train_split": f"{dc.name}:{dc.split}",
      "test_split": f"{dc.name}:{dc.eval_split}",
      "l2": probe.DEFAULT_L2,
      "max_steps": probe.DEFAULT_MAX_STEPS,
      "tol": probe.DEFAULT_TOL,
      "batch_size": batch_size,
      "seconds": round(time.perf_counter() - start, 2),
    }
  )
  return result


def probe_step(
  run: pathlib.Path,
  step: int,
  train_limit: int | None,
  test_limit: int | None,
  progress: bool,
) -> tuple[dict, bool]:
  """The probe of checkpoint `step` (0 = the initial D), cached.

  Returns:
    (result, True if it was computed now, False if read from the cache).
  """
  wanted = wanted_settings(train_limit, test_limit)
  result = cached_probe(run, step, wanted)
  if result is not None:
    return result, False
  standard = probe_run.result_path(run, step)
  # A probe with other settings at the standard path belongs to someone
  # else (e.g. a full-data Table 3 probe): keep it, keep ours beside it.
  other = standard.read_bytes() if standard.is_file() else None
  if step == 0:
    result = probe_init(run, train_limit, test_limit, progress)
    atomic.write_json(
      standard if other is None else _own_path(run, 0, wanted), result
    )
  else:
    result = probe_run.probe_workdir(
      run,
      step=step,
      train_limit=train_limit,
      test_limit=test_limit,
      progress=progress,
    )
    if other is not None:
      shutil.move(standard, _own_path(run, step, wanted))
      standard.write_bytes(other)
  return result, True


# ----------------------------------------------------------------------------
# Tables, summary and plot.
# ----------------------------------------------------------------------------


def rows_of(method: str, seed: int, result: dict) -> list[dict]:
  """One CSV row per D block (1 = first block, as probe.py numbers them)."""
  rows = []
  for key, value in result.items():
    m = _TOP1.match(key)
    if m:
      rows.append(
        {
          "method": method,
          "seed": seed,
          "step": int(result["step"]),
          "block": int(m[1]),
          "top1_test": float(value),
        }
      )
  return sorted(rows, key=lambda r: r["block"])


def curves(rows: list[dict], method: str) -> dict:
  """Per step of `method`: last-block and best-block top-1 of every seed.

  "Best block" is the highest top-1 over blocks for each run and step: the
  paper's Table 3 reports every block and the best one, which here moves
  between blocks over training.

  Returns:
    {step: {"last": [per seed], "best": [per seed], "best_block": [per
    seed], "blocks": {block: [per seed]}}}, steps ascending.
  """
  by_run = collections.defaultdict(dict)  # (seed, step) -> {block: top1}
  for r in rows:
    if r["method"] == method:
      by_run[(r["seed"], r["step"])][r["block"]] = r["top1_test"]
  out = {}
  for (_, step), blocks in sorted(by_run.items(), key=lambda kv: kv[0][::-1]):
    c = out.setdefault(
      step, {"last": [], "best": [], "best_block": [], "blocks": {}}
    )
    c["last"].append(blocks[max(blocks)])
    best = max(blocks, key=blocks.get)
    c["best"].append(blocks[best])
    c["best_block"].append(best)
    for b, v in blocks.items():
      c["blocks"].setdefault(b, []).append(v)
  return out


def summarize(rows: list[dict], rotation: dict, methods) -> dict:
  """Mean (and sample std, min, max over seeds) top-1 per method and step.

  `rotation` maps (method, step) to the rotation-head accuracies of the
  seeds (None for runs without a rotation head).
  """
  stats = lambda v: {
    "mean": float(np.mean(v)),
    "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
    "min": float(np.min(v)),
    "max": float(np.max(v)),
  }
  out = {}
  for method in methods:
    c = curves(rows, method)
    if not c:
      continue
    steps = sorted(c)
    rot = {
      s: [a for a in rotation.get((method, s), []) if a is not None]
      for s in steps
    }
    out[method] = {
      "name": METHOD_NAMES.get(method, method),
      "steps": steps,
      "num_seeds": [len(c[s]["last"]) for s in steps],
      "last_block": [stats(c[s]["last"]) for s in steps],
      "best_block": [stats(c[s]["best"]) for s in steps],
      "best_block_index": [c[s]["best_block"] for s in steps],
      "per_block_mean": {
        str(b): [float(np.mean(c[s]["blocks"][b])) for s in steps]
        for b in sorted(c[steps[-1]]["blocks"])
      },
      "rotation_top1_mean": [
        float(np.mean(rot[s])) if rot[s] else None for s in steps
      ],
    }
  return out


def plot(summary: dict, path: str, title: str):
  """Last-block and best-block top-1 vs step: mean, min-max over seeds."""
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=90, sharey=True)
  panels = (
    ("last_block", "last D block"),
    ("best_block", "best D block (per run and step)"),
  )
  for ax, (key, label) in zip(axes, panels):
    for method, s in summary.items():
      mean = [p["mean"] for p in s[key]]
      color = COLORS.get(method)
      ax.plot(
        s["steps"], mean, "o-", color=color, lw=1.2, ms=3, label=s["name"]
      )
      if max(s["num_seeds"]) > 1:
        ax.fill_between(
          s["steps"],
          [p["min"] for p in s[key]],
          [p["max"] for p in s[key]],
          color=color,
          alpha=0.2,
        )
    ax.set_title(f"linear probe on the {label}", fontsize=9)
    ax.set_xlabel("G step (0 = initial D)")
    ax.grid(alpha=0.3)
  axes[0].set_ylabel("top-1, Fashion-MNIST test")
  axes[0].legend(loc="lower right", fontsize=8)
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


# ----------------------------------------------------------------------------
# Entry point.
# ----------------------------------------------------------------------------


def _limit(value: str) -> int | None:
  """'0' or 'all' -> None (the whole split), else a positive int."""
  if value in ("0", "all"):
    return None
  n = int(value)
  if n < 0:
    raise argparse.ArgumentTypeError(f"{value} must be >= 0 or 'all'.")
  return n


def parse_flags(argv: Sequence[str] | None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--runs", required=True, help="dir of <method>_seed<k> runs")
  p.add_argument("--methods", default="gan,ssgan", help="comma-separated")
  p.add_argument("--out_dir", required=True)
  p.add_argument(
    "--train_limit",
    type=_limit,
    default=DEFAULT_TRAIN_LIMIT,
    help="train images that fit each probe (0 or 'all': all 60k)",
  )
  p.add_argument(
    "--test_limit",
    type=_limit,
    default=DEFAULT_TEST_LIMIT,
    help="test images that score each probe (0 or 'all': all 10k)",
  )
  p.add_argument(
    "--init",
    action=argparse.BooleanOptionalAction,
    default=True,
    help="also probe the initial D (step 0)",
  )
  p.add_argument("--progress", action="store_true", help="tqdm bars")
  a = p.parse_args(argv)
  a.methods = [m for m in a.methods.split(",") if m]
  return a


def main(argv: Sequence[str] | None = None) -> dict:
  """Probes every finished run's checkpoints; writes CSV, PNG and JSON.

  Returns:
    {"summary": probe_over_training.json's content, "rows": the CSV rows,
    "paths": {name: path}}.
  """
  a = parse_flags(argv)
  jax.config.update("jax_threefry_partitionable", True)  # as main.py
  t0 = time.time()
  os.makedirs(a.out_dir, exist_ok=True)
  runs, skipped = find_runs(pathlib.Path(a.runs), a.methods)
  for line in skipped:
    _log.warning("skipped %s", line)
  if not runs:
    raise SystemExit(
      f"no finished run of {','.join(a.methods)} under {a.runs}"
      " (<method>_seed<k>/eval/step_<total_steps>.json)."
    )

  rows, rotation, off_grid = [], collections.defaultdict(list), {}
  computed = reused = 0
  for method, seed, run in runs:
    steps, off = checkpoint_steps(run)
    if off:
      off_grid[run.name] = off
    for step in ([0] if a.init else []) + steps:
      ts = time.time()
      result, fresh = probe_step(
        run, step, a.train_limit, a.test_limit, a.progress
      )
      computed, reused = computed + fresh, reused + (not fresh)
      new = rows_of(method, seed, result)
      rows += new
      rotation[(method, step)].append(result.get("probe/rotation/top1"))
      _log.info(
        "%s step %d: last block %.4f%s (%.0f s)",
        run.name,
        step,
        new[-1]["top1_test"],
        "" if fresh else ", cached",
        time.time() - ts,
      )

  paths = {
    name: os.path.join(a.out_dir, f"probe_over_training.{name}")
    for name in ("csv", "png", "json")
  }
  with open(paths["csv"], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
    w.writeheader()
    for r in rows:
      w.writerow({**r, "top1_test": f"{r['top1_test']:.4f}"})
  wanted = wanted_settings(a.train_limit, a.test_limit)
  methods = summarize(rows, rotation, a.methods)
  summary = {
    "settings": {
      "runs": str(pathlib.Path(a.runs).absolute()),
      "methods": a.methods,
      "init": a.init,
      **wanted,
      "features": "global average pool of each D block, frozen D",
      "runs_used": [r.name for _, _, r in runs],
      "runs_skipped": skipped,
      "off_grid_checkpoints_left_out": off_grid,
    },
    "methods": methods,
    "probes": {"computed": computed, "reused": reused},
    "wall_time_s": round(time.time() - t0, 1),
    "device": jax.devices()[0].device_kind,
  }
  with open(paths["json"], "w") as f:
    json.dump(summary, f, indent=2)
  plot(
    methods,
    paths["png"],
    f"D features over GAN training, {wanted['num_train']} train /"
    f" {wanted['num_test']} test images per probe; band = min-max over"
    " seeds",
  )
  _log.info("wrote %s", ", ".join(paths.values()))
  return {"summary": summary, "rows": rows, "paths": paths}


if __name__ == "__main__":
  # force: absl (imported via orbax) has already put a handler on the root
  # logger, which would leave this call a no-op. Root stays at WARNING, as
  # orbax logs every checkpoint it opens at INFO; only this script's
  # progress lines are shown.
  logging.basicConfig(format="%(asctime)s %(message)s", force=True)
  _log.setLevel(logging.INFO)
  result = main()
  print(json.dumps(result["summary"]["methods"], indent=2))
