"""Orbax checkpoints of the whole `GANState`, restored into its abstract form.

  ckpt = Checkpointer(workdir / "checkpoints", max_to_keep=3)
  state = ckpt.restore_latest(abstract_state)   # None when there is none
  ckpt.save(step, state); ckpt.wait()

Orbax writes each step into a temporary directory and renames it when the
write is complete, so a crash mid-save never leaves a half-written checkpoint
that looks finished. Restoring into the abstract state (with shardings) puts
arrays straight onto their devices and keeps optax's namedtuples intact.

Before restoring, the saved parameter shapes are compared with the config's:
a workdir started with another model gets one clear error instead of a crash
deep inside Orbax. A checkpoint that cannot be read (truncated or corrupted
files) is reported and the next older one is used.

Orbax does not check the bytes it reads back, so a flipped bit in an array
file would be restored silently. `save` therefore records a sha256 of every
array as it is in memory (`checksums/<step>.process_<i>.json`, one file per
process for the shards it holds, written before Orbax commits the step), and
`restore` recomputes them on the restored state: any difference marks the
checkpoint damaged, like an unreadable one. Hashing the arrays rather than
Orbax's files keeps the check independent of Orbax's storage layout, and
also checks that a resume restores exactly the state that was saved.

Each step also carries, as Orbax custom metadata, the seconds the run's
training loop had spent when it was saved (`train_wall_s`): a resumed run
continues that clock instead of starting its own, so that a wall-clock
budget (`train_minutes`) and the curves against wall time span the whole
run, however often it was stopped.
"""

import hashlib
import json
import os
import pathlib

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from ssgan_jax import atomic
from ssgan_jax import errors
from ssgan_jax import sharding


def _path_name(path) -> str:
  """A tree path as 'g/params/block1/conv1/kernel', whatever the key types."""
  parts = []
  for k in path:
    for attr in ("key", "name", "idx"):
      if hasattr(k, attr):
        parts.append(str(getattr(k, attr)))
        break
  return "/".join(parts)


def _param_shapes(tree) -> dict[str, tuple[int, ...]]:
  out = {}
  for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
    name = _path_name(path)
    if name.startswith(("g/params/", "d/params/")):
      out[name] = tuple(leaf.shape)
  return out


CHECKSUMS_DIR = "checksums"
# Custom-metadata key of the training loop's seconds at the saved step.
TRAIN_WALL_S = "train_wall_s"


class ChecksumMismatch(Exception):
  """A restored array differs from the one that was saved."""


def _leaf_bytes(leaf) -> list[tuple[str, np.ndarray]]:
  """(shard index, host array) of this process's unique shards of `leaf`."""
  if isinstance(leaf, jax.Array):
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      leaf = jax.random.key_data(leaf)
    return [
      (str(s.index), np.asarray(s.data))
      for s in leaf.addressable_shards
      if s.replica_id == 0
    ]
  return [("", np.asarray(leaf))]


def checksums(state) -> dict[str, str]:
  """sha256 per leaf over the shards this process holds (name -> hex)."""
  out = {}
  for path, leaf in jax.tree_util.tree_leaves_with_path(state):
    h = hashlib.sha256()
    for index, arr in _leaf_bytes(leaf):
      arr = np.ascontiguousarray(arr)
      h.update(f"{index}|{arr.dtype}|{arr.shape}|".encode())
      h.update(arr.tobytes())
    out[_path_name(path)] = h.hexdigest()
  return out


def barrier_prefix(directory: pathlib.Path) -> str:
  """A prefix for Orbax's cross-process barrier names, unique per directory.

  With several processes Orbax names its save barriers after the step alone
  (e.g. `async_write_complete.6`), and the coordination-service barriers we
  use treat equal names as one barrier. The run's checkpoints and the best
  checkpoint are often saved at the same step, concurrently (both saves are
  asynchronous); under one name the second save's barrier fails as "already
  ongoing" or pairs with the other save's, and a process left waiting times
  out. A prefix per directory keeps them apart.
  """
  return "ssgan_" + "".join(
    c if c.isalnum() else "_" for c in directory.absolute().name
  )


class Checkpointer:
  """One `CheckpointManager` for the run's `GANState`."""

  def __init__(self, directory: pathlib.Path | str, max_to_keep: int = 3):
    self.directory = pathlib.Path(directory).absolute()
    self.manager = ocp.CheckpointManager(
      self.directory,
      item_handlers=ocp.StandardCheckpointHandler(),
      options=ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep,
        create=True,
        enable_async_checkpointing=True,
        multiprocessing_options=ocp.options.MultiprocessingOptions(
          barrier_sync_key_prefix=barrier_prefix(self.directory)
        ),
      ),
    )

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def all_steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def check_compatible(self, step: int, abstract_state) -> None:
    """Raises UserError when checkpoint `step` holds other parameter shapes."""
    saved = _param_shapes(self.manager.item_metadata(step))
    wanted = _param_shapes(abstract_state)
    for name in sorted(set(saved) | set(wanted)):
      if saved.get(name) != wanted.get(name):
        raise errors.UserError(
          f"checkpoint {self.directory}/{step} was made with another model:"
          f" {name} is {saved.get(name, 'absent')} there but"
          f" {wanted.get(name, 'absent')} with this config; use a fresh"
          " --workdir or the config the run was started with."
        )

  def _checksum_file(self, step: int) -> pathlib.Path:
    return (
      self.directory
      / CHECKSUMS_DIR
      / f"{step}.process_{jax.process_index()}.json"
    )

  def _write_checksums(self, step: int, state) -> None:
    atomic.write_json(self._checksum_file(step), checksums(state), indent=0)

  def _verify(self, step: int, state) -> None:
    """Raises ChecksumMismatch when restored arrays differ from the saved."""
    path = self._checksum_file(step)
    if not path.exists():
      logging.warning(
        "Checkpoint %s/%d has no checksums (saved by an older version);"
        " restored without verifying its bytes.",
        self.directory,
        step,
      )
      return
    want = json.loads(path.read_text())
    got = checksums(state)
    bad = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
    if bad:
      raise ChecksumMismatch(
        f"{len(bad)} array(s) differ from what was saved, e.g. {bad[0]}"
      )

  def _drop_stale_checksums(self, saving: int) -> None:
    """Removes checksum files of steps Orbax has deleted (max_to_keep).

    `saving` may not be committed yet; every earlier save is (Orbax waits
    for the previous save before it starts the next).
    """
    kept = set(self.all_steps()) | {saving}
    folder = self.directory / CHECKSUMS_DIR
    if not folder.is_dir():
      return
    mine = f".process_{jax.process_index()}.json"
    for f in folder.iterdir():
      step = f.name.split(".", 1)[0]
      if f.name.endswith(mine) and step.isdigit() and int(step) not in kept:
        f.unlink(missing_ok=True)

  def restore(self, step: int, abstract_state):
    """Restores `step` into the structure/shardings of `abstract_state`."""
    self.check_compatible(step, abstract_state)
    state = self.manager.restore(
      step, args=ocp.args.StandardRestore(abstract_state)
    )
    self._verify(step, state)
    return state

  def restore_latest(self, abstract_state):
    """The newest readable checkpoint, or None when the run is new.

    A damaged checkpoint is skipped with a warning; if every checkpoint is
    damaged the run stops rather than silently starting over.
    """
    steps = self.all_steps()
    for step in reversed(steps):
      try:
        return self.restore(step, abstract_state)
      except errors.UserError:
        raise
      except Exception as e:  # pylint: disable=broad-except
        aside = self.directory / f"{step}.damaged"
        n = 1
        while aside.exists():
          n += 1
          aside = self.directory / f"{step}.damaged{n}"
        logging.warning(
          "Checkpoint %s/%d is damaged (%s); moved to %s, trying the"
          " previous one.",
          self.directory,
          step,
          errors.first_line(e),
          aside,
        )
        # Kept for inspection, but out of the manager's way so that the
        # resumed run can write this step again.
        if jax.process_index() == 0:
          (self.directory / str(step)).rename(aside)
        sharding.barrier("move_damaged")
        # Each process moves its own checksums along with the checkpoint.
        sums = self._checksum_file(step)
        if sums.exists():
          os.replace(sums, aside / sums.name)
        self.manager.reload()
    if steps:
      raise errors.UserError(
        f"every checkpoint in {self.directory} (steps {steps}) is damaged;"
        " move the directory away to start over, or restore it from a backup."
      )
    return None

  def save(
    self,
    step: int,
    state,
    force: bool = False,
    train_wall_s: float | None = None,
  ) -> bool:
    """Saves `state` as `step` (asynchronously); `train_wall_s`, the
    training loop's seconds so far, is stored with it (see `train_wall_s`).
    """
    if not force and not self.manager.should_save(step):
      return False
    # Before Orbax commits the step, so that every committed step has them.
    self._write_checksums(step, state)
    meta = None if train_wall_s is None else {TRAIN_WALL_S: float(train_wall_s)}
    saved = self.manager.save(
      step,
      args=ocp.args.StandardSave(state),
      force=force,
      custom_metadata=meta,
    )
    self._drop_stale_checksums(step)
    return saved

  def train_wall_s(self, step: int) -> float | None:
    """The training loop's seconds saved with `step`; None when the step
    was saved without them (by an older version, or outside training)."""
    meta = self.manager.metadata(step)
    value = (getattr(meta, "custom_metadata", None) or {}).get(TRAIN_WALL_S)
    return None if value is None else float(value)

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.close()


def abstract_with_shardings(abstract_state, leaf_sharding):
  """Attaches `leaf_sharding` to every leaf of an eval_shape'd state."""
  return jax.tree.map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=leaf_sharding),
    abstract_state,
  )
