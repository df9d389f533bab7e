"""The training loop: mesh, data, state, jitted step, logging, samples, checkpoints.

  from ssgan_jax import train
  train.train_and_evaluate(config, workdir)

Read top to bottom: shapes (eval_shape) -> shardings -> restore or sharded
init -> jit the step once -> loop. The run resumes automatically from the
newest checkpoint in `workdir/checkpoints`.
"""

import functools
import json
import os
import pathlib
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging
from clu import metric_writers
from clu import parameter_overview
from clu import periodic_actions

from ssgan_jax import checkpointing
from ssgan_jax import config_lib
from ssgan_jax import errors
from ssgan_jax import images as images_lib
from ssgan_jax import input_pipeline
from ssgan_jax import sharding
from ssgan_jax import state as state_lib
from ssgan_jax import train_step
from ssgan_jax.models import layers
from ssgan_jax.ssl import layout


def is_due(step: int, every: int, total: int) -> bool:
  """Whether a periodic action fires after `step` G steps (always at the end)."""
  return step % every == 0 or step == total


def prepare_workdir(workdir: str) -> pathlib.Path:
  path = pathlib.Path(workdir).absolute()
  try:
    path.mkdir(parents=True, exist_ok=True)
    probe = path / ".write_test"
    probe.write_text("ok")
    probe.unlink()
  except OSError as e:
    raise errors.UserError(
        f"workdir {path} is not writable ({e.strerror}); choose another"
        " --workdir."
    ) from None
  return path


def write_json_atomic(path: pathlib.Path, obj) -> None:
  tmp = path.with_name(path.name + ".tmp")
  tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
  os.replace(tmp, path)


def flat_hparams(config: ml_collections.ConfigDict) -> dict:
  """Config as a flat {dotted.name: scalar} dict for TensorBoard hparams."""
  out = {}

  def walk(prefix, value):
    if isinstance(value, (dict, ml_collections.ConfigDict)):
      for k in value.keys():
        walk(f"{prefix}{k}.", value[k])
    else:
      out[prefix[:-1]] = (
          value if isinstance(value, (int, float, str, bool)) else str(value))

  walk("", config)
  return out


def make_sample_fn(comps: state_lib.Components, mesh, z: jax.Array):
  """Jitted `state -> images [N, H, W, C]` for a fixed `z` (G eval mode)."""
  repl = sharding.replicated(mesh)

  def sample(st: state_lib.GANState):
    params = state_lib.sampling_params(st)
    out, _ = state_lib.apply_net(
        comps.generator, params, st.g.variables, z, train=False)
    return out

  return jax.jit(sample, out_shardings=repl)


def check_finite(metrics: dict, step: int) -> None:
  """Stops training on a non-finite loss, naming the step and the loss."""
  bad = [k for k, v in metrics.items() if not np.all(np.isfinite(v))]
  if bad:
    raise errors.UserError(
        f"non-finite {', '.join(sorted(bad))} at step {step}; training stopped"
        " and the last good checkpoint was kept. Lower the learning rates or"
        " check the data."
    )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str):
  """Trains (or resumes) the run in `workdir`; returns the final state."""
  config_lib.validate(config)
  workdir = prepare_workdir(workdir)
  is_main = jax.process_index() == 0

  # --- Components, mesh, RNG -------------------------------------------------
  comps = state_lib.build_components(config)
  mesh = sharding.make_mesh(config.mesh)
  sharding.check_batch_size(
      config.batch_size, mesh, layout.group_size(list(comps.tasks)))
  init_rng, train_rng, sample_rng = jax.random.split(
      jax.random.key(config.seed), 3)
  repl = sharding.replicated(mesh)

  # --- State: shapes first, then restore or sharded init -------------------
  init_fn = functools.partial(state_lib.init_state, comps)
  abstract = jax.eval_shape(init_fn, init_rng)
  ckpt = checkpointing.Checkpointer(
      workdir / "checkpoints", config.max_checkpoints_to_keep)
  state = ckpt.restore_latest(
      checkpointing.abstract_with_shardings(abstract, repl))
  if state is None:
    state = jax.jit(init_fn, out_shardings=repl)(init_rng)
    start = 0
  else:
    start = int(jax.device_get(state.step))
    logging.info("Resumed from %s at step %d.", ckpt.directory, start)
  if is_main:
    write_json_atomic(workdir / "config.json", config.to_dict())

  writer = metric_writers.create_default_writer(
      str(workdir), just_logging=not is_main, asynchronous=True)
  if start == 0:
    writer.write_hparams(flat_hparams(config))
    parameter_overview.log_parameter_overview(state.g.params, msg="G params")
    parameter_overview.log_parameter_overview(state.d.params, msg="D params")

  # --- Compile -------------------------------------------------------------
  batch_sh = sharding.batch_sharding(mesh, 5, batch_axis=1)
  step_fn = jax.jit(
      train_step.make_train_step(comps, mesh),
      in_shardings=(repl, batch_sh, repl),
      out_shardings=(repl, repl),
      donate_argnums=0,
  )
  z_fixed = jax.jit(
      lambda k: state_lib.sample_z(k, config.num_sample_images, config),
      out_shardings=repl)(sample_rng)
  sample_fn = make_sample_fn(comps, mesh, z_fixed)
  source = input_pipeline.create_source(config, start)

  # --- Loop ----------------------------------------------------------------
  total = config.total_steps
  report = periodic_actions.ReportProgress(
      num_train_steps=total, writer=writer, every_secs=None,
      every_steps=config.log_every_steps)
  window: list[dict] = []
  t0 = time.time()
  for step in range(start, total):
    images = sharding.host_to_global(source.host_batch(step), mesh)
    with jax.transfer_guard("disallow"):
      state, metrics = step_fn(state, images, train_rng)
    done = step + 1
    window.append(metrics)
    report(done)
    last = done == total
    if is_due(done, config.log_every_steps, total) or is_due(
        done, config.checkpoint_every_steps, total):
      host = jax.device_get(window)
      window = []
      summary = {k: float(np.mean([m[k] for m in host])) for k in host[0]}
      check_finite(summary, done)
      if is_due(done, config.log_every_steps, total):
        writer.write_scalars(done, summary)
    if is_main and is_due(done, config.sample_every_steps, total):
      grid = images_lib.save_grid(
          jax.device_get(sample_fn(state)),
          workdir / "samples" / f"step_{done:07d}.png")
      writer.write_images(done, {"samples": grid[None]})
    if is_due(done, config.checkpoint_every_steps, total):
      ckpt.save(done, state, force=last)
  ckpt.wait()
  writer.flush()
  if start < total:
    logging.info("Trained steps %d..%d in %.1f s.", start, total,
                 time.time() - t0)
  ckpt.close()
  return state
