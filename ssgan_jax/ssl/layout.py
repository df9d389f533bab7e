"""Packs upright images and every task's views into one D call, device-locally.

The global batch B is sharded over devices on axis 0. To keep every view on
the device that holds its source image, examples stay on axis 0 and views are
concatenated on axis 1:

  images [B, H, W, C] -> groups [G, S, H, W, C]        (G = B / S)
  x = concat([groups,                                  # S upright images
              task1 extra views [G, S/s1 * k1', ...],  # every s1-th example
              task2 extra views ...], axis=1)          # -> [G, V, H, W, C]

S is the lcm of the tasks' strides (stride = 1 / fraction); with fraction 1
everywhere S = 1 and x is simply [B, V, H, W, C]. A task whose view 0 is the
identity contributes only views 1..k-1; its view-0 logits are read from the
upright slot. D sees x flattened to [G * V, H, W, C]; `split` undoes it.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp

from ssgan_jax.ssl import base


@dataclasses.dataclass(frozen=True)
class Slot:
  """Where one task's extra views sit on axis 1 of the packed array."""

  task: base.SSLTask
  offset: int  # first column of the task's extra views
  per_group: int  # examples per group that get views (S / stride)
  extra: int  # extra views per example (k or k - 1)


def group_size(tasks: list[base.SSLTask]) -> int:
  """S: the lcm of the task strides (1 when every task uses all examples)."""
  return math.lcm(1, *[t.stride for t in tasks])


def pack(tasks, images, rngs, s: int, offset: int = 0):
  """Builds the packed array for `images` and the tasks' slots.

  Args:
    tasks: tasks whose views to include (may be empty).
    images: [B, H, W, C].
    rngs: one key per task.
    s: group size S; a multiple of every task's stride. Blocks that are
      concatenated on axis 1 must share S so that their rows line up.
    offset: column where this block starts in the final D input (so a real
      block and a fake block can be concatenated on axis 1).

  Returns:
    x [G, V, H, W, C], {task name: (Slot, labels [G * S / stride, k])}.
  """
  b = images.shape[0]
  groups = images.reshape(b // s, s, *images.shape[1:])  # [G, S, H, W, C]
  parts = [groups]
  slots = {}
  col = offset + s
  for task, rng in zip(tasks, rngs):
    sub = groups[:, :: task.stride]  # [G, S/stride, H, W, C]
    per_group = sub.shape[1]
    views, labels = task.views(sub.reshape(-1, *sub.shape[2:]), rng)
    if task.first_view_is_identity:
      views = views[:, 1:]  # [G * S/stride, k - 1, H, W, C]
    extra = views.shape[1]
    parts.append(
      views.reshape(groups.shape[0], per_group * extra, *views.shape[2:])
    )
    slots[task.name] = (Slot(task, col, per_group, extra), labels)
    col += per_group * extra
  return jnp.concatenate(parts, axis=1), slots


def upright(out: jax.Array, offset: int, s: int) -> jax.Array:
  """Per-image D outputs [G, V, ...] -> the block's upright ones [B, ...]."""
  up = out[:, offset : offset + s]  # [G, S, ...]
  return up.reshape(-1, *out.shape[2:])


def task_logits(logits: jax.Array, slot: Slot, offset: int, s: int):
  """Aux logits [G, V, C] -> the task's view logits [G * S/stride, k, C]."""
  g = logits.shape[0]
  extra = logits[:, slot.offset : slot.offset + slot.per_group * slot.extra]
  extra = extra.reshape(g * slot.per_group, slot.extra, logits.shape[-1])
  if not slot.task.first_view_is_identity:
    return extra
  up = logits[:, offset : offset + s][:, :: slot.task.stride]  # [G, S/st, C]
  up = up.reshape(g * slot.per_group, 1, logits.shape[-1])
  return jnp.concatenate([up, extra], axis=1)


def flatten(x: jax.Array) -> jax.Array:
  """[G, V, H, W, C] -> [G * V, H, W, C] (device-local: G is the major axis)."""
  return x.reshape(-1, *x.shape[2:])
