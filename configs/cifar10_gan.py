"""Uncond-GAN on CIFAR10 in the paper's setting (rotation loss off).

  python -m ssgan_jax.main --config configs/cifar10_gan.py \
      --workdir runs/cifar10_gan

Needs a GPU/TPU (see configs/cifar10_ssgan.py for speed and data notes).
Expected FID (10k test split): paper Table 1 19.73 (best of 3 seeds).
"""

import ml_collections

from configs import cifar10_ssgan


def get_config(arg: str | None = None):
  c = cifar10_ssgan.get_config(arg)
  c.ssl = ml_collections.ConfigDict()
  return c
