"""GAN losses behind one signature.

Each loss is a `GANLoss(d, g)` pair of pure functions over D's logits:

  d(real_logits [B], fake_logits [B]) -> scalar   # minimised by D
  g(fake_logits [B]) -> scalar                    # minimised by G

The pair is split because D and G are updated in separate passes (the G pass
never computes logits of real images). Select by `config.loss.name`.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ssgan_jax import registry


class GANLoss(NamedTuple):
  d: Callable[[jax.Array, jax.Array], jax.Array]
  g: Callable[[jax.Array], jax.Array]


LOSSES: registry.Registry[GANLoss] = registry.Registry("loss")


# Non-saturating (Goodfellow et al. 2014): D is a logistic classifier, G
# maximises log D(G(z)). softplus(-x) = -log sigmoid(x), computed stably.
LOSSES.register(
  "non_saturating",
  GANLoss(
    d=lambda r, f: jnp.mean(jax.nn.softplus(-r)) + jnp.mean(jax.nn.softplus(f)),
    g=lambda f: jnp.mean(jax.nn.softplus(-f)),
  ),
)

# Hinge (Lim & Ye 2017; Miyato et al. 2018), torch-mimicry's SSGAN default.
LOSSES.register(
  "hinge",
  GANLoss(
    d=lambda r, f: (
      jnp.mean(jax.nn.relu(1.0 - r)) + jnp.mean(jax.nn.relu(1.0 + f))
    ),
    g=lambda f: -jnp.mean(f),
  ),
)

# Wasserstein (Arjovsky et al. 2017); pair it with a Lipschitz constraint
# (spectral norm or the WGAN-GP penalty).
LOSSES.register(
  "wasserstein",
  GANLoss(
    d=lambda r, f: jnp.mean(f) - jnp.mean(r),
    g=lambda f: -jnp.mean(f),
  ),
)


def get(name: str) -> GANLoss:
  return LOSSES.get(name)
