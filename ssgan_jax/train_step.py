"""The pure SS-GAN train step: `disc_iters` D updates, then one G update.

  step_fn = make_train_step(components, mesh)
  state, metrics = step_fn(state, images, rng)  # images [n_dis, B, H, W, C]
  state, metrics = step_fn(state, images, rng, labels)  # Cond-GAN: [n_dis, B]

`train.py` jits it once with explicit shardings and donates `state`. Under
jit the batch axis is global, so BatchNorm statistics and gradient means are
global without any `pmean`.

What each pass does to each variable (tested in tests/train_step_test.py):

| variable            | D update               | G update                    | sampling  |
| ------------------- | ---------------------- | --------------------------- | --------- |
| D params            | gradient step          | read                        | -         |
| D `spectral` (u, s) | advanced, stored       | advanced, stored            | -         |
| G params            | read; fakes under stop_gradient | gradient step, then EMA | EMA   |
| G `batch_stats`     | used, updates discarded | used, updates kept         | running averages |

SN's power iteration advances D's `u` on every D call of training, in G
updates too, as the paper's code (compare_gan) does: with n_dis D updates
`u` takes n_dis + 1 iterations per step. The penalty's extra D calls neither
advance nor store it.

One D call per update sees upright reals, upright fakes and all task views
(packed device-locally by `ssl.layout`); the GAN loss reads upright images
only; each task's loss reads its own views.

Cond-GAN (`comps.conditional`: class-conditional BN in G, projection D):
reals come with their labels y [B]; fakes are drawn from (z, y_fake) with
y_fake uniform over the K classes. D sees no labels: the projection term
`<class_embed[y], h>` (h = D's pooled features) is added to the upright GAN
logits only, with the real labels for reals and y_fake for fakes, so SSL
tasks compose unchanged (their views have no class). A penalty sees D with
the projection of the real labels (compare_gan's conditional penalties).

RNG: `fold_in(rng, step)`, split once into named streams; no key is reused.
Cond-GAN splits each z key into (z, y_fake) keys; only then, so that an
unconditional run draws exactly the codes it always drew.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from ssgan_jax import state as state_lib
from ssgan_jax.models import layers
from ssgan_jax.ssl import layout

Metrics = dict[str, jax.Array]


def _task_keys(rng, tasks):
  return list(jax.random.split(rng, max(1, len(tasks))))[: len(tasks)]


def _step_net(tx, net: state_lib.NetState, grads, new_vars):
  """One optimizer step on `net`, keeping the updated collections."""
  updates, opt_state = tx.update(grads, net.opt_state, net.params)
  params = optax.apply_updates(net.params, updates)
  return state_lib.NetState(params, new_vars, opt_state)


def make_updates(comps: state_lib.Components, mesh: Mesh | None = None):
  """Builds the two pure updates the step is made of.

  Args:
    comps: models, optimizers, tasks, loss and penalty.
    mesh: when given, latent codes are constrained to the batch sharding so
      that every device generates only its own shard of fakes.

  Returns:
    `d_update(state, images [B, H, W, C], rng, labels [B] = None) ->
    (state, metrics)` and `g_update(state, batch_size, rng) -> (state,
    metrics)`; `labels` are the reals' classes, required for Cond-GAN.
  """
  config = comps.config
  g_mod, d_mod = comps.generator, comps.discriminator
  conditional, num_classes = comps.conditional, comps.num_classes
  tasks = list(comps.tasks)
  d_fake_tasks = [t for t in tasks if t.d_uses_fake_views]
  s_all = layout.group_size(tasks)
  gan_w = float(config.loss.weight)
  pen_w = float(config.penalty.weight)
  ema_decay = float(config.ema.decay)
  ema_start = int(config.ema.start_step)

  def constrain(x):
    if mesh is None:
      return x
    spec = P("data", *([None] * (x.ndim - 1)))
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))

  def generate(g_params, g_vars, rng, n, *, train):
    """-> (fakes [n, H, W, C], their labels [n] or None, new G vars)."""
    z, y = state_lib.sample_latents(
      rng, n, config, num_classes if conditional else 0
    )
    z = constrain(z)  # [B, Z]
    inputs = (z,) if y is None else (z, constrain(y))  # [B]
    out, new_vars = state_lib.apply_net(
      g_mod,
      g_params,
      g_vars,
      *inputs,
      train=train,
      mutable=[layers.BATCH_STATS],
    )
    return out, y, new_vars

  def d_apply(d_params, d_vars, x, *, train):
    return state_lib.apply_net(
      d_mod, d_params, d_vars, x, train=train, mutable=[layers.SPECTRAL]
    )

  def project(logit, extras, y, rows, offset):
    """Adds the Cond-GAN projection <class_embed[y], h> to upright logits.

    Args:
      logit: upright GAN logits [B] of one block (reals or fakes).
      extras: D's extras for the whole packed call.
      y: the block's labels [B], or None (unconditional: logit unchanged).
      rows: (G, V), the packed layout of the D call.
      offset: the block's first column (as for `layout.upright`).
    """
    if y is None:
      return logit
    feats = extras["features"].reshape(*rows, -1)  # [G, V, W]
    h = layout.upright(feats, offset, s_all)  # [B, W]
    embed = extras["class_embed"][y]  # [B, W]
    return logit + jnp.sum(embed * h, axis=-1)

  def d_update(st: state_lib.GANState, images, rng, labels=None):
    """One D step on reals `images` [B, H, W, C] (classes `labels` [B])."""
    if conditional != (labels is not None):
      raise ValueError(
        "Cond-GAN's D update needs the reals' labels; an unconditional one"
        " takes none"
      )
    y_real = labels  # in loss_fn, `labels` names SSL view labels
    b = images.shape[0]
    k_z, k_real, k_fake, k_pen = jax.random.split(rng, 4)
    # G in train mode (batch statistics) as in its own update; the BN
    # statistics it computes here are discarded.
    fake, y_fake, _ = generate(st.g.params, st.g.variables, k_z, b, train=True)
    fake = jax.lax.stop_gradient(fake)
    x_real, real_slots = layout.pack(
      tasks, images, _task_keys(k_real, tasks), s_all
    )
    x_fake, fake_slots = layout.pack(
      d_fake_tasks,
      fake,
      _task_keys(k_fake, d_fake_tasks),
      s_all,
      offset=x_real.shape[1],
    )
    x = jnp.concatenate([x_real, x_fake], axis=1)  # [G, Vr + Vf, H, W, C]
    g_rows, v = x.shape[:2]

    def loss_fn(d_params):
      (gan, extras), new_vars = d_apply(
        d_params, st.d.variables, layout.flatten(x), train=True
      )
      gan = gan.reshape(g_rows, v)  # [G, V]
      real_logit = project(
        layout.upright(gan, 0, s_all), extras, y_real, (g_rows, v), 0
      )  # [B]
      fake_logit = project(
        layout.upright(gan, x_real.shape[1], s_all),
        extras,
        y_fake,
        (g_rows, v),
        x_real.shape[1],
      )  # [B]
      d_gan = comps.loss.d(real_logit, fake_logit)

      def d_fn(x_pen):  # [B, H, W, C] -> logits [B], with the real labels
        (logit, ex), _ = d_apply(d_params, st.d.variables, x_pen, train=False)
        if y_real is None:
          return logit
        return logit + jnp.sum(ex["class_embed"][y_real] * ex["features"], -1)

      pen = comps.penalty(d_fn, images, fake, k_pen)
      total = gan_w * d_gan + pen_w * pen
      metrics = {
        "d/gan_loss": d_gan,
        "d/penalty": pen,
        "d/real_logit": jnp.mean(real_logit),
        "d/fake_logit": jnp.mean(fake_logit),
      }
      for task in tasks:
        aux = extras["aux_logits"][task.name].reshape(g_rows, v, -1)
        slot, labels = real_slots[task.name]
        real_l = layout.task_logits(aux, slot, 0, s_all)
        fake_l = None
        if task.d_uses_fake_views:
          fslot, _ = fake_slots[task.name]
          fake_l = layout.task_logits(aux, fslot, x_real.shape[1], s_all)
        t_loss, t_metrics = task.d_loss(real_l, fake_l, labels)
        total = total + task.weight_d * t_loss
        metrics[f"ssl/{task.name}/d_loss"] = t_loss
        metrics.update(
          {f"ssl/{task.name}/{k}": m for k, m in t_metrics.items()}
        )
      metrics["d/loss"] = total
      return total, (new_vars, metrics)

    grads, (new_vars, metrics) = jax.grad(loss_fn, has_aux=True)(st.d.params)
    d = _step_net(comps.d_tx, st.d, grads, new_vars)
    metrics["d/grad_norm"] = optax.tree.norm(grads)
    return st.replace(d=d), metrics

  def g_update(st: state_lib.GANState, b: int, rng):
    k_z, k_views = jax.random.split(rng)

    def loss_fn(g_params):
      fake, y_fake, new_g_vars = generate(
        g_params, st.g.variables, k_z, b, train=True
      )
      x, slots = layout.pack(tasks, fake, _task_keys(k_views, tasks), s_all)
      g_rows, v = x.shape[:2]
      # SN's power iteration advances u in the G pass too (see the table).
      (gan, extras), new_d_vars = d_apply(
        st.d.params, st.d.variables, layout.flatten(x), train=True
      )
      gan = gan.reshape(g_rows, v)
      fake_logit = project(
        layout.upright(gan, 0, s_all), extras, y_fake, (g_rows, v), 0
      )  # [B]
      g_gan = comps.loss.g(fake_logit)
      total = gan_w * g_gan
      metrics = {"g/gan_loss": g_gan}
      for task in tasks:
        aux = extras["aux_logits"][task.name].reshape(g_rows, v, -1)
        slot, labels = slots[task.name]
        t_loss, t_metrics = task.g_loss(
          layout.task_logits(aux, slot, 0, s_all), labels
        )
        total = total + task.weight_g * t_loss
        metrics[f"ssl/{task.name}/g_loss"] = t_loss
        metrics.update(
          {f"ssl/{task.name}/{k}": m for k, m in t_metrics.items()}
        )
      metrics["g/loss"] = total
      return total, (new_g_vars, new_d_vars, metrics)

    grads, (new_vars, new_d_vars, metrics) = jax.grad(loss_fn, has_aux=True)(
      st.g.params
    )
    g = _step_net(comps.g_tx, st.g, grads, new_vars)
    # D's SN state only: D's parameters and optimiser are untouched here.
    d = st.d.replace(variables={**st.d.variables, **new_d_vars})
    params = g.params
    metrics["g/grad_norm"] = optax.tree.norm(grads)
    ema = st.g_ema
    if ema is not None:
      # Before ema.start_step the EMA tracks G exactly (decay 0).
      decay = jnp.where(st.step >= ema_start, ema_decay, 0.0)
      ema = jax.tree.map(
        lambda e, p: decay * e + (1.0 - decay) * p, ema, params
      )
    return st.replace(g=g, d=d, g_ema=ema), metrics

  return d_update, g_update


def make_train_step(
  comps: state_lib.Components, mesh: Mesh | None = None
) -> Callable[..., tuple[state_lib.GANState, Metrics]]:
  """Builds `step(state, images [n_dis, B, H, W, C], rng[, labels]) -> ...`.

  Returns `(state, metrics)`; `labels` [n_dis, B] int32 are the reals'
  classes, given for Cond-GAN only. See `make_updates` for the arguments.
  """
  d_update, g_update = make_updates(comps, mesh)

  def train_step(
    st: state_lib.GANState,
    images: jax.Array,
    rng: jax.Array,
    labels: jax.Array | None = None,
  ):
    """images [n_dis, B, H, W, C] in [-1, 1]; rng: the run's train key."""
    rng = jax.random.fold_in(rng, st.step)
    rng_d, rng_g = jax.random.split(rng)
    n_dis, b = images.shape[:2]
    # A Python loop, not lax.scan: n_dis is small and static, and XLA:CPU
    # runs convolutions inside a while loop ~40x slower (measured: 25 s vs
    # 0.6 s per step at width 32, batch 32).
    d_metrics = []
    for i, key in enumerate(jax.random.split(rng_d, n_dis)):
      y = None if labels is None else labels[i]  # [B]
      st, m = d_update(st, images[i], key, y)
      d_metrics.append(m)
    # Mean over the D updates.
    d_metrics = jax.tree.map(lambda *xs: jnp.mean(jnp.stack(xs)), *d_metrics)
    st, g_metrics = g_update(st, b, rng_g)
    st = st.replace(step=st.step + 1)
    return st, {**d_metrics, **g_metrics}

  return train_step
