"""Cond-GAN on CIFAR10 in the paper's setting (labels used, no rotation).

  python -m ssgan_jax.main --config configs/cifar10_cgan.py \
      --workdir runs/cifar10_cgan

The paper's class-conditional baseline (PAPER.md section 2): G with
class-conditional BatchNorm (`model.generator.norm = "conditional"`) and a
projection discriminator, logit `w.h + <embed(y), h>`
(`model.discriminator.projection = True`), on the 10 CIFAR10 classes.
Otherwise the setting of configs/cifar10_gan.py (needs a GPU/TPU and TFDS
`cifar10`; see configs/cifar10_ssgan.py for speed and data notes). The
sample grids have 10 columns, one class each.
Expected FID (10k test split): paper Table 1 15.60 (best of 3 seeds), vs
Uncond-GAN 19.73 and SS-GAN 17.11.
"""

import ml_collections

from configs import cifar10_ssgan
from configs import common


def get_config(arg: str | None = None):
  args = common.parse_args(arg)
  c = cifar10_ssgan.get_config(arg)
  c.ssl = ml_collections.ConfigDict()
  c.model.generator.norm = "conditional"
  c.model.discriminator.projection = True
  if "quick" not in args:
    c.num_sample_images = 100  # a 10 x 10 grid: one class per column
  return c
