"""SSGAN-MS and SSGAN-LA: hand-computed losses, D heads, one step each.

Also the shared helpers `one_step` and `head_params`, which
tests/custom_task_test.py reuses.
"""

import functools
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from conftest import tiny_config
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from configs import cifar10_ssgan_la
from configs import cifar10_ssgan_ms
from configs import fashion_mnist_ssgan
from configs import fashion_mnist_ssgan_la
from configs import fashion_mnist_ssgan_ms
from ssgan_jax import config_lib
from ssgan_jax import errors
from ssgan_jax import models
from ssgan_jax import ssl
from ssgan_jax import state as state_lib
from ssgan_jax import train_step
from ssgan_jax.ssl import ssgan_la
from ssgan_jax.ssl import ssgan_ms


def _ce(row, label):
  """-log softmax(row)[label], written out with math (not the code)."""
  return math.log(sum(math.exp(v) for v in row)) - row[label]


def _mean(xs):
  return sum(xs) / len(xs)


# --- SSGAN-MS: 5 classes, 4 = fake. One example, two views (angles 0, 3).
MS_LABELS = [[0, 3]]
MS_REAL = [[[2.0, 0.5, -1.0, 0.0, 1.0], [0.0, 1.0, 0.5, 3.0, -2.0]]]
MS_FAKE = [[[0.1, 0.2, 0.3, 0.4, 2.0], [1.0, -1.0, 0.0, 1.5, 0.5]]]


def _ms():
  return ssgan_ms.SSGANMS({})


def test_ms_d_loss_hand_computed():
  loss, metrics = _ms().d_loss(
    jnp.asarray(MS_REAL), jnp.asarray(MS_FAKE), jnp.asarray(MS_LABELS)
  )
  real, fake = MS_REAL[0], MS_FAKE[0]
  want = _mean([_ce(real[0], 0), _ce(real[1], 3)]) + _mean(
    [_ce(fake[0], 4), _ce(fake[1], 4)]
  )
  np.testing.assert_allclose(float(loss), want, rtol=1e-6)
  # Real angles both right among classes 0-3; neither real called fake;
  # fake view 0 detected (logit 2.0 on class 4), fake view 1 not.
  assert float(metrics["acc_real"]) == 1.0
  assert float(metrics["real_as_fake"]) == 0.0
  assert float(metrics["fake_detect"]) == 0.5


def test_ms_g_loss_hand_computed():
  loss, metrics = _ms().g_loss(jnp.asarray(MS_FAKE), jnp.asarray(MS_LABELS))
  fake = MS_FAKE[0]
  want = _mean([_ce(fake[0], 0), _ce(fake[1], 3)]) - _mean(
    [_ce(fake[0], 4), _ce(fake[1], 4)]
  )
  np.testing.assert_allclose(float(loss), want, rtol=1e-6)
  # The log-sum-exps cancel: the term is logit_4 - logit_k per view,
  # ((2.0 - 0.1) + (0.5 - 1.5)) / 2 = 0.45.
  np.testing.assert_allclose(float(loss), 0.45, rtol=1e-6)
  assert float(metrics["acc_fake"]) == 0.5  # view 1: argmax of 0-3 is 3


# --- SSGAN-LA: 8 classes, 2k = real at angle k, 2k+1 = fake at angle k.
# One example, two views at angles 1 and 2: real targets 2, 4; fake 3, 5.
LA_LABELS = [[1, 2]]
LA_REAL = [
  [
    [0.5, -0.5, 1.5, 0.0, 0.2, 0.1, -1.0, 0.3],
    [0.0, 0.4, 0.3, 0.2, 0.1, 1.2, 0.0, -0.3],
  ]
]
LA_FAKE = [
  [
    [0.1, 0.0, 0.2, 1.0, -0.2, 0.0, 0.3, 0.4],
    [0.0, 0.0, 0.0, 0.0, 0.9, 0.6, 0.0, 0.0],
  ]
]


def _la():
  return ssgan_la.SSGANLA({})


def test_la_d_loss_hand_computed():
  loss, metrics = _la().d_loss(
    jnp.asarray(LA_REAL), jnp.asarray(LA_FAKE), jnp.asarray(LA_LABELS)
  )
  real, fake = LA_REAL[0], LA_FAKE[0]
  want = _mean([_ce(real[0], 2), _ce(real[1], 4)]) + _mean(
    [_ce(fake[0], 3), _ce(fake[1], 5)]
  )
  np.testing.assert_allclose(float(loss), want, rtol=1e-6)
  # Real view 0 -> 2 (right); real view 1 -> 5 (fake at angle 2: wrong, and
  # called fake). Fake view 0 -> 3 (detected); fake view 1 -> 4 (fooled).
  assert float(metrics["acc_real"]) == 0.5
  assert float(metrics["real_as_real"]) == 0.5
  assert float(metrics["fake_detect"]) == 0.5


def test_la_g_loss_hand_computed():
  loss, metrics = _la().g_loss(jnp.asarray(LA_FAKE), jnp.asarray(LA_LABELS))
  fake = LA_FAKE[0]
  want = _mean([_ce(fake[0], 2), _ce(fake[1], 4)]) - _mean(
    [_ce(fake[0], 3), _ce(fake[1], 5)]
  )
  np.testing.assert_allclose(float(loss), want, rtol=1e-6)
  # logit_{2k+1} - logit_{2k}: ((1.0 - 0.2) + (0.6 - 0.9)) / 2 = 0.25.
  np.testing.assert_allclose(float(loss), 0.25, rtol=1e-6)
  assert float(metrics["acc_fake"]) == 0.5  # fake view 1 called real


@pytest.mark.parametrize("task", [_ms(), _la()], ids=["ms", "la"])
def test_views_are_the_four_rotations(task):
  x = np.random.default_rng(0).normal(size=(2, 4, 4, 1)).astype(np.float32)
  views, labels = task.views(jnp.asarray(x), jax.random.key(0))
  assert views.shape == (2, 4, 4, 4, 1)
  np.testing.assert_array_equal(labels, np.tile(np.arange(4), (2, 1)))
  assert task.first_view_is_identity
  assert task.d_uses_fake_views
  for k in range(4):
    np.testing.assert_array_equal(views[:, k], np.rot90(x, k, axes=(1, 2)))


@pytest.mark.parametrize("task", [_ms(), _la()], ids=["ms", "la"])
def test_views_reject_non_square(task):
  with pytest.raises(errors.ConfigError, match="square"):
    task.views(jnp.zeros((2, 4, 6, 1)), jax.random.key(0))


def test_default_and_configured_weights():
  ms = ssgan_ms.SSGANMS({})
  assert (ms.weight_d, ms.weight_g, ms.fraction) == (1.0, 0.2, 1.0)
  ms = ssgan_ms.SSGANMS({"weight_g": 0.5, "fraction": 0.5})
  assert (ms.weight_d, ms.weight_g, ms.stride) == (1.0, 0.5, 2)
  la = ssgan_la.SSGANLA({})
  assert (la.weight_d, la.weight_g) == (1.0, 1.0)
  # A rotation block without weight_g gets the paper's alpha, not 1.0.
  rot = ssl.TASKS.get("rotation")({"weight_d": 1.0})
  assert (rot.weight_d, rot.weight_g, rot.fraction) == (1.0, 0.2, 1.0)


def test_registered_and_unknown_names_listed():
  assert {"rotation", "ssgan_ms", "ssgan_la"} <= set(ssl.TASKS.names())
  with pytest.raises(errors.ConfigError, match="ssgan_la, ssgan_ms"):
    ssl.TASKS.get("ssgan_mz")


def _with_tasks(**blocks):
  c = tiny_config(batch_size=16)
  c.ssl = ml_collections.ConfigDict(blocks)
  return c


@pytest.mark.parametrize("name,k", [("ssgan_ms", 5), ("ssgan_la", 8)])
def test_head_shapes(name, k):
  _, d = models.build_models(_with_tasks(**{name: {}}))
  x = jnp.zeros((3, 32, 32, 1))
  dv = d.init(jax.random.key(0), x, train=False)
  logits, extras = d.apply(dv, x, train=False)
  assert logits.shape == (3,)
  assert set(extras["aux_logits"]) == {name}
  assert extras["aux_logits"][name].shape == (3, k)


# --- One train step on 8 fake devices. ----------------------------------


def one_step(config, devices):
  """Initialises and runs one jitted step as train.py does.

  Args:
    config: the experiment config (batch_size 16, 32x32x1 images).
    devices: the 8 fake CPU devices.

  Returns:
    (state before, state after, metrics as host floats).
  """
  mesh = Mesh(np.asarray(devices), ("data",))
  repl = NamedSharding(mesh, P())
  batch_sh = NamedSharding(mesh, P(None, "data"))  # [n_dis, B, H, W, C]
  comps = state_lib.build_components(config)
  init = jax.jit(
    functools.partial(state_lib.init_state, comps), out_shardings=repl
  )
  before = init(jax.random.key(0))
  step = jax.jit(
    train_step.make_train_step(comps, mesh),
    in_shardings=(repl, batch_sh, repl),
    out_shardings=(repl, repl),
  )
  images = np.random.default_rng(0).uniform(
    -1, 1, (config.disc_iters, config.batch_size, 32, 32, 1)
  )
  images = jax.device_put(jnp.asarray(images, jnp.float32), batch_sh)
  after, metrics = step(before, images, jax.random.key(1))
  metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
  return before, after, metrics


def _changed(a, b):
  return any(
    not np.array_equal(x, y)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
  )


def head_params(params, name):
  """The params of D's head for `name` (`<name>_head`, maybe SN-wrapped)."""
  (key,) = [k for k in params if k.startswith(f"{name}_head")]
  return params[key]


def _check_step(before, after, metrics, names):
  assert all(math.isfinite(v) for v in metrics.values()), metrics
  assert _changed(before.g.params, after.g.params)
  assert _changed(before.d.params, after.d.params)
  for name in names:
    for key in ("d_loss", "g_loss"):
      assert f"ssl/{name}/{key}" in metrics
    assert _changed(
      head_params(before.d.params, name), head_params(after.d.params, name)
    )


def test_ssgan_ms_one_step(devices8):
  before, after, metrics = one_step(_with_tasks(ssgan_ms={}), devices8)
  _check_step(before, after, metrics, ["ssgan_ms"])
  for key in ("acc_real", "real_as_fake", "fake_detect", "acc_fake"):
    assert f"ssl/ssgan_ms/{key}" in metrics
  # The GAN loss is kept: D's GAN head learns.
  assert _changed(
    head_params(before.d.params, "gan"), head_params(after.d.params, "gan")
  )


def test_ssgan_la_one_step_without_gan_loss(devices8):
  c = _with_tasks(ssgan_la={})
  c.loss.weight = 0.0
  before, after, metrics = one_step(c, devices8)
  _check_step(before, after, metrics, ["ssgan_la"])
  for key in ("acc_real", "real_as_real", "fake_detect", "acc_fake"):
    assert f"ssl/ssgan_la/{key}" in metrics
  # loss.weight = 0: the GAN head gets a zero gradient, so Adam leaves it.
  assert not _changed(
    head_params(before.d.params, "gan"), head_params(after.d.params, "gan")
  )


def test_rotation_and_ssgan_ms_compose(devices8):
  c = _with_tasks(rotation={"weight_d": 1.0, "weight_g": 0.2}, ssgan_ms={})
  before, after, metrics = one_step(c, devices8)
  # Each head is its own dense layer, of the task's width (its bias [k]).
  for name, k in (("rotation", 4), ("ssgan_ms", 5)):
    shapes = [
      x.shape for x in jax.tree.leaves(head_params(before.d.params, name))
    ]
    assert (k,) in shapes, (name, shapes)
  _check_step(before, after, metrics, ["rotation", "ssgan_ms"])


# --- Configs. ------------------------------------------------------------


def _fields(c):
  flat = {}

  def walk(prefix, node):
    for k, v in node.items():
      if isinstance(v, ml_collections.ConfigDict):
        walk(f"{prefix}{k}.", v)
      else:
        flat[prefix + k] = v

  walk("", c)
  return flat


@pytest.mark.parametrize(
  "module,arg,name,gan_weight",
  [
    (fashion_mnist_ssgan_ms, None, "ssgan_ms", 1.0),
    (fashion_mnist_ssgan_la, None, "ssgan_la", 0.0),
    (fashion_mnist_ssgan_la, "la_plus", "ssgan_la", 1.0),
    (cifar10_ssgan_ms, None, "ssgan_ms", 1.0),
    (cifar10_ssgan_la, None, "ssgan_la", 0.0),
    (cifar10_ssgan_la, "la_plus", "ssgan_la", 1.0),
  ],
)
def test_configs(module, arg, name, gan_weight):
  c = module.get_config(arg)
  config_lib.validate(c)
  assert list(c.ssl) == [name]
  assert c.loss.weight == gan_weight
  quick = module.get_config("quick" if arg is None else f"quick,{arg}")
  assert quick.batch_size == 8 and quick.model.discriminator.width == 8


@pytest.mark.parametrize(
  "module", [fashion_mnist_ssgan_ms, fashion_mnist_ssgan_la]
)
def test_fashion_mnist_configs_keep_the_ssgan_budget(module):
  # Only the task (and LA's GAN-loss weight) differ from the SS-GAN run.
  ref = _fields(fashion_mnist_ssgan.get_config())
  got = _fields(module.get_config())
  diff = {k for k in ref.keys() | got.keys() if ref.get(k) != got.get(k)}
  assert {k for k in diff if not k.startswith("ssl.")} <= {"loss.weight"}


def test_cifar10_configs_paper_settings():
  ms = cifar10_ssgan_ms.get_config()
  assert (ms.ssl.ssgan_ms.weight_d, ms.ssl.ssgan_ms.weight_g) == (1.0, 0.2)
  assert (ms.disc_iters, ms.batch_size) == (2, 100)
  la = cifar10_ssgan_la.get_config()
  assert (la.disc_iters, la.batch_size, la.ssl.ssgan_la.fraction) == (
    4,
    100,
    1.0,
  )
  assert cifar10_ssgan_la.get_config("la_plus").disc_iters == 2


def test_unknown_variant_is_rejected():
  with pytest.raises(ValueError, match="la_plus"):
    fashion_mnist_ssgan_la.get_config("la_pluss")
