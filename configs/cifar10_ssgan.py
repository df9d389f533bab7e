"""SS-GAN on CIFAR10, the paper's setting (Chen et al., CVPR 2019, section 4).

  python -m ssgan_jax.main --config configs/cifar10_ssgan.py \
      --workdir runs/cifar10_ssgan

Needs a GPU/TPU: one step (2 D + 1 G updates with rotation, batch 64) takes
~20 s on 2 CPU cores, so 100k steps are days of accelerator time and years of
CPU. Needs TFDS `cifar10` (downloaded on a connected machine, or prepared in
`--config.dataset.data_dir`).
Setting: SN-ResNet 32x32 (G 256, D 128, z 128), batch 64, Adam 2e-4
(beta1, beta2) = (0.0, 0.9), n_dis 2, 100k G steps, non-saturating loss,
rotation weights alpha (G) = 0.2, beta (D) = 1.0, all four angles of every
image (fraction 1.0).
Expected FID (10k test split, TF Inception): paper Table 1 17.11 (best of 3),
Table 2 17.88 +- 0.64 (mean of 3 seeds); Uncond-GAN 19.73.
"""

from configs import common


def get_config(arg: str | None = None):
  args = common.parse_args(arg)
  c = common.base()  # the paper's setting
  if "quick" in args:
    common.quick(c)
  return c
