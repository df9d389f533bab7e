"""Discriminator penalties behind one signature.

  penalty(d_fn, real [B, H, W, C], fake [B, H, W, C], rng) -> scalar

`d_fn(x) -> logits [N]` is a closure over D's current parameters with
statistics frozen (train=False), so a penalty never changes SN state. The
step multiplies the result by `config.penalty.weight`. Penalties see upright
images only (compare_gan).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from ssgan_jax import registry

Penalty = Callable[..., jax.Array]
PENALTIES: registry.Registry[Penalty] = registry.Registry("penalty")


@PENALTIES.register("none")
def no_penalty(d_fn, real, fake, rng):
  del d_fn, real, fake, rng
  return jnp.zeros((), jnp.float32)


@PENALTIES.register("wgan_gp")
def wgan_gp(d_fn, real, fake, rng):
  """Gulrajani et al. 2017: E[(||grad_x D(x_hat)||_2 - 1)^2] on interpolates."""
  eps = jax.random.uniform(rng, (real.shape[0], 1, 1, 1), real.dtype)
  x_hat = eps * real + (1.0 - eps) * fake  # [B, H, W, C]
  grads = jax.grad(lambda x: jnp.sum(d_fn(x)))(x_hat)
  norms = jnp.sqrt(jnp.sum(jnp.square(grads), axis=(1, 2, 3)) + 1e-12)  # [B]
  return jnp.mean(jnp.square(norms - 1.0))


def get(name: str) -> Penalty:
  return PENALTIES.get(name)
