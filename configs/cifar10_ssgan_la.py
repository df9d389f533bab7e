"""SSGAN-LA on CIFAR10 in the setting of the ssgan-la CIFAR10 scripts.

  python -m ssgan_jax.main --config configs/cifar10_ssgan_la.py \
      --workdir runs/cifar10_ssgan_la

Needs a GPU/TPU: configs/cifar10_ssgan.py's step already takes ~20 s on 2
CPU cores, and here D also sees the four rotations of every fake, at batch
100 with 4 D updates per G step. Needs TFDS `cifar10` (see
configs/cifar10_ssgan.py). batch_size 100 divides over 1, 2 or 4 devices;
on 8 use e.g. `--config.batch_size=96`.

Method: Hou et al., NeurIPS 2021 (ssgan_jax/ssl/ssgan_la.py): one 8-way
head over (angle, real/fake) and no plain GAN loss (`loss.weight = 0`).
Settings and their sources (PAPER.md section 6; "script" is liang-hou/
ssgan-la `BigGAN-PyTorch/scripts/launch_cifar10_ema_ssganla.sh`):
  n_dis 4, all angles of every image (fraction 1.0), batch 100: PAPER.md
    [V ssgan-la code] (`--num_D_steps 4 --all_T --batch_size 100`).
  task weights 1.0: `ssgan_la` in the code's `train_fns.py` applies none.
  lr 2e-4 for G and D: script.
  50k G steps: script's 400 epochs of 50k images, each G step consuming
    batch x n_dis = 400 reals (BigGAN-PyTorch's `D_batch_size`) [inferred].
  Adam (beta1, beta2) = (0.0, 0.999): the code's parser defaults.
  EMA of G, decay 0.9999 from G step 10k: script `--ema --ema_start 10000`
    and the parser's default `--ema_decay`.
Differs from the script: cross-entropy, where the script passes
`--multi_hinge` (a multi-class hinge ssgan_jax does not implement); the
SN-ResNet of configs/cifar10_ssgan.py, not BigGAN-PyTorch's 32x32 networks.
Expected FID: unchecked. PAPER.md records only a recollection [R]: about 6
on the CIFAR10 test split.
Variants (comma-separated):
  `la_plus`: LA+, which keeps the GAN loss (hinge, `loss.weight = 1`), with
    n_dis 2 and weights 1.0/1.0 as in `launch_cifar10_ema_ssganla_plus.sh`
    (`--num_D_steps 2 --ss_d 1.0 --ss_g 1.0`, 200 epochs = 50k G steps).
  `quick`: a CPU smoke run.
"""

import ml_collections

from configs import common


def get_config(arg: str | None = None):
  args = common.parse_args(arg, known=("quick", "la_plus"))
  c = common.base()
  c.ssl = ml_collections.ConfigDict()
  c.ssl.ssgan_la = ml_collections.ConfigDict(
    {"weight_d": 1.0, "weight_g": 1.0, "fraction": 1.0}
  )
  # Hinge is the code's GAN loss; it is used only by la_plus.
  common.ssgan_la_code_cifar10(c)
  if "la_plus" in args:
    c.loss.weight = 1.0
    c.disc_iters = 2
  else:
    c.loss.weight = 0.0
    c.disc_iters = 4
  if "quick" in args:
    common.quick(c)
  return c
