"""SSGAN-LA: label-augmented discriminator (Hou et al., NeurIPS 2021).

  config.ssl.ssgan_la = {"weight_d": 1.0, "weight_g": 1.0, "fraction": 1.0}
  config.loss.weight = 0.0  # SSGAN-LA; 1.0 keeps the GAN loss ("LA+")

Instead of a separate real/fake head and rotation head, D gets one 8-way
head over the joint label (angle, real or fake): index 2k = real rotated by
k quarter turns, 2k + 1 = fake rotated by k. D learns the joint
distribution, so the self-supervised signal and the GAN signal cannot pull
apart, and G, which asks D to call its rotated fakes real at the right
angle, is driven towards the data distribution (the paper's argument for
dropping the plain GAN loss). With T_k the rotation by k and C the head:

  D: CE(C(T_k real), 2k) + CE(C(T_k fake), 2k + 1)
  G: CE(C(T_k fake), 2k) - CE(C(T_k fake), 2k + 1)

as in the ssgan-la code (`train_fns.py`, losses `ssgan_la` and
`ssgan_la_plus` without `--multi_hinge`). Each CE averages over examples and
views. The G term equals `logit_{2k+1} - logit_{2k}` per view.

The GAN loss is switched off by the config (`loss.weight = 0`), not here,
so the same task also serves LA+, which keeps it.
"""

import jax.numpy as jnp

from ssgan_jax.ssl import base
from ssgan_jax.ssl import rotation


def real_label(angle):
  """Angle label k [..] -> head index of "real, rotated by k" (2k)."""
  return 2 * angle


def fake_label(angle):
  """Angle label k [..] -> head index of "fake, rotated by k" (2k + 1)."""
  return 2 * angle + 1


class SSGANLA(base.SSLTask):
  """One 8-way head over (angle, real/fake); D learns on reals and fakes.

  Defaults: weight_d = weight_g = 1.0 (the ssgan-la code applies no weight
  in `ssgan_la`, and `--ss_d 1.0 --ss_g 1.0` in its LA+ script).
  """

  name = "ssgan_la"
  num_classes = 8
  first_view_is_identity = True
  d_uses_fake_views = True

  def views(self, images, rng):
    del rng  # deterministic views
    return rotation.rotate4(images)  # [B, 4, H, W, C], [B, 4]

  def real_correct(self, real_logits, labels):
    return jnp.argmax(real_logits, axis=-1) == real_label(labels)

  def d_loss(self, real_logits, fake_logits, labels):
    """real_logits, fake_logits [B, 4, 8]; labels [B, 4] = angle k."""
    as_real = base.cross_entropy(real_logits, real_label(labels))
    as_fake = base.cross_entropy(fake_logits, fake_label(labels))
    # Real/fake accuracy regardless of angle: odd indices are fake.
    real_ok = jnp.mean(
      (jnp.argmax(real_logits, -1) % 2 == 0).astype(jnp.float32)
    )
    return as_real + as_fake, {
      "acc_real": base.accuracy(real_logits, real_label(labels)),
      "fake_detect": base.accuracy(fake_logits, fake_label(labels)),
      "real_as_real": real_ok,
    }

  def g_loss(self, fake_logits, labels):
    """fake_logits [B, 4, 8]; labels [B, 4] = angle k."""
    # Rewarded for "real at angle k", penalised for "fake at angle k".
    as_real = base.cross_entropy(fake_logits, real_label(labels))
    as_fake = base.cross_entropy(fake_logits, fake_label(labels))
    # Share of fake views that D calls real at the right angle.
    return as_real - as_fake, {
      "acc_fake": base.accuracy(fake_logits, real_label(labels))
    }
