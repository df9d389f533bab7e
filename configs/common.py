"""Shared config blocks. Every experiment config starts from `base()`.

Every field is overridable on the command line, e.g.
`--config.total_steps=10 --config.ssl.rotation.weight_g=0.5`.
"""

import ml_collections


def base() -> ml_collections.ConfigDict:
  """The paper's CIFAR10 SS-GAN setting (section 4 of PAPER.md)."""
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.dataset = ml_collections.ConfigDict()
  # "fashion_mnist" is the embedded, checksummed copy in data/; any other
  # name is loaded with tensorflow_datasets.
  c.dataset.name = "cifar10"
  c.dataset.split = "train"
  c.dataset.image_size = 32  # square; the architecture must support it
  c.dataset.channels = 3
  c.dataset.num_classes = 10  # labels (Cond-GAN, probes); 0 = unlabelled
  c.dataset.data_dir = ""  # TFDS data_dir, or the Fashion-MNIST file dir
  c.dataset.download = True  # let TFDS download/prepare when not prepared
  # Load the whole split into host memory: exact, resumable data order.
  # False streams with tf.data (for splits that do not fit in memory).
  c.dataset.in_memory = True
  c.dataset.shuffle_buffer = 10_000  # streaming mode only

  c.batch_size = 64  # global, over all devices and processes
  c.total_steps = 100_000  # counted in G steps (each with disc_iters D steps)
  c.disc_iters = 2  # n_dis: D updates per G update

  c.model = ml_collections.ConfigDict()
  c.model.z_dim = 128
  c.model.z_distribution = "normal"  # or "uniform" (compare_gan: U[-1, 1])
  c.model.compute_dtype = "float32"  # or "bfloat16" (params stay float32)
  # norm: batch_norm (Uncond-GAN, SS-GAN) | self_modulated (SS-GAN (sBN))
  #   | conditional (Cond-GAN: needs dataset.num_classes and labels).
  # norm_hidden: hidden width of the sBN MLP (paper: 32).
  c.model.generator = ml_collections.ConfigDict(
    {"name": "resnet32", "width": 256, "norm": "batch_norm", "norm_hidden": 32}
  )
  c.model.discriminator = ml_collections.ConfigDict(
    {"name": "resnet32", "width": 128, "spectral_norm": True}
  )

  c.loss = ml_collections.ConfigDict()
  c.loss.name = "non_saturating"  # non_saturating | hinge | wasserstein
  c.loss.weight = 1.0  # weight of the GAN loss (0 for SSGAN-LA)
  c.penalty = ml_collections.ConfigDict()
  c.penalty.name = "none"  # none | wgan_gp
  c.penalty.weight = 0.0  # lambda

  c.optimizer = ml_collections.ConfigDict()
  for net in ("g", "d"):
    c.optimizer[net] = ml_collections.ConfigDict(
      {
        "name": "adam",
        "learning_rate": 2e-4,
        "b1": 0.0,
        "b2": 0.9,
        "eps": 1e-8,
      }
    )

  # Self-supervised tasks: name -> block; empty = plain (Uncond-)GAN.
  # rotation: beta = weight_d, alpha = weight_g (compare_gan defaults).
  c.ssl = ml_collections.ConfigDict()
  c.ssl.rotation = ml_collections.ConfigDict(
    {"weight_d": 1.0, "weight_g": 0.2, "fraction": 1.0}
  )

  c.ema = ml_collections.ConfigDict()
  c.ema.decay = 0.0  # 0 disables the EMA of G's weights
  c.ema.start_step = 0  # before this G step the EMA copies G

  c.log_every_steps = 100
  c.checkpoint_every_steps = 5_000
  c.sample_every_steps = 5_000
  c.num_sample_images = 64  # fixed-z grid written as PNG
  c.max_checkpoints_to_keep = 3

  # Evaluation during training (ssgan_jax/evaluation/periodic.py): sample
  # num_samples images every every_steps G steps (0 = off), score them,
  # log `metrics` to TensorBoard as eval/<name> and keep the checkpoint
  # with the best `best_metric` in workdir/best_checkpoint ('' = none).
  # evaluator: fmnist (offline FD-FMNIST family, Fashion-MNIST runs) or
  # inception (FID/IS/KID; needs inception_weights and reference_stats).
  c.eval = ml_collections.ConfigDict()
  c.eval.every_steps = 0
  c.eval.evaluator = "inception"
  c.eval.num_samples = 10_000
  c.eval.batch_size = 512  # a multiple of every power-of-two device count
  c.eval.seed = 0
  c.eval.reference = "cifar10:test"
  c.eval.metrics = ("fid", "inception_score")
  c.eval.best_metric = "fid"
  c.eval.inception_weights = ""  # converted .npz (see docs/fid.md)
  c.eval.reference_stats = ""  # .npz of mu/sigma (see docs/fid.md)

  c.mesh = ml_collections.ConfigDict()
  c.mesh.shape = (-1,)  # -1: all devices
  c.mesh.axes = ("data",)
  return c


def fashion_mnist(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Switches `c` to the embedded Fashion-MNIST (padded 28 -> 32, 1 channel)."""
  c.dataset.name = "fashion_mnist"
  c.dataset.channels = 1
  c.dataset.image_size = 32
  c.dataset.num_classes = 10
  c.eval.evaluator = "fmnist"
  c.eval.reference = "fashion_mnist:test"
  c.eval.metrics = (
    "fd_fmnist",
    "kid_mean",
    "is_fmnist",
    "precision",
    "recall",
    "coverage_tv",
  )
  c.eval.best_metric = "fd_fmnist"
  return c


def quick(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """A CPU smoke run: tiny widths, tiny batch, a few steps."""
  c.batch_size = 8
  c.total_steps = 4
  c.disc_iters = 1
  c.model.z_dim = 16
  c.model.generator.width = 8
  c.model.discriminator.width = 8
  c.log_every_steps = 2
  c.checkpoint_every_steps = 2
  c.sample_every_steps = 2
  c.num_sample_images = 16
  c.eval.every_steps = 0
  return c


def reproduction(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The budget of experiments/fashion_mnist_table1: many seeds on a CPU.

  G/D width 16, 1000 G steps, FD-FMNIST on 2,000 samples every 250 steps
  (the curves), best checkpoint by FD-FMNIST. About 5 minutes per run on an
  idle 2-core CPU. The final 10k-sample scores come from
  `python -m ssgan_jax.evaluate` on the last checkpoint.
  """
  c.total_steps = 1_000
  c.model.generator.width = 16
  c.model.discriminator.width = 16
  c.ema.start_step = 300
  c.checkpoint_every_steps = 250
  c.max_checkpoints_to_keep = 4
  c.sample_every_steps = 500
  c.eval.every_steps = 250
  c.eval.num_samples = 2_000
  return c


VARIANTS = ("quick", "repro")


def apply_variants(c, args: set[str]) -> ml_collections.ConfigDict:
  """Applies the size variants shared by every Fashion-MNIST config."""
  if "repro" in args:
    reproduction(c)
  if "quick" in args:
    quick(c)
  return c


def parse_args(arg: str | None, known=VARIANTS) -> set[str]:
  """'quick' -> {'quick'}; an unknown variant word is a one-line error."""
  args = {a for a in (arg or "").split(",") if a}
  unknown = sorted(args - set(known))
  if unknown:
    raise ValueError(
      f"unknown config variant(s) {unknown}; known variants: {list(known)}"
      " (use e.g. --config configs/fashion_mnist_ssgan.py:quick)."
    )
  return args
