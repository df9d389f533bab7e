"""SS-GAN's rotation task (Chen et al., CVPR 2019).

  views, labels = rotate4(images)   # [B, H, W, C] -> [B, 4, H, W, C], [B, 4]

Label k means `jnp.rot90(x, k, axes=(1, 2))`: k counter-clockwise quarter
turns, as in compare_gan and torch-mimicry. D learns to predict the angle of
real images (weight_d = beta = 1.0); G is rewarded when D predicts the angle
of its fakes (weight_g = alpha = 0.2). D never trains on rotated fakes.
"""

import jax
import jax.numpy as jnp

from ssgan_jax import errors
from ssgan_jax.ssl import base


def rotate4(images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Stacks the four rotations of each image on a new axis 1.

  The views stay on the example's own row, so with the batch sharded over
  devices every device rotates only its own shard (no communication).

  Args:
    images: [B, H, W, C] with H == W.

  Returns:
    views [B, 4, H, W, C] (view k = rot90 by k) and int32 labels [B, 4].
  """
  if images.ndim != 4:
    raise errors.UserError(
      f"rotate4 expects images [B, H, W, C], got shape {images.shape}."
    )
  if images.shape[1] != images.shape[2]:
    raise errors.ConfigError(
      f"rotation needs square images, got {images.shape[1]}x"
      f"{images.shape[2]}; crop or resize the dataset to a square"
      " dataset.image_size."
    )
  views = jnp.stack(
    [jnp.rot90(images, k, axes=(1, 2)) for k in range(4)], axis=1
  )  # [B, 4, H, W, C]
  labels = jnp.broadcast_to(jnp.arange(4, dtype=jnp.int32), views.shape[:2])
  return views, labels


class Rotation(base.SSLTask):
  """Predict which of 4 rotations was applied; real for D, fake for G."""

  name = "rotation"
  num_classes = 4
  first_view_is_identity = True
  d_uses_fake_views = False
  # The paper's alpha (weight_g) 0.2 and beta (weight_d) 1.0.
  DEFAULTS = {**base.SSLTask.DEFAULTS, "weight_g": 0.2}

  def views(self, images, rng):
    del rng  # deterministic views
    return rotate4(images)

  def d_loss(self, real_logits, fake_logits, labels):
    del fake_logits  # D trains the rotation head on real images only.
    return base.cross_entropy(real_logits, labels), {
      "acc_real": base.accuracy(real_logits, labels)
    }

  def g_loss(self, fake_logits, labels):
    return base.cross_entropy(fake_logits, labels), {
      "acc_fake": base.accuracy(fake_logits, labels)
    }
