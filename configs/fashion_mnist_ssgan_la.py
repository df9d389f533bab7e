"""SSGAN-LA on the embedded Fashion-MNIST, sized for a CPU.

  python -m ssgan_jax.main --config configs/fashion_mnist_ssgan_la.py \
      --workdir runs/fmnist_ssgan_la

Identical to configs/fashion_mnist_ssgan.py (model, data, optimiser, budget)
except that the rotation task is replaced by SSGAN-LA (Hou et al., NeurIPS
2021; ssgan_jax/ssl/ssgan_la.py): an 8-way head over (angle, real/fake) and
no plain GAN loss (`loss.weight = 0`), as in the ssgan-la code (PAPER.md
section 6). D's GAN head is still built but gets no gradient.
Expected: untested; compare its FD-FMNIST with fashion_mnist_ssgan.py's.
Variants (comma-separated):
  `la_plus`: LA+ keeps the GAN loss (`loss.weight = 1`).
  `quick`:   a 4-step smoke run.
  `repro`:   the budget of experiments/fashion_mnist_table1.
"""

import ml_collections

from configs import common
from configs import fashion_mnist_ssgan


def get_config(arg: str | None = None):
  args = common.parse_args(arg, known=(*common.VARIANTS, "la_plus"))
  c = fashion_mnist_ssgan.get_config(
    ",".join(sorted(args & set(common.VARIANTS)))
  )
  c.ssl = ml_collections.ConfigDict()
  c.ssl.ssgan_la = ml_collections.ConfigDict(
    {"weight_d": 1.0, "weight_g": 1.0, "fraction": 1.0}
  )
  c.loss.weight = 1.0 if "la_plus" in args else 0.0
  return c
