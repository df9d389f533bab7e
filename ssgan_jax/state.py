"""Training state: one pytree of arrays, which is also the checkpoint.

  GANState(step, g=NetState(params, variables, opt_state), d=..., g_ema)

Modules, optimizers and tasks are not in the state; they live in
`Components`, built once from the config and closed over by the train step.
`variables` holds the non-trainable collections (`batch_stats` in G,
`spectral` in D). `step` counts G updates.

A Cond-GAN run (`is_conditional`: class-conditional BN in G plus a
projection discriminator) feeds G labels next to z: `init_state` initialises
it with dummy labels and `generate_samples` takes them as `y`.
"""

import dataclasses
from typing import Any

import flax
import flax.linen as nn
import flax.traverse_util
import jax
import jax.numpy as jnp
import ml_collections
import optax

from ssgan_jax import errors
from ssgan_jax import losses
from ssgan_jax import models
from ssgan_jax import penalties
from ssgan_jax import registry
from ssgan_jax import ssl
from ssgan_jax.models import layers


@flax.struct.dataclass
class NetState:
  params: Any
  variables: Any  # non-trainable collections, e.g. {'batch_stats': ...}
  opt_state: Any


@flax.struct.dataclass
class GANState:
  step: jax.Array  # int32 scalar: number of G updates done
  g: NetState
  d: NetState
  g_ema: Any  # EMA of G params, or None when config.ema.decay == 0


# Learning-rate schedules: (optimizer block, number of updates of that
# net over the run) -> a float or an optax schedule of the update count.
SCHEDULES = registry.Registry("learning-rate schedule")
SCHEDULES.register("constant", lambda c, num_updates: c.learning_rate)


def _linear_decay(c: ml_collections.ConfigDict, num_updates: int):
  """Constant, then linear to 0 over the run's last (1 - decay_start).

  The decay that torch-mimicry's `lr_decay="linear"` and many short-budget
  GAN recipes use; it counts this net's updates (D makes n_dis per G step).
  """
  start = int(round(c.decay_start * num_updates))
  return optax.join_schedules(
    [
      optax.constant_schedule(c.learning_rate),
      optax.linear_schedule(c.learning_rate, 0.0, max(num_updates - start, 1)),
    ],
    [start],
  )


SCHEDULES.register("linear_decay", _linear_decay)

# Optimizers: (optimizer block, learning rate or schedule) -> optax
# transformation.
OPTIMIZERS = registry.Registry("optimizer")
OPTIMIZERS.register(
  "adam",
  lambda c, lr: optax.adam(lr, b1=c.b1, b2=c.b2, eps=c.eps),
)
OPTIMIZERS.register(
  "sgd", lambda c, lr: optax.sgd(lr, momentum=c.get("momentum", None))
)


def make_optimizer(
  config: ml_collections.ConfigDict, net: str
) -> optax.GradientTransformation:
  """The optax transformation of `net` ("g" or "d") from `config.optimizer`.

  Schedules count `net`'s own updates: total_steps for G, total_steps *
  disc_iters for D. A run stopped by `train_minutes` before total_steps ends
  early in its schedule.
  """
  c = config.optimizer[net]
  num_updates = config.total_steps * (config.disc_iters if net == "d" else 1)
  lr = SCHEDULES.get(c.schedule)(c, num_updates)
  return OPTIMIZERS.get(c.name)(c, lr)


def is_conditional(config: ml_collections.ConfigDict) -> bool:
  """Whether `config` is a Cond-GAN run, i.e. G and D read class labels.

  Either switch makes the run need labels; `config_lib.validate` insists on
  both (model.generator.norm="conditional" and
  model.discriminator.projection=True).
  """
  return bool(
    config.model.generator.norm == "conditional"
    or config.model.discriminator.projection
  )


@dataclasses.dataclass(frozen=True)
class Components:
  """Everything static that the step closes over, built from the config."""

  generator: nn.Module
  discriminator: nn.Module
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  tasks: tuple[ssl.SSLTask, ...]
  loss: losses.GANLoss
  penalty: Any
  config: ml_collections.ConfigDict

  @property
  def conditional(self) -> bool:
    """Cond-GAN: G takes labels y [B] and D exposes `class_embed`."""
    return is_conditional(self.config)

  @property
  def num_classes(self) -> int:
    return int(self.config.dataset.num_classes)


def build_components(config: ml_collections.ConfigDict) -> Components:
  tasks = tuple(ssl.build_tasks(config))
  g, d = models.build_models(config, [(t.name, t.num_classes) for t in tasks])
  return Components(
    generator=g,
    discriminator=d,
    g_tx=make_optimizer(config, "g"),
    d_tx=make_optimizer(config, "d"),
    tasks=tasks,
    loss=losses.get(config.loss.name),
    penalty=penalties.get(config.penalty.name),
    config=config,
  )


def apply_net(
  module: nn.Module, net_params, net_vars, *inputs, train: bool, mutable=()
):
  """Applies a module functionally; returns (out, updated collections).

  `inputs` are the module's positional inputs (images for D; z, or z and
  labels y for G). Collections listed in `mutable` come back updated (and
  only when `train`); everything else is unchanged and the input trees are
  never mutated.
  """
  variables = {"params": net_params, **net_vars}
  if train and mutable:
    out, new = module.apply(
      variables, *inputs, train=True, mutable=list(mutable)
    )
    return out, {**net_vars, **new}
  return module.apply(variables, *inputs, train=train), net_vars


# config.model.z_distribution: N(0, I), or U[-1, 1] as compare_gan draws.
Z_DISTRIBUTIONS = ("normal", "uniform")


def check_z_distribution(config: ml_collections.ConfigDict) -> str:
  dist = config.model.z_distribution
  if dist not in Z_DISTRIBUTIONS:
    raise errors.ConfigError(
      f"model.z_distribution={dist!r} is unknown; use 'normal' or 'uniform'."
    )
  return dist


def sample_z(rng: jax.Array, n: int, config: ml_collections.ConfigDict):
  """Latent codes [n, z_dim] from config.model.z_distribution."""
  shape = (n, config.model.z_dim)
  if check_z_distribution(config) == "normal":
    return jax.random.normal(rng, shape, jnp.float32)
  return jax.random.uniform(rng, shape, jnp.float32, -1.0, 1.0)


def sample_latents(
  rng: jax.Array, n: int, config: ml_collections.ConfigDict, num_classes: int
):
  """G's inputs for n samples: (z [n, Z], y [n] int32 or None).

  With `num_classes` > 0 (a Cond-GAN) the classes are drawn uniformly from
  a split of `rng`. The train step and every sampler draw through here, so
  one key gives the same codes everywhere.
  """
  y = None
  if num_classes:
    rng, k_y = jax.random.split(rng)
    y = jax.random.randint(k_y, (n,), 0, num_classes, jnp.int32)  # [n]
  return sample_z(rng, n, config), y  # [n, Z], [n] | None


def init_state(comps: Components, rng: jax.Array) -> GANState:
  """Initialises G and D (and their optimizers) from `rng`."""
  config = comps.config
  g_rng, d_rng = jax.random.split(rng)
  size, ch = config.dataset.image_size, config.dataset.channels
  # A conditional G creates its per-class BN embeddings from labels.
  g_inputs = [jnp.zeros((2, config.model.z_dim), jnp.float32)]
  if comps.conditional:
    g_inputs.append(jnp.zeros((2,), jnp.int32))
  g_vars = comps.generator.init(g_rng, *g_inputs, train=False)
  d_params, d_rest = _init_discriminator(
    comps.discriminator, d_rng, jnp.zeros((2, size, size, ch), jnp.float32)
  )
  g_params, g_rest = _split(g_vars)
  ema = g_params if config.ema.decay > 0 else None
  return GANState(
    step=jnp.zeros((), jnp.int32),
    g=NetState(g_params, g_rest, comps.g_tx.init(g_params)),
    d=NetState(d_params, d_rest, comps.d_tx.init(d_params)),
    g_ema=jax.tree.map(jnp.copy, ema) if ema is not None else None,
  )


def _init_discriminator(discriminator: nn.Module, rng: jax.Array, x):
  """D's (params, other collections) with the initialiser's raw kernels.

  Flax's `nn.SpectralNorm` writes the *normalised* kernel W0 / sigma(W0)
  back into `params` at init, where compare_gan and torch-mimicry store the
  initialiser's draw W0 and normalise only in the forward pass. D's function
  at init is the same either way, but Adam's step is scale-free, so a kernel
  stored at 0.65-0.75x its drawn scale trains ~1.4x faster relative to its
  size: a hidden per-layer learning-rate change. The same D without SN,
  initialised from the same key, draws exactly W0 (the parameter paths and
  RNG streams are the same); its params are kept, and the `spectral`
  collection (u, sigma) comes from the SN init.
  """
  variables = dict(discriminator.init(rng, x, train=False))
  params = variables.pop("params")
  if getattr(discriminator, "spectral_norm", False):
    raw = discriminator.clone(spectral_norm=False).init(rng, x, train=False)
    if jax.tree.structure(raw["params"]) != jax.tree.structure(params):
      raise ValueError(
        f"{type(discriminator).__name__}: params without spectral norm do"
        " not match those with it; cannot store the raw initial kernels"
      )
    params = raw["params"]
  return params, variables


def _split(variables):
  variables = dict(variables)
  params = variables.pop("params")
  return params, variables


# How the EMA generator's BatchNorm layers normalise when it samples
# (config.ema.bn_stats; a G without EMA always uses its running averages).
#   standing: statistics recomputed for the EMA weights before sampling
#     (BigGAN's "standing statistics", Brock et al. 2019): G runs in training
#     mode on ema.standing_batches batches of batch_size fresh codes, and
#     each layer's batch means and variances are pooled over them; samples
#     then use these as running averages, so an image depends on its own
#     code only, not on the sampling batch size or the batch's other codes.
#   batch: each sampled batch's own statistics (scores then move with the
#     sampling batch size; how runs sampled before `bn_stats` existed).
EMA_BN_STATS = ("standing", "batch")
# The key of the standing statistics' codes is fold_in(key(seed), this): a
# stream that no sampling batch index reaches.
STANDING_STREAM = 2**31 - 1


def standing_key(seed: int) -> jax.Array:
  return jax.random.fold_in(jax.random.key(seed), STANDING_STREAM)


def _pool_stats(sums, squares, n: int):
  """Pooled mean/var per BatchNorm from sums over n equal-sized batches.

  var = E_b[var_b] + E_b[mean_b^2] - (E_b[mean_b])^2: the biased variance
  of all n batches' activations together, as Flax's biased batch variance
  is of one batch.
  """
  sums = flax.traverse_util.flatten_dict(flax.core.unfreeze(sums))
  squares = flax.traverse_util.flatten_dict(flax.core.unfreeze(squares))
  out = {}
  for path, total in sums.items():
    mean = sums[path[:-1] + ("mean",)] / n
    if path[-1] == "mean":
      out[path] = mean
    elif path[-1] == "var":
      second = squares[path[:-1] + ("mean",)] / n
      out[path] = jnp.maximum(total / n + second - jnp.square(mean), 0.0)
    else:
      raise ValueError(f"unexpected BatchNorm statistic {'/'.join(path)}")
  return flax.traverse_util.unflatten_dict(out)


def uses_standing_stats(comps: Components, state: GANState) -> bool:
  """Whether `state`'s G samples with standing statistics (standing_state).

  True for an EMA G under ema.bn_stats='standing'; otherwise standing_state
  returns the state unchanged.
  """
  return state.g_ema is not None and comps.config.ema.bn_stats == "standing"


def standing_state(
  comps: Components, state: GANState, key: jax.Array, constrain=None
) -> GANState:
  """`state` whose G samples in eval mode as the EMA G with standing stats.

  A no-op without an EMA or with ema.bn_stats='batch'. Otherwise returns a
  state with `g_ema` None and G's params the EMA weights, its batch_stats
  recomputed for them (see EMA_BN_STATS) from codes of `key`. Traceable:
  `sampling.generate` jits it once per call and samples every batch from
  the result. `constrain`: array -> array, e.g. a sharding constraint that
  splits each code batch over the mesh's data axis.
  """
  if not uses_standing_stats(comps, state):
    return state
  config = comps.config
  ema = config.ema
  num_classes = comps.num_classes if comps.conditional else 0
  constrain = constrain or (lambda a: a)
  zeros = jax.tree.map(jnp.zeros_like, state.g.variables[layers.BATCH_STATS])
  net_vars = {**state.g.variables, layers.BATCH_STATS: zeros}

  def accumulate(acc, i):
    z, y = sample_latents(
      jax.random.fold_in(key, i), config.batch_size, config, num_classes
    )  # [B, Z], [B] | None
    inputs = (constrain(z),) if y is None else (constrain(z), constrain(y))
    _, new = apply_net(
      comps.generator,
      state.g_ema,
      net_vars,
      *inputs,
      train=True,
      mutable=[layers.BATCH_STATS],
    )
    # From zeros, one update leaves (1 - m) * the batch's statistic.
    stats = jax.tree.map(
      lambda v: v / (1.0 - layers.BN_MOMENTUM), new[layers.BATCH_STATS]
    )
    return jax.tree.map(
      jnp.add, acc, (stats, jax.tree.map(jnp.square, stats))
    ), None

  n = ema.standing_batches
  (sums, squares), _ = jax.lax.scan(
    accumulate, (zeros, zeros), jnp.arange(n, dtype=jnp.int32)
  )
  stats = _pool_stats(sums, squares, n)
  g = state.g.replace(
    params=state.g_ema,
    variables={**state.g.variables, layers.BATCH_STATS: stats},
  )
  return state.replace(g=g, g_ema=None)


def generate_samples(
  comps: Components,
  state: GANState,
  z: jax.Array,
  y: jax.Array | None = None,
  standing_seed: int = 0,
):
  """Images [N, H, W, C] from latent codes `z` [N, Z] for grids and metrics.

  A Cond-GAN's G also needs the classes to draw, `y` [N] int32; an
  unconditional G takes none.

  Without an EMA, G runs in eval mode with its BatchNorm running averages.
  With an EMA, the running averages belong to the live weights, not to the
  averaged ones, and using them collapses the samples (measured on the
  default run: every sample became the same blurry top). The EMA weights
  are therefore normalised as config.ema.bn_stats says (EMA_BN_STATS):
  with standing statistics, recomputed here from `standing_key(
  standing_seed)` unless `state` already is a `standing_state`, or with the
  sampled batch's own statistics (discarded, nothing is stored).
  """
  if comps.conditional != (y is not None):
    raise ValueError(
      "a Cond-GAN generator needs labels y, an unconditional one takes none"
    )
  state = standing_state(comps, state, standing_key(standing_seed))
  inputs = (z,) if y is None else (z, y)
  if state.g_ema is None:
    out, _ = apply_net(
      comps.generator, state.g.params, state.g.variables, *inputs, train=False
    )
  else:
    out, _ = apply_net(
      comps.generator,
      state.g_ema,
      state.g.variables,
      *inputs,
      train=True,
      mutable=["batch_stats"],
    )
  return out
