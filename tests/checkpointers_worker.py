"""One of two processes that save the run's and the best checkpoint at the
same steps, concurrently (run by multiprocess_test.py).

Process 0 writes the replicated state (the primary replica) and process 1
writes nothing, so process 1's save thread of the first directory is still
waiting at its "written" barrier when its save thread of the second directory
reaches the barrier of the same step: if the two directories' barriers shared
names, they would collide there.
"""

import sys

import jax
import numpy as np

from ssgan_jax import checkpointing
from ssgan_jax import sharding


def main(port: str, process_id: int, workdir: str) -> None:
  jax.distributed.initialize(f"127.0.0.1:{port}", 2, process_id)
  sharding.use_coordination_barriers()
  run = checkpointing.Checkpointer(f"{workdir}/checkpoints", 1)
  best = checkpointing.Checkpointer(f"{workdir}/best_checkpoint", 1)
  mesh = jax.make_mesh((jax.device_count(),), ("data",))
  # 32 MB: long enough to write that the barriers overlap.
  state = {
    "w": jax.device_put(
      np.ones((2048, 4096), np.float32), sharding.replicated(mesh)
    )
  }
  for step in range(1, 6):
    run.save(step, state, force=True)
    best.save(step, state, force=True)
    best.wait()
  run.wait()
  run.close()
  best.close()
  print(f"process {process_id} saved", run.all_steps(), best.all_steps())


if __name__ == "__main__":
  main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
