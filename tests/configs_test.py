"""Every config builds, validates, and its tiny variant makes models."""

import importlib
import pathlib

import pytest
from conftest import REPO

from ssgan_jax import config_lib
from ssgan_jax import errors
from ssgan_jax import models

CONFIGS = sorted(
  p.stem
  for p in (pathlib.Path(REPO) / "configs").glob("*.py")
  if p.stem not in ("__init__", "common")
)


def test_there_are_configs():
  assert {
    "fashion_mnist_ssgan",
    "fashion_mnist_gan",
    "cifar10_ssgan",
    "cifar10_gan",
  } <= set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_validates_and_builds(name):
  module = importlib.import_module(f"configs.{name}")
  full = module.get_config()
  config_lib.validate(full)
  quick = module.get_config("quick")
  config_lib.validate(quick)
  g, d = models.build_models(quick)
  assert g is not None and d is not None
  assert full.total_steps > quick.total_steps


def test_cifar10_matches_paper_setting():
  from configs import cifar10_ssgan  # pylint: disable=g-import-not-at-top

  c = cifar10_ssgan.get_config()
  assert (c.batch_size, c.disc_iters, c.total_steps) == (64, 2, 100_000)
  assert (
    c.model.generator.width,
    c.model.discriminator.width,
    c.model.z_dim,
  ) == (256, 128, 128)
  assert (c.optimizer.g.learning_rate, c.optimizer.g.b1, c.optimizer.g.b2) == (
    2e-4,
    0.0,
    0.9,
  )
  assert c.optimizer.d.to_dict() == c.optimizer.g.to_dict()
  assert c.ssl.rotation.weight_g == 0.2 and c.ssl.rotation.weight_d == 1.0


def test_baselines_differ_only_by_ssl():
  from configs import cifar10_gan  # pylint: disable=g-import-not-at-top
  from configs import cifar10_ssgan  # pylint: disable=g-import-not-at-top
  from configs import fashion_mnist_gan  # pylint: disable=g-import-not-at-top
  from configs import fashion_mnist_ssgan  # pylint: disable=g-import-not-at-top

  for gan, ssgan in (
    (cifar10_gan, cifar10_ssgan),
    (fashion_mnist_gan, fashion_mnist_ssgan),
  ):
    a, b = gan.get_config().to_dict(), ssgan.get_config().to_dict()
    assert a.pop("ssl") == {} and b.pop("ssl")
    assert a == b


def test_unknown_variant_is_rejected():
  from configs import fashion_mnist_ssgan  # pylint: disable=g-import-not-at-top

  with pytest.raises(ValueError, match="known variants"):
    fashion_mnist_ssgan.get_config("quik")


@pytest.mark.parametrize(
  "field,value,match",
  [
    ("total_steps", -1, "total_steps=-1 must be a positive integer"),
    ("loss.name", "hing", "choose one of: hinge"),
    ("penalty.name", "gp", "choose one of: none, wgan_gp"),
    ("ema.decay", 1.0, r"ema.decay=1.0 must be in \[0, 1\)"),
    ("optimizer.d.learning_rate", 0.0, "must be > 0"),
    ("model.compute_dtype", "float16", "compute_dtype='float16'"),
  ],
)
def test_bad_fields(field, value, match):
  from conftest import tiny_config  # pylint: disable=g-import-not-at-top

  with pytest.raises(errors.ConfigError, match=match):
    config_lib.validate(tiny_config(**{field: value}))
