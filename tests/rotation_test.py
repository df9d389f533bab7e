"""rotate4, the view layout, and device-locality of rotation under sharding."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from ssgan_jax import errors
from ssgan_jax.ssl import layout
from ssgan_jax.ssl import rotation


def test_rotate4_matches_numpy_rot90():
  x = np.random.default_rng(0).normal(size=(3, 5, 5, 2)).astype(np.float32)
  views, labels = rotation.rotate4(jnp.asarray(x))
  assert views.shape == (3, 4, 5, 5, 2)
  assert labels.shape == (3, 4) and labels.dtype == jnp.int32
  for b in range(3):
    for k in range(4):
      np.testing.assert_array_equal(views[b, k], np.rot90(x[b], k))
      assert labels[b, k] == k


def test_rotate4_counter_clockwise():
  # A single bright pixel at the top-right corner moves to the top-left after
  # one counter-clockwise quarter turn.
  x = np.zeros((1, 3, 3, 1), np.float32)
  x[0, 0, 2, 0] = 1.0
  views, _ = rotation.rotate4(jnp.asarray(x))
  assert views[0, 1, 0, 0, 0] == 1.0


def test_rotate4_rejects_non_square():
  with pytest.raises(errors.ConfigError, match="square"):
    rotation.rotate4(jnp.zeros((2, 4, 6, 1)))


def test_rotate4_sharded_has_no_communication(devices8):
  mesh = Mesh(np.asarray(devices8), ("data",))
  sh = NamedSharding(mesh, P("data"))
  x = jax.device_put(
    jnp.arange(16 * 4 * 4, dtype=jnp.float32).reshape(16, 4, 4, 1), sh
  )
  fn = jax.jit(
    lambda y: rotation.rotate4(y)[0],
    out_shardings=NamedSharding(mesh, P("data")),
  )
  hlo = fn.lower(x).compile().as_text()
  for op in ("all-gather", "all-to-all", "collective-permute", "all-reduce"):
    assert op not in hlo, op
  out = fn(x)
  # Each device holds the views of exactly its own two examples.
  for shard in out.addressable_shards:
    idx = shard.index[0]
    np.testing.assert_array_equal(
      shard.data, np.asarray(rotation.rotate4(x[idx])[0])
    )


def _task(fraction):
  return rotation.Rotation(
    ml_collections.ConfigDict(
      {"weight_d": 1.0, "weight_g": 0.2, "fraction": fraction}
    )
  )


@pytest.mark.parametrize("fraction", [1.0, 0.5, 0.25])
def test_layout_pack_and_unpack(fraction):
  task = _task(fraction)
  s = layout.group_size([task])
  x = jnp.asarray(
    np.random.default_rng(1).normal(size=(8, 4, 4, 1)), jnp.float32
  )
  packed, slots = layout.pack([task], x, [jax.random.key(0)], s)
  n = 8 // task.stride  # examples with views
  assert packed.shape == (8 // s, s + (s // task.stride) * 3, 4, 4, 1)
  # Use the pixel sums as "logits" so unpacking can be checked exactly.
  per_image = layout.flatten(packed).reshape(packed.shape[:2] + (-1,))
  up = layout.upright(per_image, 0, s)
  np.testing.assert_allclose(up, x.reshape(8, -1))
  slot, labels = slots["rotation"]
  got = layout.task_logits(per_image, slot, 0, s)  # [n, 4, HWC]
  want = rotation.rotate4(x[:: task.stride])[0].reshape(n, 4, -1)
  np.testing.assert_allclose(got, want)
  assert labels.shape == (n, 4)


def test_fraction_must_be_reciprocal_integer():
  with pytest.raises(errors.ConfigError, match="1/n"):
    _task(0.3)
  with pytest.raises(errors.ConfigError, match=r"\(0, 1\]"):
    _task(0.0)
