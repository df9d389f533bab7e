"""Uncond-GAN on CelebA-HQ 128x128: paper Table 1 (Chen et al., CVPR 2019).

  python -m ssgan_jax.main --config configs/celeba_hq128_gan.py \
      --workdir runs/celeba_hq128_gan

Paper FID: 23.77 (Table 1; best of 3 seeds, TF Inception; PAPER.md section 5).
Method: no self-supervised task.
Data: celeb_a_hq/128 (TFDS, manual download).
Model: compare_gan's resnet5 128x128 (ch 64, D mean pool); batch 64, n_dis 2,
Adam 2e-4 (0.0, 0.9), non-saturating loss, 1M G steps (PAPER.md does not
record the length; we assume ImageNet's). Needs a GPU/TPU; on a CPU use
`:quick` (4 steps, width 8) to check the setup only.
"""

from configs import common


def get_config(arg: str | None = None):
  return common.table1("celeba_hq128", "gan", arg)
