"""The Cond-GAN baseline: projection D, labelled data, conditional G, steps.

Cond-GAN is two config switches, `model.generator.norm = "conditional"` and
`model.discriminator.projection = True`, on the ordinary train step.
"""

import functools
import pathlib
import types

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from conftest import run_main
from conftest import tiny_config
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from ssgan_jax import config_lib
from ssgan_jax import errors
from ssgan_jax import input_pipeline
from ssgan_jax import models
from ssgan_jax import preprocess
from ssgan_jax import sampling
from ssgan_jax import state as state_lib
from ssgan_jax import train_step

COND = {
  "model.generator.norm": "conditional",
  "model.discriminator.projection": True,
}


def _cond_config(rotation: bool = False, **overrides):
  c = tiny_config(**{**COND, **overrides})
  if not rotation:
    c.ssl = ml_collections.ConfigDict()
  return c


def _setup(c):
  comps = state_lib.build_components(c)
  return comps, state_lib.init_state(comps, jax.random.key(0))


def _images(n_dis, b, seed=0):
  x = np.random.default_rng(seed).uniform(-1, 1, size=(n_dis, b, 32, 32, 1))
  return jnp.asarray(x, jnp.float32)


def _changed(a, b):
  return any(
    not np.array_equal(x, y)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
  )


# --- The projection ----------------------------------------------------------


def test_class_embed_is_the_sn_normalised_dense_kernel():
  _, d = models.build_models(_cond_config(**{"dataset.num_classes": 3}))
  x = _images(1, 2)[0]
  variables = jax.jit(functools.partial(d.init, train=False))(
    jax.random.key(0), x
  )
  kernel = variables["params"]["class_embed"]["kernel"]  # [K, W]
  assert kernel.shape == (3, 8)
  apply = lambda dm, v: jax.jit(functools.partial(dm.apply, train=False))(v, x)[
    1
  ]
  embed = apply(d, variables)["class_embed"]
  # With SN: the kernel over its (power-iteration) top singular value.
  sigma = np.linalg.svd(np.asarray(kernel), compute_uv=False)[0]
  ratio = np.asarray(kernel) / np.asarray(embed)
  np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-4)
  assert 0.0 < ratio.flat[0] <= sigma * (1 + 1e-4)
  # Without SN: the kernel itself.
  plain = d.clone(spectral_norm=False)
  np.testing.assert_allclose(
    apply(plain, {"params": variables["params"]})["class_embed"],
    kernel,
    rtol=1e-6,
  )


def test_projection_adds_embed_dot_features_to_upright_real_logits():
  # Rotation on half of the examples (fraction 0.5) puts the upright reals
  # at strided columns of the packed D call: the labels must still meet
  # their own images' features.
  c = _cond_config(
    rotation=True,
    **{
      "dataset.num_classes": 3,
      "ssl.rotation.fraction": 0.5,
      "model.discriminator.spectral_norm": False,
    },
  )
  comps, st = _setup(c)
  embed = np.array([[0.0] * 8, [1.0] * 8, [-2.0, 3.0] * 4], np.float32)
  params = jax.tree.map(lambda x: x, st.d.params)
  params["class_embed"] = {"kernel": jnp.asarray(embed)}  # [K=3, W=8]
  st = st.replace(d=st.d.replace(params=params))
  images = _images(1, 8)[0]
  _, extras = comps.discriminator.apply(
    {"params": params, **st.d.variables}, images, train=False
  )
  h = np.asarray(extras["features"])  # [B, W]
  d_update, _ = train_step.make_updates(comps)
  d_update = jax.jit(d_update)
  y1 = jnp.asarray([0, 1, 2, 1, 0, 2, 2, 1], jnp.int32)
  y2 = jnp.asarray([2, 0, 1, 1, 2, 0, 1, 0], jnp.int32)
  _, m1 = d_update(st, images, jax.random.key(1), y1)
  _, m2 = d_update(st, images, jax.random.key(1), y2)
  want = np.mean(np.sum((embed[y1] - embed[y2]) * h, axis=-1))
  got = m1["d/real_logit"] - m2["d/real_logit"]
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  assert abs(want) > 1e-2  # the check is not vacuous
  # Same key: the same fakes with the same labels.
  np.testing.assert_array_equal(m1["d/fake_logit"], m2["d/fake_logit"])


# --- Data --------------------------------------------------------------------


def test_array_source_labels_follow_the_indices():
  images = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1)
  labels = (np.arange(20) * 7 + 3) % 11
  whole = input_pipeline.ArraySource(images, 8, 2, 0, labels=labels)
  for step in (0, 1, 4):
    x, y = whole.host_batch(step, with_labels=True)
    assert y.shape == (2, 8) and y.dtype == np.int32
    idx = whole.indices(step)
    np.testing.assert_array_equal(y, labels[idx])
    np.testing.assert_array_equal(x, whole.host_batch(step))
    # Pixel value = index, so the label is that of the very same example.
    np.testing.assert_array_equal(
      y, labels[np.rint((x[..., 0, 0, 0] + 1) * 127.5).astype(int)]
    )
  parts = [
    input_pipeline.ArraySource(images, 8, 2, 0, i, 2, labels=labels)
    for i in range(2)
  ]
  got = np.concatenate([p.host_batch(3, with_labels=True)[1] for p in parts], 1)
  np.testing.assert_array_equal(got, whole.host_batch(3, with_labels=True)[1])


def test_source_from_config_matches_the_raw_split():
  c = _cond_config(**{"disc_iters": 2})
  src = input_pipeline.create_source(c)
  raw_images, raw_labels = input_pipeline.load_split(c.dataset)
  x, y = src.host_batch(5, with_labels=True)
  idx = src.indices(5)
  np.testing.assert_array_equal(y, raw_labels[idx])
  np.testing.assert_array_equal(x, preprocess.to_float(raw_images[idx]))
  # Unconditional runs keep the images-only default.
  plain = input_pipeline.create_source(tiny_config(**{"disc_iters": 2}))
  np.testing.assert_array_equal(plain.host_batch(5), x)
  with pytest.raises(ValueError, match="without labels"):
    plain.host_batch(5, with_labels=True)


def test_labels_outside_num_classes_are_one_line_data_error():
  c = _cond_config(**{"dataset.num_classes": 5})
  with pytest.raises(
    errors.DataError, match=r"labels in \[0, 9\], outside \[0, 5\)"
  ):
    input_pipeline.create_source(c)


def test_unlabelled_tfds_dataset_is_one_line_data_error(monkeypatch):
  fake = types.SimpleNamespace(
    info=types.SimpleNamespace(features={"image": None})
  )
  monkeypatch.setattr(input_pipeline, "_tfds_builder", lambda dc: fake)
  c = _cond_config(**{"dataset.name": "celeb_a", "dataset.channels": 3})
  with pytest.raises(
    errors.DataError, match="'celeb_a' has no 'label'.*cifar10, imagenet2012"
  ) as e:
    input_pipeline.create_source(c)
  assert "\n" not in str(e.value)


# --- Config ------------------------------------------------------------------


@pytest.mark.parametrize(
  "overrides,match",
  [
    ({"model.generator.norm": "conditional"}, "set both, or neither"),
    ({"model.discriminator.projection": True}, "set both, or neither"),
    ({**COND, "dataset.num_classes": 0}, "num_classes=0 must be a positive"),
  ],
)
def test_validation_errors(overrides, match):
  with pytest.raises(errors.ConfigError, match=match) as e:
    config_lib.validate(tiny_config(**overrides))
  assert "\n" not in str(e.value)


def test_discriminator_without_projection_head_is_rejected():
  """A user-registered D that has no class embedding cannot run Cond-GAN."""

  def no_projection_d(config, heads):
    del config, heads
    return types.SimpleNamespace()  # no `projection` attribute

  models.DISCRIMINATORS.register("no_projection_test")(no_projection_d)
  try:
    c = tiny_config(
      **{**COND, "model.discriminator.name": "no_projection_test"}
    )
    with pytest.raises(
      errors.ConfigError, match="'no_projection_test' has no projection head"
    ) as e:
      config_lib.validate(c)
    assert "\n" not in str(e.value)
  finally:
    models.DISCRIMINATORS.unregister("no_projection_test")


@pytest.mark.parametrize("d_name", sorted(models.DISCRIMINATORS.names()))
def test_every_discriminator_has_a_projection_head(d_name):
  c = tiny_config(**{**COND, "model.discriminator.name": d_name})
  assert models.DISCRIMINATORS.get(d_name)(c, ()).projection


# --- Generator ---------------------------------------------------------------


def test_conditional_generator_depends_on_labels():
  comps, st = _setup(_cond_config())
  # At init every class has gamma = 1, beta = 0; give each its own.
  leaves, tree = jax.tree.flatten(st.g.params)
  keys = jax.random.split(jax.random.key(3), len(leaves))
  params = jax.tree.unflatten(
    tree,
    [
      x + 0.3 * jax.random.normal(k, x.shape) if x.shape[0] == 10 else x
      for x, k in zip(leaves, keys)
    ],
  )
  st = st.replace(g=st.g.replace(params=params), g_ema=None)
  z = jnp.tile(jax.random.normal(jax.random.key(4), (1, 16)), (4, 1))
  gen = jax.jit(functools.partial(state_lib.generate_samples, comps))
  a = np.asarray(gen(st, z, jnp.asarray([0, 0, 1, 7], jnp.int32)))
  # Same z, same label -> same image; another label -> another image.
  np.testing.assert_allclose(a[0], a[1], atol=1e-6)
  assert np.abs(a[0] - a[2]).mean() > 1e-3
  assert np.abs(a[2] - a[3]).mean() > 1e-3
  with pytest.raises(ValueError, match="needs labels"):
    state_lib.generate_samples(comps, st, z)
  # The evaluators' sampler draws uniform labels: same seed, same images.
  mesh = Mesh(np.asarray(jax.devices()[:1]), ("data",))
  draw = lambda: sampling.generate(
    comps, st, mesh, 6, 4, seed=1, progress=False
  )
  first = draw()
  assert first.shape == (6, 32, 32, 1) and np.all(np.isfinite(first))
  np.testing.assert_array_equal(first, draw())


# --- One step on 8 devices ---------------------------------------------------


@pytest.mark.parametrize("rotation", [False, True])
def test_one_step_on_eight_devices(devices8, rotation):
  c = _cond_config(rotation=rotation, **{"batch_size": 16})
  comps, st = _setup(c)
  mesh = Mesh(np.asarray(devices8), ("data",))
  repl = NamedSharding(mesh, P())
  batch = NamedSharding(mesh, P(None, "data"))
  step = jax.jit(
    train_step.make_train_step(comps, mesh),
    in_shardings=(repl, batch, repl, batch),
    out_shardings=(repl, repl),
  )
  src = input_pipeline.create_source(c)
  x, y = src.host_batch(0, with_labels=True)
  x, y = jax.device_put(x, batch), jax.device_put(y, batch)
  new, metrics = step(jax.device_put(st, repl), x, jax.random.key(1), y)
  metrics = jax.device_get(metrics)
  for k, v in metrics.items():
    assert np.isfinite(v), k
  assert ("ssl/rotation/d_loss" in metrics) == rotation
  # The projection embedding and the per-class BN embeddings both learn.
  assert _changed(st.d.params["class_embed"], new.d.params["class_embed"])
  assert _changed(st.g.params["bn_out"], new.g.params["bn_out"])
  assert int(new.step) == 1
  with pytest.raises(ValueError, match="needs the reals' labels"):
    jax.eval_shape(train_step.make_train_step(comps), st, x, jax.random.key(1))


# --- End to end --------------------------------------------------------------


def test_main_trains_cond_gan_quick(tmp_path):
  workdir = pathlib.Path(tmp_path) / "run"
  out = run_main(workdir, config="configs/fashion_mnist_cgan.py:quick")
  assert out.returncode == 0, out.stderr[-3000:]
  steps = sorted(
    int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()
  )
  assert steps == [2, 4]
  assert (workdir / "samples" / "step_0000004.png").exists()
