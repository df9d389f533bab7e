"""Self-supervised task registry.

  tasks = build_tasks(config)   # one SSLTask per entry of config.ssl

`config.ssl` maps a registered task name to its block (weight_d, weight_g,
fraction and task-specific fields); an empty `config.ssl` is the plain GAN.
Register a new task with `TASKS.register("name", TaskClass)`.
"""

import ml_collections

from ssgan_jax import registry
from ssgan_jax.ssl import base
from ssgan_jax.ssl import rotation
from ssgan_jax.ssl import ssgan_la
from ssgan_jax.ssl import ssgan_ms

SSLTask = base.SSLTask
TASKS: registry.Registry[type[base.SSLTask]] = registry.Registry("ssl task")

TASKS.register("rotation", rotation.Rotation)
TASKS.register("ssgan_ms", ssgan_ms.SSGANMS)
TASKS.register("ssgan_la", ssgan_la.SSGANLA)


def build_tasks(config: ml_collections.ConfigDict) -> list[base.SSLTask]:
  """Instantiates the tasks in `config.ssl`, in sorted name order."""
  ssl = config.ssl
  tasks = []
  for name in sorted(ssl.keys()):
    task = TASKS.get(name)(ssl[name])
    task.name = name
    tasks.append(task)
  return tasks
