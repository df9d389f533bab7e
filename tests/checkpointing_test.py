"""Array checksums of checkpoints: what they hash and what they catch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from ssgan_jax import checkpointing


def _state():
  return {
    "g": {"params": {"w": jnp.arange(12.0).reshape(3, 4)}},
    "step": jnp.int32(7),
    "rng": jax.random.key(3),
  }


def test_checksums_name_every_leaf_and_change_with_one_element():
  a = checkpointing.checksums(_state())
  assert sorted(a) == ["g/params/w", "rng", "step"]
  assert a == checkpointing.checksums(_state())
  changed = _state()
  w = changed["g"]["params"]["w"]
  # One bit: the next float32 after w[1, 2].
  changed["g"]["params"]["w"] = w.at[1, 2].set(jnp.nextafter(w[1, 2], 99.0))
  b = checkpointing.checksums(changed)
  assert [k for k in a if a[k] != b[k]] == ["g/params/w"]


def test_checksums_tell_dtype_and_key_apart():
  a = checkpointing.checksums({"x": jnp.zeros(4, jnp.float32)})
  b = checkpointing.checksums({"x": jnp.zeros(4, jnp.int32)})  # same bytes
  assert a != b
  k1 = checkpointing.checksums({"k": jax.random.key(1)})
  k2 = checkpointing.checksums({"k": jax.random.key(2)})
  assert k1 != k2


def test_sharded_and_replicated_arrays_hash_alike_per_layout():
  devices = np.array(jax.devices()[:8]).reshape(8)
  mesh = jax.sharding.Mesh(devices, ("data",))
  x = jnp.arange(64.0).reshape(8, 8)
  sharded = jax.device_put(x, NamedSharding(mesh, P("data")))
  replicated = jax.device_put(x, NamedSharding(mesh, P()))
  # Same layout, same digest; each replica is hashed once.
  again = jax.device_put(x, NamedSharding(mesh, P("data")))
  assert checkpointing.checksums({"x": sharded}) == checkpointing.checksums(
    {"x": again}
  )
  assert checkpointing.checksums({"x": sharded}) != checkpointing.checksums(
    {"x": replicated}
  )


def test_restore_rejects_a_state_that_differs_from_the_saved(tmp_path):
  ckpt = checkpointing.Checkpointer(tmp_path / "ckpt", max_to_keep=3)
  state = _state()
  ckpt.save(1, state, force=True)
  changed = dict(state, step=jnp.int32(8))
  ckpt.save(2, changed, force=True)
  ckpt.wait()
  abstract = jax.eval_shape(lambda: state)
  # Make step 2's recorded checksums those of another state: restoring it
  # must now fail the check, and restore_latest fall back to step 1.
  (tmp_path / "ckpt" / "checksums" / "2.process_0.json").write_text(
    (tmp_path / "ckpt" / "checksums" / "1.process_0.json").read_text()
  )
  with pytest.raises(checkpointing.ChecksumMismatch, match="e.g. step"):
    ckpt.restore(2, abstract)
  restored = ckpt.restore_latest(abstract)
  assert int(restored["step"]) == 7
  assert (tmp_path / "ckpt" / "2.damaged" / "2.process_0.json").exists()
  ckpt.close()


def test_checkpoint_without_checksums_restores_with_a_warning(tmp_path, caplog):
  ckpt = checkpointing.Checkpointer(tmp_path / "ckpt")
  ckpt.save(1, _state(), force=True)
  ckpt.wait()
  (tmp_path / "ckpt" / "checksums" / "1.process_0.json").unlink()
  with caplog.at_level("WARNING"):
    restored = ckpt.restore(1, jax.eval_shape(_state))
  assert int(restored["step"]) == 7
  assert "has no checksums" in caplog.text
  ckpt.close()


def test_training_clock_is_saved_with_its_step_and_read_after_reopening(
  tmp_path,
):
  ckpt = checkpointing.Checkpointer(tmp_path / "ckpt")
  ckpt.save(1, _state(), force=True, train_wall_s=12.5)
  ckpt.save(2, _state(), force=True)  # saved without a clock
  ckpt.wait()
  ckpt.close()
  reopened = checkpointing.Checkpointer(tmp_path / "ckpt")
  assert reopened.train_wall_s(1) == 12.5
  assert reopened.train_wall_s(2) is None
  reopened.close()
