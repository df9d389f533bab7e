"""Every config field is read by the package: a field nobody reads is a
setting that silently does nothing (a static check over the source)."""

import pathlib
import re

import pytest

import ssgan_jax
from configs import common

CONFIGS = sorted(
  p.stem
  for p in (pathlib.Path(common.__file__).parent).glob("*.py")
  if p.stem not in ("__init__", "common")
)


def leaves(config, prefix=""):
  for key, value in config.items():
    if hasattr(value, "items"):
      yield from leaves(value, f"{prefix}{key}.")
    else:
      yield f"{prefix}{key}"


def _source() -> str:
  root = pathlib.Path(ssgan_jax.__file__).parent
  return "\n".join(p.read_text() for p in sorted(root.rglob("*.py")))


def unread(fields, source):
  """Fields whose last name appears in no attribute access or string key.

  `ssl.<task>.*` blocks are read by name through the task registry, so a
  task block counts as read when its task is registered.
  """
  out = []
  for field in fields:
    parts = field.split(".")
    if parts[0] == "ssl" and len(parts) == 3:
      parts = parts[2:]  # weight_d / weight_g / fraction of any task
    name = parts[-1]
    if not re.search(rf"\.{name}\b|[\"']{name}[\"']", source):
      out.append(field)
  return out


def test_the_check_catches_an_unread_field():
  source = 'x = config.dataset.split\ny = c["batch_size"]\n'
  got = unread(["dataset.split", "batch_size", "dataset.eval_splitt"], source)
  assert got == ["dataset.eval_splitt"]


@pytest.mark.parametrize("name", ["base", *CONFIGS])
def test_every_field_is_read(name):
  import importlib  # pylint: disable=g-import-not-at-top

  if name == "base":
    config = common.base()
  else:
    config = importlib.import_module(f"configs.{name}").get_config()
  assert unread(sorted(leaves(config)), _source()) == []
