"""Trains torch-mimicry's SSGAN-32 on the embedded Fashion-MNIST for a wall budget.

The peer side of the default job's quality comparison (experiments/
2026-12-01_default_recipe). Runs in torch-mimicry's own env, never in ours:

  /path/to/torchenv/bin/python benchmarks/mimicry_fmnist.py \
      --out runs/mimicry_fmnist --minutes 20 --threads 2

then score every snapshot with our evaluator:

  python -m ssgan_jax.evaluate --images runs/mimicry_fmnist/final_10000.npz

The recipe is torch-mimicry's SSGAN-32 example: hinge loss, SS weights 1.0
(D) / 0.2 (G), Adam 2e-4 (0.0, 0.9), n_dis 2, batch 64, z 128, and G/D width
`--width` (32 = our default job's). The only change is the image channels:
G's last conv draws 1 channel and D's first block reads 1 (both rebuilt with
torch-mimicry's own modules and initialisers). The data are the repository's
IDX files (this env has no JAX, so their sha256 is not checked here as our
loader checks it), padded 28 -> 32 with the background and scaled to
[-1, 1], as our input pipeline does; each epoch is a fresh permutation.

The clock counts training only: every `--snapshot_minutes` of training the
clock stops, G (eval mode, BatchNorm running averages, as torch-mimicry's
own FID code samples) writes `--snapshot_samples` images to
`snap_<minute>min.npz`, and the clock restarts. At the end it writes
`final_<N>.npz` (`--final_samples`) and `log.json` (iterations, minutes,
seconds per iteration).
"""

import argparse
import gzip
import importlib
import json
import os
import time

import numpy as np

# torch-mimicry's networks without its package __init__ (which needs
# TensorFlow and torchvision): the loader of the step benchmark, next to
# this script (its folder is first on sys.path). It imports no JAX, so it
# runs in torch-mimicry's env.
import torch_reference  # noqa: E402

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_idx(path):
  with gzip.open(path, "rb") as f:
    raw = f.read()
  ndim = raw[3]
  dims = np.frombuffer(raw, ">u4", count=ndim, offset=4).astype(int)
  return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _to_uint8(x):
  """[N, 1, 32, 32] in [-1, 1] -> [N, 32, 32, 1] uint8, as our sampler does."""
  x = np.clip((x.transpose(0, 2, 3, 1) + 1.0) * 127.5, 0, 255)
  return np.round(x).astype(np.uint8)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--out", required=True)
  p.add_argument("--minutes", type=float, default=20.0)
  p.add_argument("--snapshot_minutes", type=float, default=4.0)
  p.add_argument("--snapshot_samples", type=int, default=5000)
  p.add_argument("--final_samples", type=int, default=10000)
  p.add_argument("--threads", type=int, default=2)
  p.add_argument("--width", type=int, default=32)
  p.add_argument("--batch_size", type=int, default=64)
  p.add_argument("--n_dis", type=int, default=2)
  p.add_argument("--z_dim", type=int, default=128)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument(
    "--data_dir", default=os.path.join(_REPO, "data", "fashion_mnist")
  )
  args = p.parse_args(argv)
  images_file = os.path.join(args.data_dir, "train-images-idx3-ubyte.gz")
  if not os.path.exists(images_file):
    raise SystemExit(f"error: {images_file} not found; pass --data_dir.")
  os.makedirs(args.out, exist_ok=True)

  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top

  torch.set_num_threads(args.threads)
  torch.manual_seed(args.seed)
  rng = np.random.default_rng(args.seed)
  try:
    ssgan_32, metric_log_cls = torch_reference.import_mimicry()
  except ImportError as e:
    raise SystemExit(f"error: {e}") from None
  resblocks = importlib.import_module("torch_mimicry.modules.resblocks")

  net_g = ssgan_32.SSGANGenerator32(nz=args.z_dim, ngf=args.width)
  net_g.c5 = nn.Conv2d(args.width, 1, 3, 1, padding=1)
  nn.init.xavier_uniform_(net_g.c5.weight.data, 1.0)
  net_d = ssgan_32.SSGANDiscriminator32(ndf=args.width)
  net_d.block1 = resblocks.DBlockOptimized(1, args.width)
  opt_g = torch.optim.Adam(net_g.parameters(), 2e-4, betas=(0.0, 0.9))
  opt_d = torch.optim.Adam(net_d.parameters(), 2e-4, betas=(0.0, 0.9))

  x = _load_idx(images_file)  # [60000, 28, 28] uint8
  x = np.pad(x, ((0, 0), (2, 2), (2, 2)))[:, None].astype(np.float32)
  x = torch.from_numpy(x / 127.5 - 1.0)  # [N, 1, 32, 32]
  labels = torch.zeros(args.batch_size, dtype=torch.long)  # unused
  order, pos = rng.permutation(len(x)), 0

  def next_batch():
    nonlocal order, pos
    if pos + args.batch_size > len(order):
      order, pos = rng.permutation(len(x)), 0
    idx = order[pos : pos + args.batch_size]
    pos += args.batch_size
    return x[idx]

  def sample(n, path):
    net_g.eval()
    out = []
    with torch.no_grad():
      for i in range(0, n, 500):
        z = torch.randn(min(500, n - i), args.z_dim)
        out.append(_to_uint8(net_g(z).numpy()))
    net_g.train()
    np.savez_compressed(path, images=np.concatenate(out))

  cpu = torch.device("cpu")
  budget = args.minutes * 60.0
  next_snap = args.snapshot_minutes * 60.0
  trained, it, snaps = 0.0, 0, []
  net_g.train()
  net_d.train()
  while trained < budget:
    t0 = time.perf_counter()
    log = metric_log_cls()
    for _ in range(args.n_dis):
      net_d.train_step(
        real_batch=(next_batch(), labels),
        netG=net_g,
        optD=opt_d,
        log_data=log,
        device=cpu,
      )
    net_g.train_step(
      real_batch=(next_batch(), labels),
      netD=net_d,
      optG=opt_g,
      log_data=log,
      device=cpu,
    )
    trained += time.perf_counter() - t0
    it += 1
    if trained >= next_snap and trained < budget:
      name = f"snap_{next_snap / 60:g}min.npz"
      sample(args.snapshot_samples, os.path.join(args.out, name))
      snaps.append({"file": name, "minutes": trained / 60, "iterations": it})
      print(f"{trained / 60:.1f} min, {it} iterations: {name}", flush=True)
      next_snap += args.snapshot_minutes * 60.0
  final = f"final_{args.final_samples}.npz"
  sample(args.final_samples, os.path.join(args.out, final))
  snaps.append({"file": final, "minutes": trained / 60, "iterations": it})
  torch.save(net_g.state_dict(), os.path.join(args.out, "net_g.pt"))
  log = {
    "args": vars(args),
    "iterations": it,
    "train_minutes": trained / 60,
    "s_per_iteration": trained / it,
    "snapshots": snaps,
    "torch": torch.__version__,
  }
  with open(os.path.join(args.out, "log.json"), "w") as f:
    json.dump(log, f, indent=1)
  print(json.dumps({k: log[k] for k in ("iterations", "train_minutes")}))


if __name__ == "__main__":
  main()
