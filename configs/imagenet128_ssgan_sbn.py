"""SS-GAN (sBN) on ImageNet 128x128: paper Table 1 (Chen et al., CVPR 2019).

  python -m ssgan_jax.main --config configs/imagenet128_ssgan_sbn.py \
      --workdir runs/imagenet128_ssgan_sbn

Paper FID: 43.87 (Table 1; best of 3 seeds, TF Inception; PAPER.md section 5).
Method: rotation task and self-modulated BN in G (hidden 32).
Data: imagenet2012 (TFDS, manual download into <data_dir>/downloads/manual).
Model: compare_gan's resnet5 128x128 (ch 64, D mean pool); batch 64, n_dis 2,
Adam 2e-4 (0.0, 0.9), non-saturating loss, ~1M G steps. Needs a GPU/TPU; on a
CPU use `:quick` (4 steps, width 8) to check the setup only.
"""

from configs import common


def get_config(arg: str | None = None):
  return common.table1("imagenet128", "ssgan_sbn", arg)
