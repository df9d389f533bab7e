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
  # "fashion_mnist" is the embedded, checksummed copy in data/; "folder" a
  # directory of images (dataset.path); any other name is loaded with
  # tensorflow_datasets.
  c.dataset.name = "cifar10"
  c.dataset.split = "train"
  c.dataset.image_size = 32  # square; the architecture must support it
  c.dataset.channels = 3
  c.dataset.num_classes = 10  # labels (Cond-GAN, probes); 0 = unlabelled
  c.dataset.data_dir = ""  # TFDS data_dir, or the Fashion-MNIST file dir
  c.dataset.path = ""  # name 'folder': the directory of images (see README)
  c.dataset.download = True  # let TFDS download/prepare when not prepared
  # Load the whole split into host memory. False reads a TFDS split prepared
  # as ArrayRecord by random access (splits that do not fit in memory); the
  # data order is f(seed, step) either way.
  c.dataset.in_memory = True
  # in_memory=False: reader threads and batches read ahead (record_source).
  c.dataset.read_threads = 8
  c.dataset.prefetch_batches = 4
  # TFDS images -> image_size (ssgan_jax/preprocess.py): center_crop_resize
  # | random_crop_resize | crop_or_pad | none. Rotation comes afterwards.
  c.dataset.preprocess = "center_crop_resize"
  c.dataset.eval_split = "test"  # real images for FID reference statistics

  c.batch_size = 64  # global, over all devices and processes
  c.total_steps = 100_000  # counted in G steps (each with disc_iters D steps)
  c.disc_iters = 2  # n_dis: D updates per G update
  # Wall-clock budget of one invocation's training loop in minutes (0 = none):
  # the run ends at the first log step past it as if total_steps were that
  # step (final log, grid, checkpoint and evaluation). For comparisons of
  # recipes at equal wall time; a resumed run gets a fresh budget.
  c.train_minutes = 0.0

  c.model = ml_collections.ConfigDict()
  c.model.z_dim = 128
  c.model.z_distribution = "normal"  # or "uniform" (compare_gan: U[-1, 1])
  c.model.compute_dtype = "float32"  # or "bfloat16" (params stay float32)
  # Convolution algorithm (ssgan_jax/models/conv.py): "auto" = the fastest
  # measured per layer on CPU (XLA's own on its multi-threaded kernels; the
  # per-layer Winograd / per-tap plan where XLA lacks that option), XLA's
  # own on GPU/TPU; "xla" forces XLA's everywhere, "tuned" the CPU choice
  # everywhere; "taps" / "winograd2" / "winograd4" force one.
  # The same function up to float rounding, so checkpoints are interchangeable.
  c.model.conv = "auto"
  # norm: batch_norm (Uncond-GAN, SS-GAN) | self_modulated (SS-GAN (sBN))
  #   | conditional (Cond-GAN: needs dataset.num_classes and labels).
  # norm_hidden: hidden width of the sBN MLP (paper: 32).
  c.model.generator = ml_collections.ConfigDict(
    {"name": "resnet32", "width": 256, "norm": "batch_norm", "norm_hidden": 32}
  )
  # projection: the Cond-GAN projection D (w.h + <embed(y), h>); needs
  # generator.norm = "conditional" and labels (dataset.num_classes > 0).
  c.model.discriminator = ml_collections.ConfigDict(
    {
      "name": "resnet32",
      "width": 128,
      "spectral_norm": True,
      "projection": False,
    }
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
        # constant | linear_decay (to 0 from decay_start, a fraction of
        # this net's updates over total_steps).
        "schedule": "constant",
        "decay_start": 0.75,
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
  # How the EMA G's BatchNorm normalises when sampling (state.EMA_BN_STATS):
  # standing statistics pooled over standing_batches batches of batch_size
  # codes (BigGAN), or each sampled batch's own ("batch").
  c.ema.bn_stats = "standing"
  c.ema.standing_batches = 16

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
  # Further evaluations during training, by name, each on its own schedule
  # (evaluation/evaluators.py): e.g. c.evals.probe = probe_eval(250) logs a
  # linear probe of every D block to TensorBoard as probe/<metric> and
  # writes workdir/eval/probe/step_<N>.json; the best checkpoint stays
  # eval.best_metric's.
  c.evals = ml_collections.ConfigDict()

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
  for block in c.evals.values():
    block.every_steps = 0
  # No EMA, and one that starts at once when a test turns it on: in a few
  # steps the default's (from step 1,000) would only copy G.
  c.ema.decay = 0.0
  c.ema.start_step = 0
  # Every image gets all its views, so that batch 8 splits over up to 8
  # devices (a fraction 1/n needs batch_size % (devices * n) == 0).
  for task in c.ssl.values():
    if "fraction" in task:
      task.fraction = 1.0
  return c


def reproduction(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The budget of experiments/fashion_mnist_table1: many seeds on a CPU.

  G/D width 16, 1000 G steps, FD-FMNIST on 2,000 samples every 250 steps
  (the curves), best checkpoint by FD-FMNIST. About 5 minutes per run on an
  idle 2-core CPU. The final 10k-sample scores come from
  `python -m ssgan_jax.evaluate` on the last checkpoint.
  """
  # The recipe the committed Table 1 runs used (the default job's before
  # experiments/2026-12-01_default_recipe), pinned so they stay reproducible.
  c.batch_size = 32
  c.disc_iters = 1
  c.loss.name = "non_saturating"
  c.model.z_dim = 64
  for task in c.ssl.values():
    task.fraction = 1.0
  for net in ("g", "d"):
    c.optimizer[net].learning_rate = 2e-4
  c.ema.decay = 0.999
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


def probe_eval(every_steps: int) -> ml_collections.ConfigDict:
  """An `evals` block: the linear probe of D's blocks every `every_steps`.

  Fits on dataset.split and scores top-1 on dataset.eval_split (the whole
  splits: train_limit / test_limit 0), plus each ssl head's accuracy; logs
  every block's test top-1 and every head's top-1 unless `metrics` names
  some (see evaluation/probe.py).
  """
  return ml_collections.ConfigDict(
    {
      "evaluator": "probe",
      "every_steps": every_steps,
      "batch_size": 512,  # a multiple of every power-of-two device count
      "train_limit": 0,
      "test_limit": 0,
      "metrics": (),
    }
  )


def forgetting(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The paper's Fig. 2/3 at CPU scale: 4x the budget, probed 10 times.

  D's linear probe (every block) and the main evaluation both run every
  tenth of the run, so that probe accuracy and FD share their points.
  """
  c.total_steps *= 4
  every = c.total_steps // 10
  c.eval.every_steps = every
  c.checkpoint_every_steps = every
  c.evals.probe = probe_eval(every)
  return c


VARIANTS = ("quick", "repro", "forgetting")


def ssgan_la_code_cifar10(
  c: ml_collections.ConfigDict,
) -> ml_collections.ConfigDict:
  """The CIFAR10 training setting shared by the SSGAN-MS and -LA scripts.

  liang-hou/ssgan-la's BigGAN-PyTorch launch scripts for both methods use
  batch 100, hinge loss, Adam (0.0, 0.999) (the parser's defaults) and an
  EMA of G with decay 0.9999 from G step 10k; both train 50k G steps (see
  each config's docstring for how the epochs convert).
  """
  c.batch_size = 100
  c.total_steps = 50_000
  c.loss.name = "hinge"
  for net in ("g", "d"):
    c.optimizer[net].b1 = 0.0
    c.optimizer[net].b2 = 0.999
  c.ema.decay = 0.9999
  c.ema.start_step = 10_000
  return c


def apply_variants(c, args: set[str]) -> ml_collections.ConfigDict:
  """Applies the size variants shared by every Fashion-MNIST config."""
  if "repro" in args:
    reproduction(c)
  if "forgetting" in args:
    forgetting(c)
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


# --- Paper Table 1: datasets x methods ---------------------------------------

# Paper Table 1 FIDs (PAPER.md section 5): dataset -> method -> FID.
TABLE1_FID = {
  "cifar10": {"gan": 19.73, "cgan": 15.60, "ssgan": 17.11, "ssgan_sbn": 15.65},
  "imagenet128": {
    "gan": 56.67,
    "cgan": 42.91,
    "ssgan": 47.56,
    "ssgan_sbn": 43.87,
  },
  "lsun_bedroom128": {"gan": 16.02, "ssgan": 13.66, "ssgan_sbn": 13.30},
  "celeba_hq128": {"gan": 23.77, "ssgan": 26.11, "ssgan_sbn": 24.36},
}
METHODS = ("gan", "cgan", "ssgan", "ssgan_sbn")
# How results tables and plots name each method's config (the paper's names
# and, for the successor tasks, their papers' names).
METHOD_TITLES = {
  "gan": "Uncond-GAN",
  "ssgan": "SS-GAN",
  "ssgan_sbn": "SS-GAN (sBN)",
  "ssgan_ms": "SSGAN-MS",
  "ssgan_la": "SSGAN-LA",
  "cgan": "Cond-GAN",
}


def method(
  c: ml_collections.ConfigDict, name: str
) -> ml_collections.ConfigDict:
  """Switches `c` (with the rotation task on) to one of the paper's methods.

  gan: Uncond-GAN (no task); cgan: Cond-GAN (conditional BN in G and a
  projection D, no task; needs labels); ssgan: rotation task; ssgan_sbn:
  rotation task and self-modulated BN in G.
  """
  if name not in METHODS:
    raise ValueError(f"unknown method {name!r}; known: {list(METHODS)}")
  if name in ("gan", "cgan"):
    c.ssl = ml_collections.ConfigDict()
  if name == "cgan":
    if not c.dataset.num_classes:
      raise ValueError(f"Cond-GAN needs labels; {c.dataset.name} has none.")
    c.model.generator.norm = "conditional"
    c.model.discriminator.projection = True
  if name == "ssgan_sbn":
    c.model.generator.norm = "self_modulated"
  return c


def resnet128(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """compare_gan's resnet5 128x128 G and D (ch 64), mean-pooled D."""
  c.model.generator.name = "resnet128"
  c.model.generator.width = 64
  c.model.discriminator.name = "resnet128"
  c.model.discriminator.width = 64
  c.model.discriminator.pooling = "mean"
  return c


def imagenet128(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """ImageNet 128x128: TFDS imagenet2012 (manual download), read by index.

  Prepare it as ArrayRecord (`tfds build imagenet2012
  --file_format=array_record --manual_dir DIR`): in_memory=False reads the
  split by random access in the run's (seed, step) order.

  Train: random square crops of 50-100 % of the area, resized (compare_gan's
  "distorted" crop); FID reference: the 50k validation images, central
  square crop. Labels: 1000 classes (Cond-GAN).
  """
  resnet128(c)
  dc = c.dataset
  dc.name = "imagenet2012"
  dc.split = "train"
  dc.eval_split = "validation"
  dc.image_size = 128
  dc.channels = 3
  dc.num_classes = 1000
  dc.in_memory = False  # ~1.3M images do not fit in host memory
  dc.download = False  # manual: put the tars in <data_dir>/downloads/manual
  dc.preprocess = "random_crop_resize"
  c.total_steps = 1_000_000  # "~1M" (PAPER.md section 4)
  c.eval.reference = "imagenet2012:validation"
  c.eval.num_samples = 50_000
  return c


def lsun_bedroom128(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """LSUN-Bedroom 128x128: TFDS lsun/bedroom, unlabelled, read by index.

  Prepared as ArrayRecord (`tfds build lsun/bedroom
  --file_format=array_record`; with download=True that is the format a
  run prepares it in).

  Central 128x128 crop without resizing; the last 1 % of train (~30k
  images) is held out for FID, as compare_gan did.
  """
  resnet128(c)
  dc = c.dataset
  dc.name = "lsun/bedroom"
  dc.split = "train[:99%]"
  dc.eval_split = "train[99%:]"
  dc.image_size = 128
  dc.channels = 3
  dc.num_classes = 0
  dc.in_memory = False
  dc.preprocess = "crop_or_pad"
  c.eval.reference = "lsun/bedroom:train[99%:]"
  c.eval.num_samples = 30_000
  return c


def celeba_hq128(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """CelebA-HQ 128x128: TFDS celeb_a_hq/128 (manual), unlabelled.

  TFDS has only a train split (30k images, already 128x128); the first 27k
  train, the last 3k are the FID reference (our choice: PAPER.md does not
  record the paper's split).
  """
  resnet128(c)
  dc = c.dataset
  dc.name = "celeb_a_hq/128"
  dc.split = "train[:27000]"
  dc.eval_split = "train[27000:]"
  dc.image_size = 128
  dc.channels = 3
  dc.num_classes = 0
  dc.in_memory = False
  dc.download = False  # manual: see the TFDS celeb_a_hq instructions
  dc.preprocess = "none"
  c.eval.reference = "celeb_a_hq/128:train[27000:]"
  c.eval.num_samples = 3_000
  return c


DATASETS = {
  "cifar10": lambda c: c,
  "imagenet128": imagenet128,
  "lsun_bedroom128": lsun_bedroom128,
  "celeba_hq128": celeba_hq128,
}


def table1(dataset: str, method_name: str, arg: str | None = None):
  """The config of one Table 1 cell: base() + dataset block + method."""
  args = parse_args(arg, known=("quick",))
  c = DATASETS[dataset](base())
  method(c, method_name)
  if "forgetting" in args:
    forgetting(c)
  if "quick" in args:
    quick(c)
  return c
