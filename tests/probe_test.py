"""The representation probe: logistic regression, D features, ssl heads.

Units against numbers that can be checked by hand (separable features ->
100 %, random labels -> chance, train-only standardisation), the D side on
the tiny quick-config model and on stub discriminators whose rotation head
is perfect or constant, and `python -m ssgan_jax.evaluate --probe` once on
a run trained for 2 steps.
"""

import dataclasses
import functools
import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import run_module
from conftest import tiny_config

from ssgan_jax import errors
from ssgan_jax import sharding
from ssgan_jax import state as state_lib
from ssgan_jax.evaluation import probe
from ssgan_jax.evaluation import probe_run

# --- Linear probe -------------------------------------------------------------


def test_standardize_uses_train_statistics_only():
  train = np.array([[1.0, 7.0], [3.0, 7.0]])  # mean (2, 7), std (1, 0)
  test = np.array([[5.0, 9.0]])
  train_z, test_z, mean, std = probe.standardize(train, test)
  np.testing.assert_allclose(mean, [2.0, 7.0])
  # A constant feature is only centred (std taken as 1).
  np.testing.assert_allclose(std, [1.0, 1.0])
  np.testing.assert_allclose(train_z, [[-1.0, 0.0], [1.0, 0.0]])
  np.testing.assert_allclose(test_z, [[3.0, 2.0]])  # not re-centred on test


def test_test_split_is_scored_with_train_statistics():
  # One feature whose sign is the class. The test features are the train
  # ones shifted by +10: with the train split's mean the whole test split
  # lands on the positive side (top-1 = 1/2); re-centring on the test
  # split's own mean would hide the shift (top-1 = 1).
  x = np.repeat([[-1.0], [1.0]], 50, axis=0)  # [100, 1]
  y = np.repeat([0, 1], 50)
  fit = probe.fit_linear_probe(x, y, x + 10.0, y, num_classes=2)
  assert fit["top1_train"] == 1.0
  assert fit["top1_test"] == 0.5


def test_separable_features_reach_100_percent():
  rng = np.random.default_rng(0)
  k, n = 4, 400
  y = rng.integers(0, k, 2 * n)
  x = 4.0 * np.eye(k)[y] + 0.3 * rng.normal(size=(2 * n, k))  # [2n, 4]
  # A duplicated and a constant column: the fit must cope with collinear
  # and degenerate features, as D's early blocks give.
  x = np.concatenate([x, x[:, :1], np.ones((2 * n, 1))], axis=1)
  fit = probe.fit_linear_probe(x[:n], y[:n], x[n:], y[n:], num_classes=k)
  assert fit["top1_train"] == 1.0 and fit["top1_test"] == 1.0, fit
  assert fit["converged"] and fit["dim"] == k + 2
  assert fit["loss_test"] < 0.05


def test_random_labels_give_chance():
  rng = np.random.default_rng(1)
  k, n = 10, 3000
  x = rng.normal(size=(2 * n, 16)).astype(np.float32)
  y = rng.integers(0, k, 2 * n)  # independent of x
  fit = probe.fit_linear_probe(x[:n], y[:n], x[n:], y[n:], num_classes=k)
  # Chance is 0.1; the binomial std of a top-1 over 3000 examples is 0.005.
  assert abs(fit["top1_test"] - 1 / k) < 0.03, fit
  assert fit["loss_test"] > np.log(k) - 0.01  # no better than uniform
  # Full-batch L-BFGS from zero weights: the same inputs give the same fit.
  assert (
    probe.fit_linear_probe(x[:n], y[:n], x[n:], y[n:], num_classes=k) == fit
  )


@pytest.mark.parametrize(
  "kwargs,fragment",
  [
    ({"l2": 0.0}, "l2=0.0 must be > 0"),
    ({"test_x": np.zeros((4, 3))}, "train features have 2 dimensions"),
    ({"train_y": np.array([0, 1, 2, 5])}, "labels must be in [0, 3)"),
  ],
)
def test_bad_probe_inputs(kwargs, fragment):
  args = dict(
    train_x=np.zeros((4, 2)),
    train_y=np.array([0, 1, 2, 0]),
    test_x=np.zeros((4, 2)),
    test_y=np.array([0, 1, 2, 0]),
    num_classes=3,
  )
  with pytest.raises(errors.UserError) as e:
    probe.fit_linear_probe(**{**args, **kwargs})
  assert fragment in str(e.value)


# --- D features and the rotation head -----------------------------------------


@pytest.fixture(scope="module")
def tiny():
  """(components, state, mesh) of the quick config's D, freshly initialised."""
  config = tiny_config()
  comps = state_lib.build_components(config)
  # Jitted: an eager init runs op by op and takes several times longer.
  init = jax.jit(functools.partial(state_lib.init_state, comps))
  state = init(jax.random.key(0))
  return comps, state, sharding.make_mesh(config.mesh)


def _images(n, seed=0):
  rng = np.random.default_rng(seed)
  return rng.uniform(-1, 1, (n, 32, 32, 1)).astype(np.float32)


def test_block_features_of_the_tiny_d(tiny):
  comps, state, mesh = tiny
  images = _images(12)
  # 12 images in batches of 8: the last batch is padded and cut again.
  feats = probe.extract_block_features(comps, state, images, 8, mesh)
  width = comps.config.model.discriminator.width
  assert [f.shape for f in feats] == [(12, width)] * 4
  assert all(f.dtype == np.float32 and np.isfinite(f).all() for f in feats)
  whole = probe.extract_block_features(comps, state, images, 16, mesh)
  for a, b in zip(feats, whole, strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  acc = probe.ssl_head_accuracy(comps, state, images, 8, mesh, "rotation")
  assert 0.0 <= acc <= 1.0 and (acc * 4 * 12) % 1 == 0


class _StubD(nn.Module):
  """A D whose rotation logits are the four corner pixels of the image.

  Images carry a bright marker in the top-left corner; `corners[k]` is
  where a rotation by k puts it, so with `perfect` the head is always right.
  Otherwise it always answers 0 (right for exactly one view in four). Its
  SSGAN-LA head puts corner k at class 2k ("real, rotated by k") and 0 at
  the fake classes; its SSGAN-MS head adds a fifth, "fake", class at 0.
  """

  corners: tuple[tuple[int, int], ...]
  perfect: bool = True

  @nn.compact
  def __call__(self, x, *, train):
    del train
    logits = jnp.stack([x[:, i, j, 0] for i, j in self.corners], axis=-1)
    if not self.perfect:
      logits = jnp.zeros_like(logits).at[:, 0].set(1.0)
    zeros = jnp.zeros_like(logits)
    la = jnp.stack([logits, zeros], axis=-1).reshape(logits.shape[0], 8)
    ms = jnp.concatenate([logits, zeros[:, :1]], axis=-1)
    pooled = jnp.mean(x, axis=(1, 2))  # [N, 1]
    return logits[:, 0], {
      "features": pooled,
      "aux_logits": {"rotation": logits, "ssgan_la": la, "ssgan_ms": ms},
      "block_features": (pooled,),
    }


@pytest.mark.parametrize("task", ["rotation", "ssgan_la", "ssgan_ms"])
@pytest.mark.parametrize("perfect,expected", [(True, 1.0), (False, 0.25)])
def test_ssl_head_accuracy_of_a_stub_head(tiny, perfect, expected, task):
  # Each task's head is right when it gives a real view the class of a real
  # view: the angle (rotation, SSGAN-MS), or (angle, real) for SSGAN-LA.
  _, state, mesh = tiny
  config = tiny_config()
  config.ssl = {task: {}}
  comps = state_lib.build_components(config)
  marker = np.zeros((32, 32))
  marker[0, 0] = 1
  # rot90 by k (counter-clockwise) moves the top-left corner to:
  corners = ((0, 0), (31, 0), (31, 31), (0, 31))
  for k, (i, j) in enumerate(corners):
    assert np.rot90(marker, k)[i, j] == 1
  images = _images(10) * 0.5  # interior noise in [-0.5, 0.5]
  images[:, [0, 0, -1, -1], [0, -1, 0, -1]] = -1.0
  images[:, 0, 0] = 1.0
  stub = dataclasses.replace(comps, discriminator=_StubD(corners, perfect))
  stub_state = state.replace(d=state_lib.NetState({}, {}, None))
  acc = probe.ssl_head_accuracy(stub, stub_state, images, 8, mesh, task)
  assert acc == expected


def test_ssl_head_accuracy_needs_the_task(tiny):
  _, state, mesh = tiny
  config = tiny_config()
  config.ssl = {"ssgan_ms": {"weight_d": 1.0, "weight_g": 0.2}}
  comps = state_lib.build_components(config)
  with pytest.raises(errors.UserError) as e:
    probe.ssl_head_accuracy(comps, state, _images(8), 8, mesh, "rotation")
  assert "has no 'rotation' task (its ssl tasks: ssgan_ms)" in str(e.value)


def test_bad_batch_size(tiny):
  comps, state, mesh = tiny
  with pytest.raises(errors.UserError, match="multiple of the 8 device"):
    probe.extract_block_features(comps, state, _images(8), 12, mesh)


@pytest.mark.parametrize(
  "kwargs,fragment",
  [
    ({"images": "a.npz"}, "needs --workdir DIR, not --images"),
    ({}, "--probe needs --workdir DIR"),
    ({"workdir": "w", "sampling_flags": ("seed",)}, "--seed applies only to"),
    ({"workdir": "w", "test_limit": 0}, "--probe_test_limit=0 must be a"),
  ],
)
def test_bad_probe_flags(kwargs, fragment):
  with pytest.raises(errors.UserError) as e:
    probe_run.evaluate(**kwargs)
  assert fragment in str(e.value)


# --- End to end ---------------------------------------------------------------


def _run(module, *args, timeout=300):
  return run_module(module, *args, timeout=timeout)


def test_cli_probes_a_trained_run(tmp_path):
  workdir = tmp_path / "run"
  trained = _run(
    "ssgan_jax.main",
    "--config",
    "configs/fashion_mnist_ssgan.py:quick",
    "--workdir",
    str(workdir),
    "--config.total_steps=2",
  )
  assert trained.returncode == 0, trained.stderr[-3000:]
  out = _run(
    "ssgan_jax.evaluate",
    "--workdir",
    str(workdir),
    "--evaluator",
    "probe",
    "--probe_train_limit",
    "256",
    "--probe_test_limit",
    "128",
  )
  assert out.returncode == 0, out.stderr[-3000:]
  result = json.loads(out.stdout)
  assert result == json.loads(
    (workdir / "eval" / "probe_step_2.json").read_text()
  )
  assert result["step"] == 2 and result["num_blocks"] == 4
  assert (result["num_train"], result["num_test"]) == (256, 128)
  assert result["train_split"] == "fashion_mnist:train"
  assert result["test_split"] == "fashion_mnist:test"
  top1 = [k for k in result if k.endswith("top1") or "/top1_" in k]
  assert len(top1) == 4 * 2 + 1  # train/test per block, rotation
  for i in range(1, 5):
    assert result[f"probe/block{i}/dim"] == 8
  for key in top1:
    assert 0.0 <= result[key] <= 1.0, key
  assert "[N=128 vs fashion_mnist:test]" in out.stderr
  assert result["ssl_tasks"] == ["rotation"]
  assert "rotation head  top1" in out.stderr

  bad = _run("ssgan_jax.evaluate", "--probe", "--images", "x.npz", timeout=120)
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines()[-1] == (
    "error: --probe measures a run's discriminator and needs --workdir"
    " DIR, not --images."
  )


def test_probe_reads_its_splits_and_heads_from_the_config(tmp_path):
  # Splits: dataset.split to fit, dataset.eval_split to score; heads: every
  # task in config.ssl (here two), none of them named by the probe.
  from ssgan_jax import train  # pylint: disable=g-import-not-at-top

  workdir = tmp_path / "run"
  config = tiny_config(total_steps=2)
  config.ssl.ssgan_ms = {}
  config.dataset.eval_split = "train"  # any split the dataset has
  train.train_and_evaluate(config, str(workdir))
  result = probe_run.probe_workdir(
    workdir, train_limit=64, test_limit=32, batch_size=16, progress=False
  )
  assert result["ssl_tasks"] == ["rotation", "ssgan_ms"]
  for name in result["ssl_tasks"]:
    assert 0.0 <= result[f"probe/{name}/top1"] <= 1.0
  assert result["test_split"] == "fashion_mnist:train"
  assert (result["num_train"], result["num_test"]) == (64, 32)
  assert "ssgan_ms head  top1" in probe_run.summary(result)


def test_the_probe_refuses_unlabelled_images(monkeypatch):
  from ssgan_jax import input_pipeline  # pylint: disable=g-import-not-at-top

  monkeypatch.setattr(
    input_pipeline,
    "load_split",
    lambda dc, split, workdir=None: (
      np.zeros((4, 32, 32, 1), np.uint8),
      np.array([0, 1, -1, 2], np.int32),
    ),
  )
  with pytest.raises(errors.UserError, match="needs labelled images"):
    probe.load_labelled(tiny_config().dataset, "train")
