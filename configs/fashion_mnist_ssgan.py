"""SS-GAN on the embedded Fashion-MNIST: the default job, sized for a CPU.

  python -m ssgan_jax.main --config configs/fashion_mnist_ssgan.py \
      --workdir runs/fmnist_ssgan

Hardware: 2 CPU cores. Runtime: about 20 minutes (see README for the measured
time). Expected: recognisable clothing in workdir/samples/ (the last grid).
Same SN-ResNet family and losses as the paper's CIFAR10 setting, but narrower
(G 32 / D 32 channels, batch 32, n_dis 1) and shorter, so that it runs on a laptop; for paper
scale use configs/cifar10_ssgan.py on a GPU/TPU.
FD-FMNIST on 5,000 samples every 600 steps (workdir/eval/, TensorBoard) and
the best checkpoint by it in workdir/best_checkpoint.
Variants: `:quick` is a 4-step smoke run; `:repro` is the smaller budget of
experiments/fashion_mnist_table1 (width 16, 1000 steps).
"""

from configs import common


def get_config(arg: str | None = None):
  args = common.parse_args(arg)
  c = common.fashion_mnist(common.base())
  c.batch_size = 32
  c.total_steps = 1_800
  c.disc_iters = 1
  c.model.z_dim = 64
  c.model.generator.width = 32
  c.model.discriminator.width = 32
  c.ema.decay = 0.999
  c.ema.start_step = 500
  c.log_every_steps = 100
  c.checkpoint_every_steps = 500
  c.sample_every_steps = 250
  c.eval.every_steps = 600
  c.eval.num_samples = 5_000
  return common.apply_variants(c, args)
