"""Cond-GAN baseline on the embedded Fashion-MNIST (labels used, no rotation).

  python -m ssgan_jax.main --config configs/fashion_mnist_cgan.py \
      --workdir runs/fmnist_cgan

The paper's Cond-GAN (PAPER.md section 2): class-conditional BatchNorm in G
(`model.generator.norm = "conditional"`) and a projection discriminator,
logit `w.h + <embed(y), h>` (`model.discriminator.projection = True`),
trained on the 10 Fashion-MNIST classes. Otherwise identical to
configs/fashion_mnist_gan.py (model, data, optimiser, budget), so the two
runs differ only by the labels. The sample grids have 10 columns, one class
each (the grid's sample i draws class i mod 10).
Variants: `:quick` is a 4-step smoke run; `:repro` the budget of
experiments/fashion_mnist_table1.
"""

import ml_collections

from configs import common
from configs import fashion_mnist_ssgan


def get_config(arg: str | None = None):
  args = common.parse_args(arg)
  c = fashion_mnist_ssgan.get_config(arg)
  c.ssl = ml_collections.ConfigDict()
  c.model.generator.norm = "conditional"
  c.model.discriminator.projection = True
  if "quick" not in args:
    c.num_sample_images = 100  # a 10 x 10 grid: one class per column
  return c
