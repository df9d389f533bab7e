"""SSGAN-MS on the embedded Fashion-MNIST, sized for a CPU.

  python -m ssgan_jax.main --config configs/fashion_mnist_ssgan_ms.py \
      --workdir runs/fmnist_ssgan_ms

Identical to configs/fashion_mnist_ssgan.py (model, data, optimiser, budget)
except that the rotation task is replaced by SSGAN-MS (Tran et al., NeurIPS
2019; ssgan_jax/ssl/ssgan_ms.py): a 5-way head (4 angles + "fake"), D
trained on rotated reals and fakes. Weights lambda_d = 1.0, lambda_g = 0.2
as in the ssgan-la CIFAR10 script (PAPER.md section 6); the GAN loss is
kept. So the two runs differ only in the self-supervised task.
Expected: untested; compare its FD-FMNIST with fashion_mnist_ssgan.py's.
Variants: `:quick` is a 4-step smoke run; `:repro` the budget of
experiments/fashion_mnist_table1.
"""

import ml_collections

from configs import common
from configs import fashion_mnist_ssgan


def get_config(arg: str | None = None):
  args = common.parse_args(arg)
  c = fashion_mnist_ssgan.get_config(
    ",".join(sorted(args & set(common.VARIANTS)))
  )
  c.ssl = ml_collections.ConfigDict()
  c.ssl.ssgan_ms = ml_collections.ConfigDict(
    {"weight_d": 1.0, "weight_g": 0.2, "fraction": 1.0}
  )
  return c
