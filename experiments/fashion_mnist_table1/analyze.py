"""Tables and plots of a Fashion-MNIST Table 1 from its run directories.

  python experiments/fashion_mnist_table1/analyze.py \
      --runs runs/fashion_mnist_table1 --out experiments/fashion_mnist_table1
  python experiments/fashion_mnist_table1/analyze.py \
      --runs experiments/2026-12-03_table1_default/results \
      --out experiments/2026-12-03_table1_default --x minutes \
      --title "Fashion-MNIST, default recipe (width 32, 1,800 steps)"

Reads, for every `<method>_seed<k>` run that has finished:
  eval/step_<last>.json              final scores (10k samples vs test split)
  eval/during_training/step_*.json   FD-FMNIST curve (the loop's samples)
  eval/probe_step_<last>.json        linear probe + rotation accuracy, if run
  samples/*.png                      the sample grids (the last is shown)
and writes
  results.csv        one row per run
  results.md         mean +- std over seeds per method, and differences
                     paired by seed against Uncond-GAN, SS-GAN and Cond-GAN
  fd_vs_step.png     FD-FMNIST against G steps (--x steps) or training
                     minutes (--x minutes: fd_vs_minutes.png), mean over
                     seeds and range
  samples.png        the final sample grid of seed 0 of every method
and, when `<method>_forgetting_seed<k>` runs (configs' `:forgetting`
variant: 4x the steps, the probe during training) are there,
  forgetting.md      per run and evaluation: FD-FMNIST and each D block's
                     probe top-1 (from eval/probe/step_*.json), and per
                     block the peak, the last value and the fall from peak
  forgetting.png     FD-FMNIST and each block's probe top-1 against G steps
"""

import argparse
import collections
import csv
import json
import os
import pathlib
import re
import sys

_REPO = os.path.dirname(
  os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
if _REPO not in sys.path:  # run as a script from a checkout, not installed
  sys.path.insert(0, _REPO)

import numpy as np  # noqa: E402

from configs import common  # noqa: E402

METHOD_NAMES = common.METHOD_TITLES
# Final-score columns: (json key, header, format).
COLUMNS = (
  ("fd_fmnist", "FD-FMNIST", "{:.1f}"),
  ("kid_mean", "KID", "{:.1f}"),
  ("precision", "precision", "{:.3f}"),
  ("recall", "recall", "{:.3f}"),
  ("coverage_classes", "classes", "{:.1f}"),
  ("coverage_tv", "class TV", "{:.3f}"),
  ("min_class_fraction", "rarest class", "{:.3f}"),
  ("is_fmnist", "IS-FMNIST", "{:.2f}"),
  ("best_fd_2k", "best FD (in training)", "{:.1f}"),
  ("probe_last", "probe top-1 (block 4)", "{:.3f}"),
  ("probe_best", "probe top-1 (best block)", "{:.3f}"),
  ("rotation_acc", "rotation acc.", "{:.3f}"),
)
_RUN = re.compile(r"^(?P<method>[a-z_]+)_seed(?P<seed>\d+)$")
_FORGETTING = re.compile(r"^(?P<method>[a-z_]+)_forgetting_seed(?P<seed>\d+)$")


def _final(run: pathlib.Path):
  steps = [
    int(p.stem.split("_")[1]) for p in (run / "eval").glob("step_*.json")
  ]
  if not steps:
    return None, None
  step = max(steps)
  return step, json.loads((run / "eval" / f"step_{step}.json").read_text())


def _curve(run: pathlib.Path, x: str = "steps"):
  """[(x, FD-FMNIST)] of the loop's evaluations; x is the G step or the
  training minutes before the evaluation (train_wall_s).

  In minutes, None when the clock is not the whole run's: a run resumed
  by a version that restarted the clock on resume has train_wall_s that
  fall from one evaluation to the next (or none at all), and would put its
  points at wrong minutes.
  """
  results = sorted(
    (
      json.loads(p.read_text())
      for p in (run / "eval" / "during_training").glob("step_*.json")
    ),
    key=lambda r: r["step"],
  )
  if x == "steps":
    return [(r["step"], r["fd_fmnist"]) for r in results]
  walls = [r.get("train_wall_s") for r in results]
  if None in walls or any(b < a for a, b in zip(walls, walls[1:])):
    return None
  return [(w / 60.0, r["fd_fmnist"]) for w, r in zip(walls, results)]


def _probe(run: pathlib.Path, step: int) -> dict:
  p = run / "eval" / f"probe_step_{step}.json"
  if not p.is_file():
    return {}
  r = json.loads(p.read_text())
  blocks = [
    v for k, v in r.items() if re.fullmatch(r"probe/block\d+/top1_test", k)
  ]
  out = {"probe_best": max(blocks)} if blocks else {}
  last = r.get(f"probe/block{r.get('num_blocks', 0)}/top1_test")
  if last is not None:
    out["probe_last"] = last
  if r.get("probe/rotation/top1") is not None:
    out["rotation_acc"] = r["probe/rotation/top1"]
  return out


def collect(runs_dir: pathlib.Path, x: str = "steps"):
  rows, curves = [], collections.defaultdict(dict)
  for run in sorted(runs_dir.iterdir()):
    m = _RUN.match(run.name)
    # A `<method>_forgetting_seed<k>` run is another budget: forgetting().
    if not m or m["method"] not in METHOD_NAMES or not run.is_dir():
      continue
    step, final = _final(run)
    if final is None:
      continue
    by_step = _curve(run)
    curve = by_step if x == "steps" else _curve(run, x)
    if curve is None:
      print(
        f"note: {run.name} has no whole-run training clock (it was resumed"
        " by a version that restarted it); left out of the FD-vs-minutes"
        " plot"
      )
    row = {
      "method": m["method"],
      "seed": int(m["seed"]),
      "step": step,
      "num_images": final["num_images"],
      **{k: final[k] for k, _, _ in COLUMNS if k in final},
      "best_fd_2k": min((fd for _, fd in by_step), default=float("nan")),
      **_probe(run, step),
    }
    rows.append(row)
    if curve is not None:
      curves[m["method"]][int(m["seed"])] = curve
  return rows, curves


def forgetting(runs_dir: pathlib.Path) -> dict:
  """(method, seed) -> [{step, minutes, fd_fmnist, block<i>: top-1}] of
  every forgetting run, one entry per step with a probe evaluation (FD
  where the same step has one), in step order."""
  out = {}
  for run in sorted(runs_dir.iterdir()):
    m = _FORGETTING.match(run.name)
    if not m or m["method"] not in METHOD_NAMES or not run.is_dir():
      continue
    points = []
    for p in (run / "eval" / "probe").glob("step_*.json"):
      r = json.loads(p.read_text())
      step = int(p.stem.split("_")[1])
      point = {"step": step}
      for i in range(1, r.get("num_blocks", 0) + 1):
        point[f"block{i}"] = r[f"probe/block{i}/top1_test"]
      fd = run / "eval" / "during_training" / f"step_{step}.json"
      if fd.is_file():
        f = json.loads(fd.read_text())
        point["fd_fmnist"] = f["fd_fmnist"]
        if "train_wall_s" in f:
          point["minutes"] = f["train_wall_s"] / 60.0
      points.append(point)
    if points:
      out[(m["method"], int(m["seed"]))] = sorted(
        points, key=lambda q: q["step"]
      )
  return out


def _blocks(points) -> list[str]:
  return sorted(
    {k for q in points for k in q if k.startswith("block")},
    key=lambda k: int(k[5:]),
  )


def forgetting_table(runs: dict) -> str:
  """Per run: the curve (FD and each block's top-1 at every evaluation)
  and, per block, peak (its step), last value and the fall last - peak."""
  parts = []
  for (method, seed), points in sorted(runs.items()):
    blocks = _blocks(points)
    parts.append(f"### {METHOD_NAMES[method]}, seed {seed}\n")
    head = ["G step", "minutes", "FD-FMNIST"] + [f"{b} top-1" for b in blocks]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for q in points:
      cells = [
        str(q["step"]),
        f"{q['minutes']:.1f}" if "minutes" in q else "-",
        f"{q['fd_fmnist']:.1f}" if "fd_fmnist" in q else "-",
      ] + [f"{q[b]:.4f}" if b in q else "-" for b in blocks]
      lines.append("| " + " | ".join(cells) + " |")
    lines += [
      "",
      "| block | peak top-1 (step) | last top-1 | last − peak |",
      "|---|---|---|---|",
    ]
    for b in blocks:
      seen = [(q[b], q["step"]) for q in points if b in q]
      peak, at = max(seen)
      last = seen[-1][0]
      lines.append(
        f"| {b} | {peak:.4f} ({at}) | {last:.4f} | {last - peak:+.4f} |"
      )
    parts.append("\n".join(lines) + "\n")
  return "\n".join(parts)


def plot_forgetting(runs: dict, path: pathlib.Path, title: str = "") -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  blocks = _blocks([q for points in runs.values() for q in points])
  panels = ["fd_fmnist"] + blocks
  fig, axes = plt.subplots(
    1, len(panels), figsize=(3.2 * len(panels), 3.4), dpi=120
  )
  for ax, key in zip(np.atleast_1d(axes), panels):
    for (method, seed), points in sorted(runs.items()):
      pts = [(q["step"], q[key]) for q in points if key in q]
      if pts:
        xs, ys = zip(*pts)
        ax.plot(
          xs, ys, marker="o", ms=3, label=f"{METHOD_NAMES[method]} s{seed}"
        )
    ax.set_title(
      "FD-FMNIST" if key == "fd_fmnist" else f"probe top-1, D {key}",
      fontsize=9,
    )
    ax.set_xlabel("G steps", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
  np.atleast_1d(axes)[0].legend(fontsize=7)
  fig.suptitle(
    (title or "Forgetting")
    + ": linear probe (fit on train, test top-1) of each D block",
    fontsize=9,
  )
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def table(rows) -> str:
  by_method = collections.defaultdict(list)
  for r in rows:
    by_method[r["method"]].append(r)
  header = ["method", "seeds"] + [h for _, h, _ in COLUMNS]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for method in METHOD_NAMES:
    runs = by_method.get(method)
    if not runs:
      continue
    cells = [METHOD_NAMES[method], str(len(runs))]
    for key, _, fmt in COLUMNS:
      vals = np.array([r[key] for r in runs if key in r], np.float64)
      if len(vals) == 0:
        cells.append("-")
      elif len(vals) == 1:
        cells.append(fmt.format(vals[0]))
      else:
        cells.append(
          f"{fmt.format(vals.mean())} ± {fmt.format(vals.std(ddof=1))}"
        )
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


# Paired comparisons: (method, baseline, key). Runs of one seed share the
# initial weights (up to the SSL heads) and the data order, so the
# difference per seed removes most of the seed-to-seed spread.
PAIRS = (
  ("ssgan", "gan"),
  ("ssgan_sbn", "gan"),
  ("ssgan_sbn", "ssgan"),
  ("ssgan_ms", "ssgan"),
  ("ssgan_la", "ssgan"),
  ("cgan", "gan"),
  ("cgan", "ssgan"),
  ("ssgan_sbn", "cgan"),
)
PAIRED_KEYS = (("fd_fmnist", "FD-FMNIST", "{:+.1f}"),) + tuple(
  c
  for c in COLUMNS
  if c[0] in ("kid_mean", "precision", "recall", "coverage_tv", "probe_last")
)


def paired_table(rows) -> str:
  """Per-seed differences method - baseline: mean, std and each seed."""
  by = {(r["method"], r["seed"]): r for r in rows}
  lines = [
    "| comparison | seeds | "
    + " | ".join(f"Δ {h}" for _, h, _ in PAIRED_KEYS)
    + " |",
    "|" + "---|" * (2 + len(PAIRED_KEYS)),
  ]
  for method, base in PAIRS:
    seeds = sorted(s for (m, s) in by if m == method and (base, s) in by)
    if not seeds:
      continue
    cells = [f"{METHOD_NAMES[method]} − {METHOD_NAMES[base]}", str(len(seeds))]
    for key, _, fmt in PAIRED_KEYS:
      d = np.array(
        [
          by[(method, s)][key] - by[(base, s)][key]
          for s in seeds
          if key in by[(method, s)] and key in by[(base, s)]
        ],
        np.float64,
      )
      if len(d) == 0:
        cells.append("-")
        continue
      fmt_signed = fmt if fmt.startswith("{:+") else fmt.replace("{:", "{:+")
      per_seed = ", ".join(fmt_signed.format(v) for v in d)
      spread = (
        f" ± {fmt.replace('+', '').format(d.std(ddof=1))}" if len(d) > 1 else ""
      )
      cells.append(f"{fmt_signed.format(d.mean())}{spread} ({per_seed})")
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def plot_curves(
  curves, path: pathlib.Path, x: str = "steps", title: str = ""
) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
  for method in METHOD_NAMES:
    seeds = curves.get(method)
    if not seeds:
      continue
    # The i-th evaluation of every seed: the same step (minutes differ a
    # little from seed to seed; their mean is the x of the point).
    n = min(len(c) for c in seeds.values())
    pts = np.array([c[:n] for c in seeds.values()], np.float64)  # [S, n, 2]
    at, vals = pts[..., 0].mean(axis=0), pts[..., 1]
    ax.plot(
      at,
      vals.mean(axis=0),
      marker="o",
      label=f"{METHOD_NAMES[method]} (n={len(seeds)})",
    )
    if len(seeds) > 1:
      ax.fill_between(at, vals.min(axis=0), vals.max(axis=0), alpha=0.15)
  ax.set_xlabel("G steps" if x == "steps" else "training minutes (2 cores)")
  ax.set_ylabel("FD-FMNIST (the loop's samples vs test)")
  ax.set_title(
    (title or "Fashion-MNIST, width 16") + ": mean over seeds, band = range",
    fontsize=9,
  )
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def sample_montage(runs_dir: pathlib.Path, methods, path: pathlib.Path):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from PIL import ImageDraw  # pylint: disable=g-import-not-at-top

  tiles = []
  for method in methods:
    grids = sorted((runs_dir / f"{method}_seed0" / "samples").glob("*.png"))
    if grids:
      tiles.append((METHOD_NAMES[method], Image.open(grids[-1]).convert("L")))
  if not tiles:
    return
  w = max(t.width for _, t in tiles)
  h = max(t.height for _, t in tiles)
  out = Image.new("L", (len(tiles) * (w + 8), h + 16), 255)
  draw = ImageDraw.Draw(out)
  for i, (name, tile) in enumerate(tiles):
    out.paste(tile, (i * (w + 8), 16))
    draw.text((i * (w + 8) + 2, 2), name, fill=0)
  out.save(path)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--runs", default="runs/fashion_mnist_table1")
  parser.add_argument("--out", default="experiments/fashion_mnist_table1")
  parser.add_argument(
    "--x",
    choices=("steps", "minutes"),
    default="steps",
    help="the FD curve against G steps or training minutes",
  )
  parser.add_argument("--title", default="", help="the plot's title")
  args = parser.parse_args(argv)
  runs_dir, out = pathlib.Path(args.runs), pathlib.Path(args.out)
  if not runs_dir.is_dir():
    parser.error(f"--runs {runs_dir} is not a directory")
  rows, curves = collect(runs_dir, args.x)
  if not rows:
    parser.error(f"no finished <method>_seed<k> run in {runs_dir}")
  out.mkdir(parents=True, exist_ok=True)
  keys = sorted({k for r in rows for k in r})
  with open(out / "results.csv", "w", newline="") as f:
    writer = csv.DictWriter(f, keys)
    writer.writeheader()
    writer.writerows(rows)
  report = table(rows) + "\nPaired by seed (mean ± std of the differences;"
  report += " each seed in brackets):\n\n" + paired_table(rows)
  (out / "results.md").write_text(report)
  plot_name = "fd_vs_step.png" if args.x == "steps" else "fd_vs_minutes.png"
  plot_curves(curves, out / plot_name, args.x, args.title)
  sample_montage(
    runs_dir,
    [m for m in METHOD_NAMES if any(r["method"] == m for r in rows)],
    out / "samples.png",
  )
  print(report)
  runs = forgetting(runs_dir)
  if runs:
    text = forgetting_table(runs)
    (out / "forgetting.md").write_text(text)
    plot_forgetting(runs, out / "forgetting.png", args.title)
    print(text)


if __name__ == "__main__":
  main()
