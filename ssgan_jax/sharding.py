"""Device mesh and shardings for data-parallel training.

  mesh = make_mesh(config.mesh)              # axes ('data',) over all devices
  images = host_to_global(local, mesh)       # [n_dis, B_local, ...] -> global

The state is replicated; batches are sharded on their example axis over
`data`. Under `jax.jit` with these shardings XLA inserts the gradient
all-reduce, and BatchNorm statistics are computed over the global batch.
"""

import jax
import numpy as np
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from ssgan_jax import errors


def make_mesh(mesh_config) -> Mesh:
  """Builds a mesh from `mesh.shape` (one -1 allowed) and `mesh.axes`."""
  shape = list(mesh_config.shape)
  axes = tuple(mesh_config.axes)
  if len(shape) != len(axes):
    raise errors.ConfigError(
      f"mesh.shape {tuple(shape)} and mesh.axes {axes} differ in length."
    )
  if "data" not in axes:
    raise errors.ConfigError(f"mesh.axes {axes} must include 'data'.")
  n = jax.device_count()
  if shape.count(-1) > 1:
    raise errors.ConfigError(f"mesh.shape {tuple(shape)} has more than one -1.")
  known = int(np.prod([d for d in shape if d != -1]))
  if any(d == 0 or d < -1 for d in shape) or n % known:
    raise errors.ConfigError(
      f"mesh.shape {tuple(shape)} does not fit {n} devices; use positive"
      " sizes whose product divides the device count, or -1 for 'the rest'."
    )
  shape = [n // known if d == -1 else d for d in shape]
  if int(np.prod(shape)) != n:
    raise errors.ConfigError(
      f"mesh.shape {tuple(shape)} uses {int(np.prod(shape))} of {n} devices;"
      " use -1 on one axis to take all devices."
    )
  devices = np.asarray(jax.devices()).reshape(shape)
  return Mesh(devices, axes)


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, ndim: int, batch_axis: int = 0) -> NamedSharding:
  """Shards axis `batch_axis` of an `ndim`-array over `data`."""
  spec = [None] * ndim
  spec[batch_axis] = "data"
  return NamedSharding(mesh, P(*spec))


def data_size(mesh: Mesh) -> int:
  return mesh.shape["data"]


def check_batch_size(batch_size: int, mesh: Mesh, group: int = 1) -> None:
  """Global batch must split evenly over devices (and view groups)."""
  n = data_size(mesh)
  if batch_size % (n * group):
    what = (
      f"{n} devices"
      if group == 1
      else (f"{n} devices x {group} (the lcm of 1/fraction of the ssl tasks)")
    )
    raise errors.ConfigError(
      f"batch_size={batch_size} is not divisible by {what}; use a multiple"
      f" of {n * group}."
    )
  if batch_size % jax.process_count():
    raise errors.ConfigError(
      f"batch_size={batch_size} is not divisible by the {jax.process_count()}"
      " processes."
    )


def host_to_global(local: np.ndarray, mesh: Mesh, batch_axis: int = 1):
  """Per-process batch -> global jax.Array sharded on `batch_axis`."""
  sharding = batch_sharding(mesh, local.ndim, batch_axis)
  global_shape = list(local.shape)
  global_shape[batch_axis] *= jax.process_count()
  return jax.make_array_from_process_local_data(
    sharding, local, tuple(global_shape)
  )


def to_host(tree):
  """Fully replicated jax.Arrays -> numpy, also when other processes hold
  devices of the mesh (where `jax.device_get` would refuse)."""

  def get(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      if not x.is_fully_replicated:
        raise ValueError(f"to_host needs replicated arrays, got {x.sharding}")
      return np.asarray(x.addressable_data(0))
    return np.asarray(jax.device_get(x))

  return jax.tree.map(get, tree)


# Long enough for one process to finish compiling or restoring while another
# waits; far above Gloo's fixed 30 s context-setup timeout.
_BARRIER_TIMEOUT_S = 600


def use_coordination_barriers() -> None:
  """Routes Orbax's barriers through the `jax.distributed` coordination service.

  Orbax's barriers (directory creation, save, restore) then use Orbax's
  timeout instead of a Gloo collective whose 30 s setup deadline a busy host
  can miss. Call it after `jax.distributed.initialize`; a no-op for one
  process. Barrier names must then be unique per checkpoint directory (see
  `checkpointing.barrier_prefix`).
  """
  if jax.process_count() == 1:
    return
  import orbax.checkpoint  # noqa: F401  (defines the flag) pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top

  if not flags.FLAGS.is_parsed():  # a library caller without absl.app
    flags.FLAGS.mark_as_parsed()
  flags.FLAGS.experimental_orbax_use_distributed_barrier = True


def barrier(name: str) -> None:
  """Waits until every process reaches `name` (a no-op for one process).

  Uses the coordination service of `jax.distributed` (a gRPC barrier with a
  timeout we choose), not a device collective: on CPU the first collective
  sets up Gloo with a fixed 30 s deadline, so a process that falls behind
  by more than that (slower compile or restore on a busy host) would fail
  the run. Call it right before work whose first step is a collective.
  """
  if jax.process_count() == 1:
    return
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top

  ocp.multihost.get_barrier_sync_fn()(
    key=f"ssgan_jax_{name}", timeout_ms=_BARRIER_TIMEOUT_S * 1000
  )


def from_process_0(values: np.ndarray, name: str) -> np.ndarray:
  """Process 0's `values` on every process (a no-op for one process).

  For decisions every process must take alike (stop, save, keep a best
  checkpoint); `name` names the barrier that starts the collective together
  (see `barrier`).
  """
  if jax.process_count() == 1:
    return values
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

  barrier(name)
  return np.asarray(multihost_utils.broadcast_one_to_all(values))
