"""SSGAN-MS on CIFAR10 in the setting of the ssgan-la reproduction script.

  python -m ssgan_jax.main --config configs/cifar10_ssgan_ms.py \
      --workdir runs/cifar10_ssgan_ms

Needs a GPU/TPU: configs/cifar10_ssgan.py's step already takes ~20 s on 2
CPU cores, and here D also sees the four rotations of every fake, at batch
100. Needs TFDS `cifar10` (see configs/cifar10_ssgan.py). batch_size 100
divides over 1, 2 or 4 devices; on 8 use e.g. `--config.batch_size=96`.

Method: Tran et al., NeurIPS 2019 (ssgan_jax/ssl/ssgan_ms.py), GAN loss
kept. Settings and their sources (PAPER.md section 6; "script" is
liang-hou/ssgan-la `BigGAN-PyTorch/scripts/launch_cifar10_ema_ssganms.sh`):
  lambda_d = 1.0, lambda_g = 0.2, n_dis 2: PAPER.md [V ssgan-la code].
  batch 100, lr 2e-4 for G and D: script (`--batch_size 100 --G_lr 2e-4
    --D_lr 2e-4`).
  50k G steps: script's 200 epochs of 50k images, each G step consuming
    batch x n_dis = 200 reals (BigGAN-PyTorch's `D_batch_size`) [inferred].
  hinge loss: BigGAN-PyTorch's default `discriminator_loss` in the same code.
  Adam (beta1, beta2) = (0.0, 0.999): the code's parser defaults.
  EMA of G, decay 0.9999 from G step 10k: script `--ema --ema_start 10000`
    and the parser's default `--ema_decay`.
Differs from the script: the SN-ResNet of configs/cifar10_ssgan.py, not
BigGAN-PyTorch's 32x32 networks; all four angles of every image
(fraction 1.0) where the script rotates each quarter of the batch by one
angle (`--config.ssl.ssgan_ms.fraction=0.25` does the same rotation work).
Expected FID: unchecked. PAPER.md records only a recollection [R]: low-to-mid
teens on CIFAR10, 1-3 below SS-GAN.
Variant: `configs/cifar10_ssgan_ms.py:quick` is a CPU smoke run.
"""

import ml_collections

from configs import common


def get_config(arg: str | None = None):
  args = common.parse_args(arg)
  c = common.base()
  c.ssl = ml_collections.ConfigDict()
  c.ssl.ssgan_ms = ml_collections.ConfigDict(
    {"weight_d": 1.0, "weight_g": 0.2, "fraction": 1.0}
  )
  common.ssgan_la_code_cifar10(c)
  c.disc_iters = 2
  if "quick" in args:
    common.quick(c)
  return c
