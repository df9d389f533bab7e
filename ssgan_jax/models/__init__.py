"""Generator and discriminator registries and `build_models(config)`.

  G, D = build_models(config)
  fake = G.apply(g_vars, z, train=False)               # [B, H, W, C]
  logits, extras = D.apply(d_vars, x, train=False)     # [N], {...}

A new architecture = one module file plus one `GENERATORS.register` /
`DISCRIMINATORS.register` line below. Factories take (config, aux_heads) and
return a Flax module.
"""

import jax.numpy as jnp
import ml_collections

from ssgan_jax import errors
from ssgan_jax import registry
from ssgan_jax.models import conv
from ssgan_jax.models import layers
from ssgan_jax.models import resnet32
from ssgan_jax.models import resnet128
from ssgan_jax.models import sndcgan

GENERATORS = registry.Registry("generator")
DISCRIMINATORS = registry.Registry("discriminator")

# Spatial sizes each architecture produces/accepts.
IMAGE_SIZES = {
  "resnet32": (32,),
  "resnet128": (128,),
  "sndcgan": (32, 48, 64, 128),
}

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(config: ml_collections.ConfigDict):
  name = config.model.compute_dtype
  if name not in _DTYPES:
    raise errors.ConfigError(
      f"model.compute_dtype={name!r} is not supported; use one of "
      + ", ".join(_DTYPES)
      + "."
    )
  return _DTYPES[name]


def conv_impl(config: ml_collections.ConfigDict) -> str:
  """config.model.conv, checked against conv.IMPLS."""
  name = config.model.conv
  if name not in conv.IMPLS:
    raise errors.ConfigError(
      f"model.conv={name!r} is not a convolution algorithm; use one of "
      + ", ".join(conv.IMPLS)
      + "."
    )
  return name


def g_norm(config: ml_collections.ConfigDict) -> str:
  """config.model.generator.norm, checked against layers.G_NORMS."""
  name = config.model.generator.norm
  if name not in layers.G_NORMS:
    raise errors.ConfigError(
      f"unknown model.generator.norm {name!r}; choose one of: "
      + ", ".join(layers.G_NORMS)
      + "."
    )
  return name


def g_norm_kwargs(config: ml_collections.ConfigDict) -> dict:
  """The norm attributes every generator takes: norm, num_classes, hidden."""
  return dict(
    norm=g_norm(config),
    num_classes=config.dataset.num_classes,
    norm_hidden=config.model.generator.norm_hidden,
  )


def _resnet32_g(config):
  return resnet32.Generator32(
    width=config.model.generator.width,
    out_channels=config.dataset.channels,
    dtype=compute_dtype(config),
    conv_impl=conv_impl(config),
    **g_norm_kwargs(config),
  )


def projection_kwargs(config: ml_collections.ConfigDict) -> dict:
  """Cond-GAN: the projection's class embedding (labelled datasets only)."""
  return dict(
    num_classes=config.dataset.num_classes,
    projection=config.model.discriminator.projection,
  )


def _resnet32_d(config, aux_heads):
  return resnet32.Discriminator32(
    width=config.model.discriminator.width,
    aux_heads=tuple(aux_heads),
    spectral_norm=config.model.discriminator.spectral_norm,
    dtype=compute_dtype(config),
    conv_impl=conv_impl(config),
    **projection_kwargs(config),
  )


GENERATORS.register("resnet32", _resnet32_g)
DISCRIMINATORS.register("resnet32", _resnet32_d)


def _resnet128_g(config):
  return resnet128.Generator128(
    width=config.model.generator.width,
    out_channels=config.dataset.channels,
    dtype=compute_dtype(config),
    conv_impl=conv_impl(config),
    **g_norm_kwargs(config),
  )


def _resnet128_d(config, aux_heads):
  return resnet128.Discriminator128(
    width=config.model.discriminator.width,
    aux_heads=tuple(aux_heads),
    spectral_norm=config.model.discriminator.spectral_norm,
    dtype=compute_dtype(config),
    conv_impl=conv_impl(config),
    # compare_gan's resnet5 mean-pools; "sum" is the SNGAN (resnet32) choice.
    pooling=config.model.discriminator.get("pooling", "mean"),
    **projection_kwargs(config),
  )


GENERATORS.register("resnet128", _resnet128_g)
DISCRIMINATORS.register("resnet128", _resnet128_d)


def _sndcgan_g(config):
  return sndcgan.Generator(
    width=config.model.generator.width,
    out_channels=config.dataset.channels,
    image_size=config.dataset.image_size,
    dtype=compute_dtype(config),
    conv_impl=conv_impl(config),
    **g_norm_kwargs(config),
  )


def _sndcgan_d(config, aux_heads):
  return sndcgan.Discriminator(
    width=config.model.discriminator.width,
    aux_heads=tuple(aux_heads),
    spectral_norm=config.model.discriminator.spectral_norm,
    dtype=compute_dtype(config),
    conv_impl=conv_impl(config),
    **projection_kwargs(config),
  )


GENERATORS.register("sndcgan", _sndcgan_g)
DISCRIMINATORS.register("sndcgan", _sndcgan_d)


def build_models(config: ml_collections.ConfigDict, aux_heads=None):
  """Returns (generator, discriminator) Flax modules for `config`.

  Args:
    config: the experiment config.
    aux_heads: (name, num_classes) pairs for D's auxiliary heads; by default
      taken from the self-supervised tasks in `config.ssl`.
  """
  if aux_heads is None:
    from ssgan_jax import ssl  # pylint: disable=g-import-not-at-top

    aux_heads = [(t.name, t.num_classes) for t in ssl.build_tasks(config)]
  g_name = config.model.generator.name
  d_name = config.model.discriminator.name
  g = GENERATORS.get(g_name)(config)
  d = DISCRIMINATORS.get(d_name)(config, aux_heads)
  size = config.dataset.image_size
  for name in (g_name, d_name):
    sizes = IMAGE_SIZES.get(name)
    if sizes is not None and size not in sizes:
      raise errors.ConfigError(
        f"architecture {name!r} handles image sizes {list(sizes)}, but"
        f" dataset.image_size={size}; pick a matching architecture or size."
      )
  return g, d
