"""Uncond-GAN baseline on the embedded Fashion-MNIST (rotation loss off).

  python -m ssgan_jax.main --config configs/fashion_mnist_gan.py \
      --workdir runs/fmnist_gan

Identical to configs/fashion_mnist_ssgan.py except `ssl = {}`: the same model,
data, optimiser and budget, so the two runs differ only by the rotation loss.
"""

import ml_collections

from configs import fashion_mnist_ssgan


def get_config(arg: str | None = None):
  c = fashion_mnist_ssgan.get_config(arg)
  c.ssl = ml_collections.ConfigDict()
  return c
