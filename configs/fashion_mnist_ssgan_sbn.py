"""SS-GAN (sBN) on the embedded Fashion-MNIST, sized for a CPU.

  python -m ssgan_jax.main --config configs/fashion_mnist_ssgan_sbn.py \
      --workdir runs/fmnist_ssgan_sbn

Identical to configs/fashion_mnist_ssgan.py except that every BatchNorm of G
is self-modulated (`model.generator.norm = "self_modulated"`): gamma(z) and
beta(z) come from a per-layer MLP with 32 hidden units (PAPER.md section 2,
the paper's best unconditional method, Table 1 "SS-GAN (sBN)").
Variants: `:quick` is a 4-step smoke run; `:repro` the budget of
experiments/fashion_mnist_table1.
"""

from configs import fashion_mnist_ssgan


def get_config(arg: str | None = None):
  c = fashion_mnist_ssgan.get_config(arg)
  c.model.generator.norm = "self_modulated"
  return c
