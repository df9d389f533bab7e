"""What the checkpoint checksums cost: save and restore of the paper's state.

  python benchmarks/checkpoint_cost.py [--reps 3]

Builds the paper's CIFAR10 SS-GAN `GANState` (G, D, EMA G, both Adam states) as
`train.py` does, then times, best of `--reps`, in a temporary directory:
hashing the state (`checkpointing.checksums`), a save through our
`Checkpointer` (checksums + Orbax, until committed), the same save through a
bare Orbax manager, and a restore with and without the verification.
Prints one JSON object. Machine otherwise idle.
"""

import argparse
import json
import pathlib
import tempfile
import time

import jax
import orbax.checkpoint as ocp
import step_speed as benchmark

from ssgan_jax import checkpointing


def _best(fn, reps):
  times = []
  for _ in range(reps):
    t0 = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)
  return min(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--reps", type=int, default=3)
  args = parser.parse_args()
  config = benchmark.cifar10_bench_config()
  state = benchmark.make_setup(config).state
  jax.block_until_ready(state)
  nbytes = sum(x.nbytes for x in jax.tree.leaves(state))
  abstract = jax.tree.map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding),
    state,
  )
  out = {"state_mib": nbytes / 2**20, "leaves": len(jax.tree.leaves(state))}
  out["hash_s"] = _best(lambda: checkpointing.checksums(state), args.reps)
  with tempfile.TemporaryDirectory() as tmp:
    ours = checkpointing.Checkpointer(pathlib.Path(tmp) / "ours", 100)
    bare = ocp.CheckpointManager(
      pathlib.Path(tmp) / "bare",
      item_handlers=ocp.StandardCheckpointHandler(),
      options=ocp.CheckpointManagerOptions(max_to_keep=100, create=True),
    )
    step = iter(range(1, 1000))

    def save_ours():
      ours.save(next(step), state, force=True)
      ours.wait()

    def save_bare():
      bare.save(next(step), args=ocp.args.StandardSave(state), force=True)
      bare.wait_until_finished()

    out["save_ours_s"] = _best(save_ours, args.reps)
    out["save_orbax_s"] = _best(save_bare, args.reps)
    last = ours.latest_step()
    out["restore_ours_s"] = _best(
      lambda: jax.block_until_ready(ours.restore(last, abstract)), args.reps
    )
    out["restore_orbax_s"] = _best(
      lambda: jax.block_until_ready(
        ours.manager.restore(last, args=ocp.args.StandardRestore(abstract))
      ),
      args.reps,
    )
    ours.close()
    bare.close()
  out["hash_mib_per_s"] = out["state_mib"] / out["hash_s"]
  print(json.dumps(out, indent=1))


if __name__ == "__main__":
  main()
