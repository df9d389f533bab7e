"""Images/s of the input pipeline alone, per source, against the step's need.

  python benchmarks/input_pipeline.py [--images 4000] [--steps 40] \
      [--sizes 32,128] [--json benchmarks/results_input_pipeline.json]

Sources (all offline, built from the embedded Fashion-MNIST in a
temporary directory):
* `embedded`: the in-memory ArraySource (a gather and a float conversion);
* `folder`: the same images exported as PNG files: the one-off decode of
  the whole folder at start-up (images/s), then batches as `embedded`;
* `array_record`: a TFDS dataset prepared as ArrayRecord, read by index
  by `record_source.RecordSource` (decode + crop/resize per image in
  Grain's threads), at each of `--sizes` (the 28x28 images resized, so
  that the per-image work resembles a 32 px or a 128 px dataset).

Each row reports host images/s over `--steps` batches of 64 x n_dis 2 after
one warm-up batch, and the ratio to what a train step consumes:
`--step_images_per_s` (default: the default job's 64 images x 1 D step x
~2 G steps/s on a 2-core CPU; pass a GPU's figure to compare with it).
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]


from configs import fashion_mnist_ssgan  # noqa: E402
from ssgan_jax import fashion_mnist  # noqa: E402
from ssgan_jax import image_folder  # noqa: E402
from ssgan_jax import input_pipeline  # noqa: E402


def _rate(source, steps: int, batch: int, n_dis: int) -> float:
  source.host_batch(0)  # warm-up: iterator start, first trace
  t = time.perf_counter()
  for s in range(1, steps + 1):
    source.host_batch(s)
  return steps * batch * n_dis / (time.perf_counter() - t)


def _config(**dataset):
  c = fashion_mnist_ssgan.get_config()
  c.batch_size = 64
  c.disc_iters = 2
  for k, v in dataset.items():
    c.dataset[k] = v
  return c


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--images", type=int, default=4000)
  p.add_argument("--steps", type=int, default=40)
  p.add_argument("--sizes", default="32,128")
  p.add_argument("--threads", type=int, default=8)
  p.add_argument("--step_images_per_s", type=float, default=128.0)
  p.add_argument("--json", default="")
  a = p.parse_args()
  import tiny_tfds  # pylint: disable=g-import-not-at-top

  rows = []
  batch, n_dis = 64, 2
  with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    src = input_pipeline.create_source(_config())
    rows.append(
      {"source": "embedded", "images_per_s": _rate(src, a.steps, batch, n_dis)}
    )

    images, labels = fashion_mnist.load("train")
    image_folder.export(
      images[: a.images], labels[: a.images], str(tmp / "png"), None
    )
    t = time.perf_counter()
    src = input_pipeline.create_source(
      _config(name="folder", path=str(tmp / "png"), preprocess="crop_or_pad")
    )
    load_s = time.perf_counter() - t
    rows.append(
      {
        "source": "folder (start-up decode)",
        "images_per_s": a.images / load_s,
      }
    )
    rows.append(
      {"source": "folder", "images_per_s": _rate(src, a.steps, batch, n_dis)}
    )

    tiny_tfds.build(tmp / "ar", "array_record", n=a.images)
    for size in [int(s) for s in a.sizes.split(",")]:
      config = _config(
        name=tiny_tfds.NAME,
        data_dir=str(tmp / "ar"),
        download=False,
        in_memory=False,
        image_size=size,
        read_threads=a.threads,
        prefetch_batches=a.threads,
      )
      src = input_pipeline.create_source(config)
      rows.append(
        {
          "source": f"array_record {size}px",
          "images_per_s": _rate(src, a.steps, batch, n_dis),
        }
      )

  for r in rows:
    r["x_step_need"] = r["images_per_s"] / a.step_images_per_s
  result = {
    "machine": {
      "cpus": os.cpu_count(),
      "platform": platform.platform(),
      "load_average": os.getloadavg(),
    },
    "args": vars(a),
    "rows": rows,
  }
  print("| source | images/s | x the step's need |")
  print("|---|---|---|")
  for r in rows:
    print(
      f"| {r['source']} | {r['images_per_s']:.0f} | {r['x_step_need']:.1f} |"
    )
  if a.json:
    pathlib.Path(a.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
  main()
