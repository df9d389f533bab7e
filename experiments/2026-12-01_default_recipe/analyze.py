"""Tables, FD-vs-minutes plot and side-by-side grids of the default-recipe sweep.

  python experiments/2026-12-01_default_recipe/analyze.py \
      --runs runs/default_recipe --out experiments/2026-12-01_default_recipe

`--runs` holds one directory per run (see run.sh): our workdirs (with
`config.json`, `eval/during_training/step_<N>.json` from the periodic
evaluator, and the 10k-sample score `eval/step_<N>.json` written by
`python -m ssgan_jax.evaluate --workdir`, or run.sh's `final_eval.json`)
and torch-mimicry's output of
benchmarks/mimicry_fmnist.py (`log.json`, and `scores/<snapshot>.json` from
`python -m ssgan_jax.evaluate --images`). Writes `results.json`,
`table.md`, `fd_vs_minutes.png` and `grids.png` to `--out`.
"""

import argparse
import json
import pathlib

import numpy as np

METRICS = (
  "fd_fmnist",
  "kid_mean",
  "precision",
  "recall",
  "coverage_tv",
  "min_class_fraction",
)
CLASSES = (
  "T-shirt",
  "trouser",
  "pullover",
  "dress",
  "coat",
  "sandal",
  "shirt",
  "sneaker",
  "bag",
  "boot",
)


def _json(path: pathlib.Path):
  return json.loads(path.read_text())


def _final_score(run: pathlib.Path) -> dict | None:
  """Our run's 10k-sample score: final_eval.json (run.sh's copy of the
  evaluator's stdout) or the newest eval/step_<N>.json, if any."""
  if (run / "final_eval.json").exists():
    return _json(run / "final_eval.json")
  files = sorted(
    run.glob("eval/step_*.json"), key=lambda p: int(p.stem.split("_")[1])
  )
  return _json(files[-1]) if files else None


def ours(run: pathlib.Path) -> dict:
  config = _json(run / "config.json")
  curve = []
  during = [*run.glob("eval/during_training/step_*.json")]
  during += [*run.glob("during_training/step_*.json")]  # a committed copy
  for p in during:
    r = _json(p)
    if "train_wall_s" in r:
      curve.append((r["train_wall_s"] / 60.0, r["fd_fmnist"], r["step"]))
  curve.sort()
  final = _final_score(run)
  return {
    "name": run.name,
    "side": "ours",
    "curve_minutes_fd_step": curve,
    "steps": final["step"] if final else (curve[-1][2] if curve else None),
    "minutes": curve[-1][0] if curve else None,
    "final": final,
    # An EMA run's live G on the same checkpoint (run.sh: --live_weights).
    "final_live": (
      _json(run / "final_eval_live.json")
      if (run / "final_eval_live.json").exists()
      else None
    ),
    "recipe": {
      "batch_size": config["batch_size"],
      "disc_iters": config["disc_iters"],
      "loss": config["loss"]["name"],
      "lr_g": config["optimizer"]["g"]["learning_rate"],
      "lr_d": config["optimizer"]["d"]["learning_rate"],
      "betas": [config["optimizer"]["g"]["b1"], config["optimizer"]["g"]["b2"]],
      "width_g_d": [
        config["model"]["generator"]["width"],
        config["model"]["discriminator"]["width"],
      ],
      "z_dim": config["model"]["z_dim"],
      "rotation": config["ssl"].get("rotation"),
      "ema": config["ema"],
    },
  }


def mimicry(run: pathlib.Path) -> dict:
  log = _json(run / "log.json")
  curve, final = [], None
  for snap in log["snapshots"]:
    score = run / "scores" / (pathlib.Path(snap["file"]).stem + ".json")
    if not score.exists():
      continue
    r = _json(score)
    if snap["file"].startswith("final"):
      final = r
    else:
      curve.append((snap["minutes"], r["fd_fmnist"], snap["iterations"]))
  return {
    "name": run.name,
    "side": "torch-mimicry",
    "curve_minutes_fd_step": curve,
    "steps": log["iterations"],
    "minutes": log["train_minutes"],
    "final": final,
    "recipe": log["args"],
  }


def load(runs_dir: pathlib.Path) -> list[dict]:
  out = []
  for run in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
    if (run / "config.json").exists():
      out.append(ours(run))
    elif (run / "log.json").exists():
      out.append(mimicry(run))
  return out


def table(runs: list[dict]) -> str:
  head = (
    "| run | side | steps | train min | FD-FMNIST | KID | precision | recall"
    " | TV to uniform | rarest class |\n" + "|---" * 10 + "|\n"
  )
  rows = []
  shown = []
  for r in runs:
    shown.append(r)
    if r.get("final_live"):
      shown.append(
        {**r, "name": f"{r['name']} (live G)", "final": r["final_live"]}
      )
  for r in shown:
    f = r["final"] or {}
    cells = [f"{f[m]:.3f}" if m in f else "-" for m in METRICS]
    if "fd_fmnist" in f:
      cells[0] = f"{f['fd_fmnist']:.1f}"
      cells[1] = f"{f['kid_mean']:.1f}"
    minutes = f"{r['minutes']:.1f}" if r["minutes"] is not None else "-"
    rows.append(
      f"| {r['name']} | {r['side']} | {r['steps']} | {minutes} | "
      + " | ".join(cells)
      + " |"
    )
  hist = ["", "Class histogram of the final 10k samples (%):", ""]
  hist.append("| run | " + " | ".join(CLASSES) + " |")
  hist.append("|---" * (len(CLASSES) + 1) + "|")
  for r in shown:
    f = r["final"] or {}
    if "class_fractions" in f:
      hist.append(
        f"| {r['name']} | "
        + " | ".join(f"{100 * x:.1f}" for x in f["class_fractions"])
        + " |"
      )
  return head + "\n".join(rows) + "\n" + "\n".join(hist) + "\n"


def plot_curves(runs: list[dict], path: pathlib.Path) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  fig, ax = plt.subplots(figsize=(7, 4.5))
  for r in runs:
    pts = r["curve_minutes_fd_step"]
    if not pts:
      continue
    m, fd, _ = zip(*pts)
    style = "--" if r["side"] != "ours" else "-"
    ax.plot(m, fd, style, marker="o", label=f"{r['name']} ({r['side']})")
  ax.set_xlabel("wall-clock minutes of training (ours: evaluations included)")
  ax.set_ylabel("FD-FMNIST, 5,000 samples (lower is better)")
  ax.set_yscale("log")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def _grid_of(run: pathlib.Path, side: str) -> np.ndarray | None:
  from PIL import Image  # pylint: disable=g-import-not-at-top

  if side == "ours":
    grids = sorted(run.glob("samples/step_*.png"))
    return np.asarray(Image.open(grids[-1])) if grids else None
  final = sorted(run.glob("final_*.npz"))
  if not final:
    return None
  from ssgan_jax import images as images_lib  # pylint: disable=g-import-not-at-top

  x = np.load(final[0])["images"][:64]  # uint8 [64, 32, 32, 1]
  return images_lib.make_grid(x)[..., 0]


def plot_grids(runs_dir, runs: list[dict], names, path: pathlib.Path):
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  chosen = [r for r in runs if r["name"] in names]
  fig, axes = plt.subplots(1, len(chosen), figsize=(5 * len(chosen), 5.3))
  for ax, r in zip(np.atleast_1d(axes), chosen):
    grid = _grid_of(runs_dir / r["name"], r["side"])
    if grid is not None:
      ax.imshow(grid, cmap="gray", vmin=0, vmax=255)
    fd = (r["final"] or {}).get("fd_fmnist")
    ax.set_title(
      f"{r['name']} ({r['side']})\nFD-FMNIST {fd:.1f}" if fd else r["name"],
      fontsize=9,
    )
    ax.axis("off")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--runs", required=True, type=pathlib.Path)
  p.add_argument("--out", required=True, type=pathlib.Path)
  p.add_argument(
    "--grids",
    nargs="*",
    default=None,
    help="run names to show side by side (default all)",
  )
  args = p.parse_args(argv)
  runs = load(args.runs)
  if not runs:
    raise SystemExit(f"error: no runs found under {args.runs}")
  args.out.mkdir(parents=True, exist_ok=True)
  (args.out / "results.json").write_text(json.dumps(runs, indent=1) + "\n")
  (args.out / "table.md").write_text(table(runs))
  plot_curves(runs, args.out / "fd_vs_minutes.png")
  names = args.grids or [r["name"] for r in runs]
  plot_grids(args.runs, runs, names, args.out / "grids.png")
  print(table(runs))


if __name__ == "__main__":
  main()
