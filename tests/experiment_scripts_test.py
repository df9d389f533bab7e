"""The experiment scripts that only print or configure: Table 2 sweep."""

import importlib.util
import os
import shlex

from conftest import REPO

from ssgan_jax import config_lib


def _load(path):
  spec = importlib.util.spec_from_file_location("sweep", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


SWEEP = _load(os.path.join(REPO, "experiments", "table2", "sweep.py"))


def test_table2_grid_size_and_cells():
  cells = list(SWEEP.grid())
  # 2 datasets x 2 methods x (2 SN + 2 GP) x 2 betas x 3 seeds.
  assert len(cells) == 96
  assert len({name for name, *_ in cells}) == 96  # one workdir each
  gp = [o for _, _, o, _ in cells if o["penalty.name"] == "wgan_gp"]
  assert {o["penalty.weight"] for o in gp} == {1.0, 10.0}
  assert all(o["disc_iters"] == 5 for o in gp)
  assert not any(o["model.discriminator.spectral_norm"] for o in gp)
  sn = [o for _, _, o, _ in cells if o["penalty.name"] == "none"]
  assert {o["disc_iters"] for o in sn} == {1, 2}


def _apply(config, dotted, text):
  """Sets `--config.<dotted>=<text>` the way config_flags does: the field
  must exist and the text must convert to the field's type."""
  *parents, leaf = dotted.split(".")
  node = config
  for p in parents:
    node = node[p]
  old = node[leaf]  # KeyError: the sweep names a field that does not exist
  if isinstance(old, bool):
    assert text in ("True", "False"), (dotted, text)
    node[leaf] = text == "True"
  else:
    node[leaf] = type(old)(text)


def test_every_printed_command_names_real_fields(capsys):
  SWEEP.main(["--seeds", "0"])
  lines = capsys.readouterr().out.splitlines()
  assert len(lines) == 32
  for line in lines:
    argv = shlex.split(line)
    assert argv[:4] == ["python", "-m", "ssgan_jax.main", "--config"]
    path = os.path.join(REPO, argv[4])
    config = _load(path).get_config()
    assert argv[5] == "--workdir"
    for arg in argv[7:]:
      key, text = arg.removeprefix("--config.").split("=", 1)
      _apply(config, key, text)
    config_lib.validate(config)
