"""Every config file trains for 2 steps at tiny width (its `:quick` variant).

Real datasets other than the embedded Fashion-MNIST are not on this
machine, so the steps run on random images of the config's shape (and
random labels for Cond-GAN). Configs that differ only in data, seeds or
schedules build the same program; each distinct program (architecture,
method, loss, tasks, image shape) is compiled and stepped once, and every
config is checked to map to one that ran.
"""

import functools
import importlib
import json
import pathlib

import jax
import numpy as np
import pytest
from conftest import REPO

from ssgan_jax import config_lib
from ssgan_jax import state as state_lib
from ssgan_jax import train_step

CONFIGS = sorted(
  p.stem
  for p in (pathlib.Path(REPO) / "configs").glob("*.py")
  if p.stem not in ("__init__", "common")
)


def _quick(name):
  return importlib.import_module(f"configs.{name}").get_config("quick")


def _signature(config) -> str:
  """What determines the compiled step; data names and schedules do not."""
  conditional = config.model.generator.norm == "conditional"
  return json.dumps(
    {
      "model": config.model.to_dict(),
      "ssl": config.ssl.to_dict(),
      "loss": config.loss.to_dict(),
      "penalty": config.penalty.to_dict(),
      "shape": [config.dataset.image_size, config.dataset.channels],
      "classes": config.dataset.num_classes if conditional else 0,
      "batch": config.batch_size,
      "n_dis": config.disc_iters,
      "ema": config.ema.decay > 0,
    },
    sort_keys=True,
    default=str,
  )


SIGNATURES = {}
for _name in CONFIGS:
  SIGNATURES.setdefault(_signature(_quick(_name)), []).append(_name)


def test_every_config_has_a_quick_variant_that_validates():
  assert len(CONFIGS) >= 22
  for name in CONFIGS:
    config = _quick(name)
    config_lib.validate(config)
    assert config.model.generator.width <= 16
    assert config.model.discriminator.width <= 16


@functools.cache
def _step(signature):
  config = _quick(SIGNATURES[signature][0])
  comps = state_lib.build_components(config)
  return config, comps, jax.jit(train_step.make_train_step(comps))


@pytest.mark.parametrize(
  "names", list(SIGNATURES.values()), ids=lambda n: "+".join(n)
)
def test_two_steps(names):
  config, comps, step = _step(_signature(_quick(names[0])))
  st = state_lib.init_state(comps, jax.random.key(0))
  rng = np.random.default_rng(0)
  size, ch = config.dataset.image_size, config.dataset.channels
  shape = (config.disc_iters, config.batch_size, size, size, ch)
  kwargs = {}
  for i in range(2):
    images = rng.uniform(-1, 1, shape).astype(np.float32)
    if config.model.generator.norm == "conditional":
      kwargs["labels"] = rng.integers(
        0, config.dataset.num_classes, shape[:2], dtype=np.int32
      )
    st, metrics = step(st, images, jax.random.key(i), **kwargs)
    bad = [k for k, v in metrics.items() if not np.isfinite(float(v))]
    assert not bad, (names, bad)
  assert int(st.step) == 2
