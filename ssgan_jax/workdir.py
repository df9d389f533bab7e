"""A training workdir as one object: its config, components, mesh and state.

  from ssgan_jax import workdir as workdir_lib
  run = workdir_lib.load("runs/fmnist_ssgan")             # newest checkpoint
  run = workdir_lib.load("runs/fmnist_ssgan", step=1500)  # a given one
  run = workdir_lib.load("runs/fmnist_ssgan", best=True)  # eval's best
  run.config, run.comps, run.mesh, run.state, run.step

Training writes a workdir (`config.json`, `checkpoints/<step>/`, and with
periodic evaluation `best_checkpoint/<step>/` and `eval/best.json`); every
tool that reads one back (the evaluators, the sampler, the probe, the
experiment scripts) goes through this module, so a workdir is checked in
one place and every problem with it is one `errors.UserError` line naming
the file. It also holds the one atomic JSON writer that training and the
tools share.
"""

import copy
import dataclasses
import functools
import json
import os
import pathlib

import jax
import ml_collections

from configs import common
from ssgan_jax import checkpointing
from ssgan_jax import config_lib
from ssgan_jax import errors
from ssgan_jax import sharding
from ssgan_jax import state as state_lib

CONFIG_FILE = "config.json"
CHECKPOINTS = "checkpoints"
BEST_CHECKPOINT = "best_checkpoint"


def _tuples(value):
  """JSON lists back to the tuples the config held (e.g. mesh.shape)."""
  if isinstance(value, dict):
    return {k: _tuples(v) for k, v in value.items()}
  if isinstance(value, list):
    return tuple(_tuples(v) for v in value)
  return value


# Config fields added after runs were already being written, with the value
# that gives the behaviour of the versions before them, so that an older
# workdir can still be sampled and scored. Older runs trained at a constant
# rate, so decay_start is unused and takes the base config's default.
_ADDED_FIELDS = {
  **{("optimizer", net, "schedule"): "constant" for net in ("g", "d")},
  **{
    ("optimizer", net, "decay_start"): common.base().optimizer[net].decay_start
    for net in ("g", "d")
  },
  # Runs before standing statistics sampled their EMA G with batch ones.
  ("ema", "bn_stats"): "batch",
  ("ema", "standing_batches"): common.base().ema.standing_batches,
  # Fields that older versions read with a fallback equal to base()'s value
  # (now read directly), and dataset.num_classes, which they read as 0.
  **{
    keys: functools.reduce(lambda c, k: c[k], keys, common.base())
    for keys in (
      ("dataset", "preprocess"),
      ("dataset", "in_memory"),
      ("model", "z_distribution"),
      ("model", "compute_dtype"),
      ("model", "conv"),
      ("model", "generator", "norm"),
      ("model", "generator", "norm_hidden"),
      ("model", "discriminator", "projection"),
      ("loss", "weight"),
      ("penalty", "weight"),
      ("ema", "start_step"),
    )
  },
  ("dataset", "num_classes"): 0,
  # Runs before further eval blocks had only `eval`.
  ("evals",): {},
}


def _with_added_fields(raw: dict) -> dict:
  for keys, value in _ADDED_FIELDS.items():
    block = raw
    for key in keys[:-1]:
      block = block.get(key)
      if not isinstance(block, dict):
        break
    else:
      block.setdefault(keys[-1], copy.deepcopy(value))
  return raw


def load_config(workdir: str | os.PathLike) -> ml_collections.ConfigDict:
  """The resolved config that training wrote to `workdir/config.json`."""
  workdir = pathlib.Path(workdir)
  if not workdir.is_dir():
    raise errors.UserError(
      f"--workdir {workdir} does not exist or is not a directory."
    )
  path = workdir / CONFIG_FILE
  if not path.is_file():
    raise errors.UserError(
      f"--workdir {workdir} has no {CONFIG_FILE}; pass the directory of a"
      " run made with `python -m ssgan_jax.main --workdir ...`."
    )
  try:
    raw = json.loads(path.read_text())
  except (OSError, UnicodeDecodeError, ValueError) as e:
    raise errors.UserError(
      f"{path} cannot be read ({errors.first_line(e)}); restore it from the run."
    ) from None
  if not isinstance(raw, dict):
    raise errors.UserError(f"{path} does not hold a config (a JSON object).")
  return ml_collections.ConfigDict(_tuples(_with_added_fields(raw)))


def build(
  config: ml_collections.ConfigDict, workdir: pathlib.Path
) -> state_lib.Components:
  """Validated components of the run, or a UserError naming config.json."""
  try:
    config_lib.validate(config)
    return state_lib.build_components(config)
  except errors.UserError as e:
    raise errors.UserError(f"{workdir}/{CONFIG_FILE}: {e}") from None
  except (KeyError, AttributeError, TypeError, ValueError) as e:
    raise errors.UserError(
      f"{workdir}/{CONFIG_FILE} does not describe a run of this version of"
      f" ssgan_jax ({errors.first_line(e)})."
    ) from None


def make_mesh(config: ml_collections.ConfigDict, workdir: pathlib.Path):
  """The run's mesh on this machine, or a UserError saying why it cannot be."""
  try:
    return sharding.make_mesh(config.mesh)
  except errors.UserError as e:
    raise errors.UserError(
      f"the mesh in {workdir}/{CONFIG_FILE} does not fit this machine: {e}"
    ) from None


def restore(
  workdir: pathlib.Path,
  step: int | None,
  abstract,
  mesh,
  best: bool = False,
):
  """(state, step) from `workdir/checkpoints` (or `best_checkpoint`).

  Args:
    workdir: the run's directory.
    step: checkpoint to restore; None for the newest (with `best`, the one
      kept best checkpoint).
    abstract: `jax.eval_shape` of the run's initial state.
    mesh: the mesh to place the (replicated) state on.
    best: restore from `best_checkpoint/`, which periodic evaluation keeps.

  Raises:
    errors.UserError: one line when there is no such checkpoint or it
      cannot be read; it lists the steps that are available.
  """
  if best and step is not None:
    raise errors.UserError("pass --step or --best, not both.")
  if step is not None and step < 0:
    raise errors.UserError(f"--step={step} must be >= 0.")
  directory = workdir / (BEST_CHECKPOINT if best else CHECKPOINTS)
  if not directory.is_dir():
    if best:
      raise errors.UserError(
        f"{directory} does not exist: the run kept no best checkpoint"
        " (eval.every_steps and eval.best_metric set none); pass --step or"
        " leave both out for the newest."
      )
    raise errors.UserError(
      f"{directory} does not exist; the run has saved no checkpoint yet."
    )
  ckpt = checkpointing.Checkpointer(directory)
  try:
    steps = ckpt.all_steps()
    if not steps:
      raise errors.UserError(
        f"{directory} holds no checkpoint; the run has saved none yet."
      )
    if step is None:
      step = steps[-1]
    elif step not in steps:
      raise errors.UserError(
        f"no checkpoint for --step={step} in {directory}; available steps:"
        f" {', '.join(map(str, steps))}."
      )
    target = checkpointing.abstract_with_shardings(
      abstract, sharding.replicated(mesh)
    )
    try:
      state = ckpt.restore(step, target)
    except errors.UserError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      raise errors.UserError(
        f"checkpoint {directory}/{step} cannot be read ({errors.first_line(e)});"
        f" pick another with --step (available: {', '.join(map(str, steps))})."
      ) from None
  finally:
    ckpt.close()
  return state, step


@dataclasses.dataclass(frozen=True)
class Run:
  """A trained run loaded back: what every tool that reads a workdir needs."""

  workdir: pathlib.Path  # absolute
  config: ml_collections.ConfigDict
  comps: state_lib.Components
  mesh: jax.sharding.Mesh
  state: state_lib.GANState
  step: int  # the G step of the restored checkpoint


def check_weights_flags(live: bool, ema_bn_stats: str | None) -> None:
  """--live_weights and --ema_bn_stats exclude each other."""
  if live and ema_bn_stats is not None:
    raise errors.UserError(
      "--ema_bn_stats sets how the EMA G normalises, but --live_weights"
      " samples the live G (its BatchNorm running averages); pass one."
    )


def load_components(
  workdir: str | os.PathLike, ema_bn_stats: str | None = None
) -> tuple[pathlib.Path, ml_collections.ConfigDict, state_lib.Components]:
  """(absolute workdir, config, components) without restoring any state.

  For tools that must check more about the run (its dataset, its image
  shape) before paying for a restore. `ema_bn_stats` overrides the run's
  ema.bn_stats (how an EMA G normalises its samples; state.EMA_BN_STATS).
  """
  if ema_bn_stats is not None and ema_bn_stats not in state_lib.EMA_BN_STATS:
    raise errors.UserError(
      f"--ema_bn_stats={ema_bn_stats!r} is unknown; known:"
      f" {', '.join(state_lib.EMA_BN_STATS)}."
    )
  workdir = pathlib.Path(workdir).absolute()
  config = load_config(workdir)
  if ema_bn_stats is not None:
    config.ema.bn_stats = ema_bn_stats
  return workdir, config, build(config, workdir)


def load(
  workdir: str | os.PathLike,
  step: int | None = None,
  best: bool = False,
  components=None,
  live: bool = False,
) -> Run:
  """Loads a run's config, components, mesh and one checkpoint.

  Args:
    workdir: a training workdir.
    step: checkpoint to restore; default the newest.
    best: restore the best checkpoint that periodic evaluation kept.
    components: a `load_components(workdir)` result to reuse.
    live: drop the EMA of G from the state, so that samples come from the
      live weights (in eval mode with their BatchNorm running averages).

  Raises:
    errors.UserError: one line for every problem with the workdir, its
      config or its checkpoints.
  """
  workdir, config, comps = components or load_components(workdir)
  mesh = make_mesh(config, workdir)
  abstract = jax.eval_shape(
    functools.partial(state_lib.init_state, comps), jax.random.key(0)
  )
  state, step = restore(workdir, step, abstract, mesh, best=best)
  if live:
    state = state.replace(g_ema=None)
  return Run(workdir, config, comps, mesh, state, step)
