"""Tabulates run.sh's runs: FD-FMNIST and friends at step 500, per algorithm.

  python experiments/2026-12-02_conv_algorithms/analyze.py RUNS_DIR [OUT_DIR]

Writes table.md and results.json to OUT_DIR (default: next to this script;
later experiments that re-run run.sh pass their own folder).
"""

import json
import pathlib
import statistics
import sys

_KEYS = (
  "fd_fmnist",
  "kid_mean",
  "precision",
  "recall",
  "coverage_tv",
  "min_class_fraction",
)


def main(runs: pathlib.Path, out: pathlib.Path | None = None) -> None:
  here = out or pathlib.Path(__file__).parent
  rows = {}
  for run in sorted(p for p in runs.iterdir() if p.is_dir()):
    result = run / "eval" / "during_training" / "step_500.json"
    if result.exists():
      d = json.loads(result.read_text())
      rows[run.name] = {k: d[k] for k in _KEYS} | {
        "train_wall_s": d["train_wall_s"],
        "num_images": d["num_images"],
      }
  lines = [
    "| run (conv, seed) | FD-FMNIST | KID x1e3 | precision | recall |"
    " TV to uniform | rarest class | train s |",
    "|---|---|---|---|---|---|---|---|",
  ]
  for name, r in rows.items():
    lines.append(
      f"| {name} | {r['fd_fmnist']:.1f} | {r['kid_mean']:.1f} |"
      f" {r['precision']:.3f} | {r['recall']:.3f} | {r['coverage_tv']:.3f} |"
      f" {100 * r['min_class_fraction']:.2f} % | {r['train_wall_s']:.0f} |"
    )
  lines.append("")
  for conv in ("xla", "winograd2", "winograd4"):
    fds = [r["fd_fmnist"] for n, r in rows.items() if n.startswith(conv + "_")]
    if fds:
      spread = max(fds) - min(fds)
      lines.append(
        f"- {conv}: FD mean {statistics.fmean(fds):.1f} over {len(fds)}"
        f" seeds, spread {spread:.1f}"
      )
  (here / "table.md").write_text("\n".join(lines) + "\n")
  (here / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  main(
    pathlib.Path(sys.argv[1]),
    pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else None,
  )
