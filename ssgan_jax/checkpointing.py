"""Orbax checkpoints of the whole `GANState`, restored into its abstract form.

  ckpt = Checkpointer(workdir / "checkpoints", max_to_keep=3)
  state = ckpt.restore_latest(abstract_state)   # None when there is none
  ckpt.save(step, state); ckpt.wait()

Orbax writes each step into a temporary directory and renames it when the
write is complete, so a crash mid-save never leaves a half-written checkpoint
that looks finished. Restoring into the abstract state (with shardings) puts
arrays straight onto their devices and keeps optax's namedtuples intact.
"""

import pathlib

import jax
import orbax.checkpoint as ocp

from ssgan_jax import errors


class Checkpointer:
  """One `CheckpointManager` for the run's `GANState`."""

  def __init__(self, directory: pathlib.Path | str, max_to_keep: int = 3):
    self.directory = pathlib.Path(directory).absolute()
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True,
            enable_async_checkpointing=True),
    )

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def all_steps(self) -> list[int]:
    return list(self.manager.all_steps())

  def restore(self, step: int, abstract_state):
    """Restores `step` into the structure/shardings of `abstract_state`."""
    try:
      return self.manager.restore(
          step, args=ocp.args.StandardRestore(abstract_state))
    except (ValueError, KeyError, TypeError) as e:
      raise errors.UserError(
          f"checkpoint {self.directory}/{step} does not match this config's"
          f" model/optimizer ({type(e).__name__}: {str(e).splitlines()[0][:160]});"
          " use a fresh --workdir or the config the run was started with."
      ) from None

  def restore_latest(self, abstract_state):
    step = self.latest_step()
    if step is None:
      return None
    return self.restore(step, abstract_state)

  def save(self, step: int, state, force: bool = False) -> bool:
    return self.manager.save(step, args=ocp.args.StandardSave(state),
                             force=force)

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.close()


def abstract_with_shardings(abstract_state, sharding):
  """Attaches `sharding` to every leaf of an eval_shape'd state."""
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
      abstract_state)
