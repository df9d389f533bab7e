"""The worked example of docs/adding_a_task.md, run straight from the guide.

The test executes the guide's first Python block, which defines and
registers a horizontal-flip task, then checks it against hand-computed
numbers and trains one step with it. The package does not ship the task, so
this proves that a new task needs no edit to the package, and keeps the
guide's code from going stale.
"""

import math
import pathlib
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from conftest import REPO
from conftest import tiny_config
from ssl_tasks_test import head_params
from ssl_tasks_test import one_step

from ssgan_jax import models
from ssgan_jax import ssl

GUIDE = pathlib.Path(REPO) / "docs" / "adding_a_task.md"


def guide_code() -> str:
  """The first ```python block of the guide."""
  match = re.search(r"```python\n(.*?)```", GUIDE.read_text(), re.DOTALL)
  assert match, f"no ```python block in {GUIDE}"
  return match.group(1)


@pytest.fixture
def hflip():
  """Runs the guide's code (which registers "hflip"); unregisters after."""
  assert "hflip" not in ssl.TASKS  # not part of the package
  namespace = {"__name__": "guide_hflip"}
  try:
    exec(compile(guide_code(), str(GUIDE), "exec"), namespace)
    yield namespace["HorizontalFlip"]
  finally:
    ssl.TASKS.unregister("hflip")


def _ce(row, label):
  """-log softmax(row)[label], written out with math (not the code)."""
  return math.log(sum(math.exp(v) for v in row)) - row[label]


def _config():
  c = tiny_config(batch_size=16)
  c.ssl = ml_collections.ConfigDict(
    {"hflip": {"weight_d": 1.0, "weight_g": 0.2, "fraction": 1.0}}
  )
  return c


def test_guide_registers_the_task(hflip):
  assert ssl.TASKS.get("hflip") is hflip
  (task,) = ssl.build_tasks(_config())
  assert isinstance(task, hflip)
  assert (task.name, task.weight_d, task.weight_g) == ("hflip", 1.0, 0.2)


def test_views_are_identity_and_mirror(hflip):
  task = hflip({})
  x = np.random.default_rng(0).normal(size=(3, 4, 4, 2)).astype(np.float32)
  views, labels = task.views(jnp.asarray(x), jax.random.key(0))
  assert views.shape == (3, 2, 4, 4, 2)
  np.testing.assert_array_equal(labels, [[0, 1]] * 3)
  np.testing.assert_array_equal(views[:, 0], x)  # first_view_is_identity
  for b in range(3):
    np.testing.assert_array_equal(views[b, 1], np.fliplr(x[b]))


def test_losses_hand_computed(hflip):
  task = hflip({})
  labels = jnp.asarray([[0, 1], [0, 1]])
  logits = [[[2.0, 0.0], [1.0, -1.0]], [[0.5, 0.5], [-2.0, 1.0]]]
  want = sum(_ce(row, k) for ex in logits for k, row in enumerate(ex)) / 4
  d, d_metrics = task.d_loss(jnp.asarray(logits), None, labels)
  g, g_metrics = task.g_loss(jnp.asarray(logits), labels)
  np.testing.assert_allclose(float(d), want, rtol=1e-6)
  np.testing.assert_allclose(float(g), want, rtol=1e-6)
  # argmax: 0 (right), 0 (wrong), 0 (tie -> first index, right), 1 (right).
  assert float(d_metrics["acc_real"]) == 0.75
  assert float(g_metrics["acc_fake"]) == 0.75


def test_head_is_built(hflip):
  del hflip
  _, d = models.build_models(_config())
  x = jnp.zeros((2, 32, 32, 1))
  dv = d.init(jax.random.key(0), x, train=False)
  _, extras = d.apply(dv, x, train=False)
  assert extras["aux_logits"]["hflip"].shape == (2, 2)


def test_one_train_step(hflip, devices8):
  del hflip
  before, after, metrics = one_step(_config(), devices8)
  assert all(math.isfinite(v) for v in metrics.values()), metrics
  for key in ("d_loss", "g_loss", "acc_real", "acc_fake"):
    assert f"ssl/hflip/{key}" in metrics
  for net in ("g", "d"):
    old = jax.tree.leaves(getattr(before, net).params)
    new = jax.tree.leaves(getattr(after, net).params)
    assert any(not np.array_equal(a, b) for a, b in zip(old, new)), net
  head = lambda st: jax.tree.leaves(head_params(st.d.params, "hflip"))
  assert any(
    not np.array_equal(a, b) for a, b in zip(head(before), head(after))
  )
