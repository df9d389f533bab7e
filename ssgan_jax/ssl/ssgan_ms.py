"""SSGAN-MS: rotation with a "fake" class (Tran et al., NeurIPS 2019).

  config.ssl.ssgan_ms = {"weight_d": 1.0, "weight_g": 0.2, "fraction": 1.0}

SS-GAN's rotation task lets G win by making fakes whose rotation is easy to
tell, whether or not they look real (mode collapse onto "rotatable" images).
SSGAN-MS ("multi-class minimax") gives the rotation head a fifth class,
"fake": D learns the angle of rotated reals and to put every rotated fake in
class 4, so G is rewarded only by fakes that D takes for real *and* whose
angle it recognises. The plain GAN loss is kept.

Head: 5 logits; classes 0-3 = k counter-clockwise quarter turns (as in
`rotation.rotate4`), class 4 = fake. With T_k the rotation by k:

  D: CE(C(T_k real), k) + CE(C(T_k fake), 4)
  G: CE(C(T_k fake), k) - CE(C(T_k fake), 4)

as in the ssgan-la code (`train_fns.py`, loss `ssgan_ms`), which PAPER.md
section 6 follows; the authors' own msgan code differs (see PAPER.md). Each
CE averages over examples and views. The G term equals
`logit_4 - logit_k` per view, so it is unbounded below: like the
Wasserstein G loss it relies on D keeping the logits in check.
"""

import jax.numpy as jnp

from ssgan_jax.ssl import base
from ssgan_jax.ssl import rotation

FAKE_CLASS = 4


class SSGANMS(base.SSLTask):
  """Four angles plus a fake class; D learns on reals and fakes.

  Defaults (used when the config block omits them): weight_d = 1.0,
  weight_g = 0.2, the values of the ssgan-la CIFAR10 script (`--ss_d 1.0
  --ss_g 0.2`).
  """

  name = "ssgan_ms"
  num_classes = 5
  first_view_is_identity = True
  d_uses_fake_views = True
  DEFAULTS = {**base.SSLTask.DEFAULTS, "weight_g": 0.2}

  def views(self, images, rng):
    del rng  # deterministic views
    return rotation.rotate4(images)  # [B, 4, H, W, C], [B, 4]

  def d_loss(self, real_logits, fake_logits, labels):
    """real_logits, fake_logits [B, 4, 5]; labels [B, 4] = angle k."""
    fake_labels = jnp.full_like(labels, FAKE_CLASS)  # [B, 4]
    angle = base.cross_entropy(real_logits, labels)  # reals: their angle
    fake = base.cross_entropy(fake_logits, fake_labels)  # fakes: class 4
    return angle + fake, {
      # Angle accuracy among the 4 angle classes only, so that it stays
      # comparable with the rotation task's acc_real.
      "acc_real": base.accuracy(real_logits[..., :FAKE_CLASS], labels),
      "real_as_fake": base.accuracy(real_logits, fake_labels),
      "fake_detect": base.accuracy(fake_logits, fake_labels),
    }

  def g_loss(self, fake_logits, labels):
    """fake_logits [B, 4, 5]; labels [B, 4] = angle k."""
    fake_labels = jnp.full_like(labels, FAKE_CLASS)
    # Rewarded when D reads the angle, penalised when D says "fake".
    angle = base.cross_entropy(fake_logits, labels)
    fake = base.cross_entropy(fake_logits, fake_labels)
    return angle - fake, {
      "acc_fake": base.accuracy(fake_logits[..., :FAKE_CLASS], labels),
    }
