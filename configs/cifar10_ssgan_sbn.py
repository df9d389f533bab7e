"""SS-GAN (sBN) on CIFAR10 32x32: paper Table 1 (Chen et al., CVPR 2019).

  python -m ssgan_jax.main --config configs/cifar10_ssgan_sbn.py \
      --workdir runs/cifar10_ssgan_sbn

Paper FID: 15.65 (Table 1; best of 3 seeds, TF Inception; PAPER.md section 5).
Method: rotation task and self-modulated BN in G (hidden 32).
Data: cifar10 (TFDS).
Model: SN-ResNet 32x32 (G 256, D 128); batch 64, n_dis 2, Adam 2e-4 (0.0,
0.9), non-saturating loss, 100k G steps. Needs a GPU/TPU; on a CPU use
`:quick` (4 steps, width 8) to check the setup only.
"""

from configs import common


def get_config(arg: str | None = None):
  return common.table1("cifar10", "ssgan_sbn", arg)
