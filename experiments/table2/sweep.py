"""Prints the command lines of the paper's Table 2 robustness grid.

  python experiments/table2/sweep.py [--datasets cifar10,imagenet128]
      [--seeds 0,1,2] [--runs_dir runs/table2] > commands.txt

The grid (PAPER.md section 4, "Table 2 grid"): Uncond-GAN vs SS-GAN, each
with
  - spectral norm in D (no penalty) and n_dis in {1, 2}, or
  - WGAN-GP with lambda in {1, 10}, no spectral norm, n_dis 5,
crossed with Adam (beta1, beta2) in {(0.0, 0.9), (0.5, 0.999)} and 3 seeds.
The paper reports mean +- std FID over the seeds; its one checked cell is
SS-GAN on CIFAR10 in the section-4 setting (SN, n_dis 2, (0, 0.9)):
17.88 +- 0.64.

Each line is a complete `python -m ssgan_jax.main` call with its own
workdir, so the lines can go to any job scheduler (one GPU each). Nothing
is run here.
"""

import argparse
import itertools
import shlex

DATASETS = ("cifar10", "imagenet128")
METHODS = ("gan", "ssgan")
BETAS = ((0.0, 0.9), (0.5, 0.999))
# (name, spectral_norm, penalty, penalty weight, n_dis)
REGULARISERS = (
  ("sn_ndis1", True, "none", 0.0, 1),
  ("sn_ndis2", True, "none", 0.0, 2),
  ("gp1_ndis5", False, "wgan_gp", 1.0, 5),
  ("gp10_ndis5", False, "wgan_gp", 10.0, 5),
)


def grid(datasets=DATASETS, seeds=(0, 1, 2), runs_dir="runs/table2"):
  """Yields (name, config path, {override: value}) for every cell and seed."""
  for dataset, method, reg, (b1, b2), seed in itertools.product(
    datasets, METHODS, REGULARISERS, BETAS, seeds
  ):
    reg_name, sn, penalty, weight, n_dis = reg
    name = f"{dataset}_{method}_{reg_name}_b{b1}-{b2}_seed{seed}"
    overrides = {
      "model.discriminator.spectral_norm": sn,
      "penalty.name": penalty,
      "penalty.weight": weight,
      "disc_iters": n_dis,
      "seed": seed,
    }
    for net in ("g", "d"):
      overrides[f"optimizer.{net}.b1"] = b1
      overrides[f"optimizer.{net}.b2"] = b2
    yield name, f"configs/{dataset}_{method}.py", overrides, runs_dir


def command(name, config, overrides, runs_dir) -> str:
  parts = [
    "python",
    "-m",
    "ssgan_jax.main",
    "--config",
    config,
    "--workdir",
    f"{runs_dir}/{name}",
  ]
  parts += [f"--config.{k}={v}" for k, v in overrides.items()]
  return shlex.join(parts)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--datasets", default=",".join(DATASETS))
  parser.add_argument("--seeds", default="0,1,2")
  parser.add_argument("--runs_dir", default="runs/table2")
  args = parser.parse_args(argv)
  datasets = [d for d in args.datasets.split(",") if d]
  unknown = sorted(set(datasets) - set(DATASETS))
  if unknown:
    parser.error(f"unknown dataset(s) {unknown}; choose from {list(DATASETS)}")
  try:
    seeds = [int(s) for s in args.seeds.split(",") if s]
  except ValueError:
    parser.error(f"--seeds={args.seeds!r} must be integers, e.g. 0,1,2")
  for cell in grid(datasets, seeds, args.runs_dir):
    print(command(*cell))


if __name__ == "__main__":
  main()
