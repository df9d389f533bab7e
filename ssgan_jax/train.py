"""The training loop: mesh, data, state, jitted step, logging, samples, checkpoints.

  from ssgan_jax import train
  train.train_and_evaluate(config, workdir)

Read top to bottom: shapes (eval_shape) -> shardings -> restore or sharded
init -> jit the step once -> loop. The run resumes automatically from the
newest checkpoint in `workdir/checkpoints`.
"""

import contextlib
import datetime
import fcntl
import functools
import os
import pathlib
import signal
import socket
import tempfile
import threading
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging
from clu import parameter_overview

from ssgan_jax import atomic
from ssgan_jax import checkpointing
from ssgan_jax import config_lib
from ssgan_jax import errors
from ssgan_jax import images as images_lib
from ssgan_jax import input_pipeline
from ssgan_jax import sharding
from ssgan_jax import state as state_lib
from ssgan_jax import train_step
from ssgan_jax import workdir as workdir_lib
from ssgan_jax import writers
from ssgan_jax.models import conv
from ssgan_jax.ssl import layout


def is_due(step: int, every: int, total: int) -> bool:
  """Whether a periodic action fires after `step` G steps (always at the end)."""
  return step % every == 0 or step == total


def out_of_time(done: int, wall_s: float, budget_s: float, config) -> bool:
  """Whether the wall-clock budget is spent after `done` G steps.

  `wall_s`: the run's training clock at `done` (its loop's seconds, over
  every invocation of a resumed run). Looked at on log steps only, and
  decided by process 0 so that every process stops at the same step; a
  check on every step would add a collective to every step of a
  multi-process run.
  """
  if done % config.log_every_steps:
    return False
  spent = np.array([float(wall_s >= budget_s)])
  return bool(sharding.from_process_0(spent, "train_budget")[0])


def resumed_clock(ckpt: checkpointing.Checkpointer, start: int):
  """The training clock to continue from at step `start`, in seconds.

  0.0 for a new run; for a resumed one, the seconds saved with its
  checkpoint, so that `train_minutes` and the evaluations' `train_wall_s`
  count the whole run rather than this invocation. None (with a warning)
  for a checkpoint saved without them: the run trains on with a budget
  counted from now, and its evaluations carry no clock rather than a wrong
  one.
  """
  if start == 0:
    return 0.0
  clock = ckpt.train_wall_s(start)
  if clock is None:
    logging.warning(
      "Checkpoint %s/%d has no training clock (saved by an older version):"
      " train_minutes counts from now and evaluations record no"
      " train_wall_s.",
      ckpt.directory,
      start,
    )
  return clock


def prepare_workdir(workdir: str) -> pathlib.Path:
  """Creates `workdir` and checks that this process can write there.

  Every process of a multi-process run checks the same (shared) directory at
  once, so each writes a probe file of its own: with one shared name a
  process could unlink the file another had just written, and take the
  other's success for an unwritable workdir.
  """
  path = pathlib.Path(workdir).absolute()
  try:
    path.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path, prefix=".write_test_"):
      pass
  except OSError as e:
    raise errors.UserError(
      f"workdir {path} is not writable ({e.strerror}); choose another"
      " --workdir."
    ) from None
  return path


LOCK_FILE = ".lock"


@contextlib.contextmanager
def workdir_lock(path: pathlib.Path):
  """Holds `path/.lock` so that a second run into the same workdir stops.

  Two runs writing one workdir would interleave checkpoints, TensorBoard
  files and config.json. The lock is an advisory `flock`, which the kernel
  releases when the holder exits, however it exits: after a crash or a
  SIGKILL the file stays but is not locked, and the next run takes it over
  (no stale-lock cleanup needed). The file records who holds it, for the
  second run's message. Taken by the first process of a run only (all
  processes of one run share the workdir).
  """
  if jax.process_index() != 0:
    yield
    return
  lock = path / LOCK_FILE
  with open(lock, "a+", encoding="utf-8") as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      f.seek(0)
      holder = f.read().strip() or "another process"
      raise errors.UserError(
        f"workdir {path} is in use by another run ({holder}); wait for it"
        " to finish or stop it, or choose another --workdir."
      ) from None
    f.seek(0)
    f.truncate()
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    f.write(f"pid {os.getpid()} on {socket.gethostname()} since {now}\n")
    f.flush()
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


def flat_hparams(config: ml_collections.ConfigDict) -> dict:
  """Config as a flat {dotted.name: scalar} dict for TensorBoard hparams."""
  out = {}

  def walk(prefix, value):
    if isinstance(value, (dict, ml_collections.ConfigDict)):
      for k in value.keys():
        walk(f"{prefix}{k}.", value[k])
    else:
      out[prefix[:-1]] = (
        value if isinstance(value, (int, float, str, bool)) else str(value)
      )

  walk("", config)
  return out


def make_sample_fn(
  comps: state_lib.Components, mesh, z: jax.Array, y: jax.Array | None = None
):
  """Jitted `state -> images [N, H, W, C]` for a fixed `z` (and labels `y`)."""
  return jax.jit(
    lambda st: state_lib.generate_samples(comps, st, z, y),
    out_shardings=sharding.replicated(mesh),
    compiler_options=conv.jit_options(mesh),
  )


def check_finite(metrics: dict, step: int, latest_step) -> None:
  """Stops training on a non-finite loss, naming the step and the loss.

  Args:
    metrics: the logged window's means.
    step: the step they end at.
    latest_step: () -> the newest checkpoint's step, None when there is
      none; the message names it (where a resumed run would start). Called
      only on failure.
  """
  bad = [k for k, v in metrics.items() if not np.all(np.isfinite(v))]
  if bad:
    saved_step = latest_step()
    kept = (
      "no checkpoint was written yet"
      if saved_step is None
      else f"the last good checkpoint (step {saved_step}) was kept"
    )
    raise errors.UserError(
      f"non-finite {', '.join(sorted(bad))} at step {step}; training stopped"
      f" and {kept}. Lower the learning rates or check the data."
    )


class StopSignal:
  """Records SIGTERM/SIGINT so the loop can checkpoint and stop cleanly.

  Only the main thread can install handlers; elsewhere (e.g. a test calling
  `train_and_evaluate` from a worker thread) the default behaviour stays.
  """

  def __init__(self):
    self.signum: int | None = None

  @contextlib.contextmanager
  def installed(self):
    if threading.current_thread() is not threading.main_thread():
      yield self
      return
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum, frame):
      del frame
      self.signum = signum

    for s in old:
      signal.signal(s, handler)
    try:
      yield self
    finally:
      for s, h in old.items():
        signal.signal(s, h)

  def received(self, at_boundary: bool) -> bool:
    """Whether to stop now: on every process alike.

    One process decides alone, on every step. With several, a process's
    signal counts at the next boundary step (`at_boundary`: the loop's log
    or checkpoint steps, where it syncs with the devices anyway), where all
    processes exchange their flags: an exchange on every step would be a
    blocking host round trip per step that ends asynchronous dispatch.
    """
    flag = self.signum is not None
    if jax.process_count() > 1:
      if not at_boundary:
        return False
      from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

      flag = bool(np.any(multihost_utils.process_allgather(np.asarray(flag))))
      if flag and self.signum is None:
        self.signum = signal.SIGTERM
    return flag


def train_and_evaluate(
  config: ml_collections.ConfigDict, workdir: str, checks_passed=None
):
  """Trains (or resumes) the run in `workdir`; returns the final state.

  `checks_passed`, if given, is called once every check that can fail on
  the user's inputs (config, data, files, workdir, checkpoint) has passed:
  the command line holds log lines back until then.
  """
  # Every check of the inputs before anything is written to the workdir.
  config_lib.validate(config)
  comps = state_lib.build_components(config)
  mesh = sharding.make_mesh(config.mesh)
  sharding.check_batch_size(
    config.batch_size, mesh, layout.group_size(list(comps.tasks))
  )
  # Data before anything is compiled: a missing dataset fails in seconds.
  source = input_pipeline.create_source(config, workdir)
  # Every eval block's files (weights, references, labelled images) now.
  from ssgan_jax.evaluation import periodic  # pylint: disable=g-import-not-at-top

  scorers = periodic.build_all(config)
  path = prepare_workdir(workdir)
  with workdir_lock(path):
    return _train(config, path, comps, mesh, source, scorers, checks_passed)


def _train(
  config, workdir: pathlib.Path, comps, mesh, source, scorers, checks_passed
):
  """train_and_evaluate's body, with the inputs checked, the workdir locked."""
  is_main = jax.process_index() == 0

  # --- RNG -------------------------------------------------------------------
  repl = sharding.replicated(mesh)
  # Named streams, born replicated on the mesh (no implicit transfers; on
  # several processes every process holds the same keys).
  init_rng, train_rng, sample_rng = jax.jit(
    lambda: tuple(jax.random.split(jax.random.key(config.seed), 3)),
    out_shardings=repl,
  )()

  # --- State: shapes first, then restore or sharded init -------------------
  init_fn = functools.partial(state_lib.init_state, comps)
  abstract = jax.eval_shape(init_fn, init_rng)
  ckpt = checkpointing.Checkpointer(
    workdir / "checkpoints", config.max_checkpoints_to_keep
  )
  state = ckpt.restore_latest(
    checkpointing.abstract_with_shardings(abstract, repl)
  )
  # Every check that can fail on the inputs has passed.
  if checks_passed is not None:
    checks_passed()
  logging.info(
    "JAX: %d processes, %d devices (%s).",
    jax.process_count(),
    jax.device_count(),
    jax.devices()[0].platform,
  )
  if state is None:
    state = jax.jit(init_fn, out_shardings=repl)(init_rng)
    start = 0
  else:
    start = int(sharding.to_host(state.step))
    logging.info("Resumed from %s at step %d.", ckpt.directory, start)
  if is_main:
    atomic.write_json(workdir / workdir_lib.CONFIG_FILE, config.to_dict())
    input_pipeline.record(source, workdir)

  writer = writers.create(str(workdir), is_main)
  if start == 0:
    writer.write_hparams(flat_hparams(config))
    if is_main:
      for name, params in (("G", state.g.params), ("D", state.d.params)):
        parameter_overview.log_parameter_overview(
          sharding.to_host(params), msg=f"{name} params"
        )

  # --- Compile -------------------------------------------------------------
  batch_sh = sharding.batch_sharding(mesh, 5, batch_axis=1)
  in_shardings = (repl, batch_sh, repl)
  if comps.conditional:  # labels [n_dis, B], sharded like the images
    in_shardings += (sharding.batch_sharding(mesh, 2, batch_axis=1),)
  step_fn = jax.jit(
    train_step.make_train_step(comps, mesh),
    in_shardings=in_shardings,
    out_shardings=(repl, repl),
    donate_argnums=0,
    compiler_options=conv.jit_options(mesh),
  )
  z_fixed = jax.jit(
    lambda k: state_lib.sample_z(k, config.num_sample_images, config),
    out_shardings=repl,
  )(sample_rng)
  y_fixed = None
  if comps.conditional:
    # Sample i draws class i mod K: with K columns each grid row walks
    # through the classes.
    y_fixed = jax.jit(
      lambda: (
        jnp.arange(config.num_sample_images, dtype=jnp.int32)
        % comps.num_classes
      ),
      out_shardings=repl,
    )()
  sample_fn = make_sample_fn(comps, mesh, z_fixed, y_fixed)
  from ssgan_jax.evaluation import periodic  # pylint: disable=g-import-not-at-top

  evaluations = periodic.make_all(config, comps, mesh, workdir, scorers)
  # --- Clock -----------------------------------------------------------
  # One training clock per run: a resumed run continues the saved one.
  total = config.total_steps
  budget_s = 60.0 * float(config.train_minutes)
  clock0 = resumed_clock(ckpt, start)
  timed = clock0 is not None
  if (
    budget_s
    and timed
    and 0 < start < total
    and out_of_time(start, clock0, budget_s, config)
  ):
    # The run that saved `start` ended there on its budget.
    logging.info(
      "This run's wall-clock budget (train_minutes=%s) was spent by step"
      " %d (%.1f s of training); nothing to train. Raise"
      " --config.train_minutes to train on.",
      config.train_minutes,
      start,
      clock0,
    )
    total = start
  for evaluation in evaluations:
    evaluation.resume(state, start, total, writer, train_wall_s=clock0)

  # --- Loop ----------------------------------------------------------------
  report = writers.Progress(total, config.log_every_steps, writer)
  window: list[dict] = []  # device metrics since the last host fetch
  # The first step's gradient all-reduce is the first device collective:
  # start it together on every process.
  sharding.barrier("train_loop")
  t_start = time.time()
  t0 = t_start - (clock0 or 0.0)  # the run's clock is time.time() - t0

  def clock() -> float | None:
    return time.time() - t0 if timed else None

  with StopSignal().installed() as stop:
    for step in range(start, total):
      if comps.conditional:
        local, local_labels = source.host_batch(step, with_labels=True)
        batch = (
          sharding.host_to_global(local, mesh),
          sharding.host_to_global(local_labels, mesh),
        )
      else:
        batch = (sharding.host_to_global(source.host_batch(step), mesh),)
      with jax.transfer_guard("disallow"):
        state, metrics = step_fn(state, batch[0], train_rng, *batch[1:])
      done = step + 1
      wall_s = time.time() - t0
      if (
        budget_s
        and done < total
        and out_of_time(done, wall_s, budget_s, config)
      ):
        total = done  # this is the last step: log, save, sample, evaluate
      window.append(metrics)
      report(done, total)
      log_now = is_due(done, config.log_every_steps, total)
      save_now = is_due(done, config.checkpoint_every_steps, total)
      stopping = stop.received(at_boundary=log_now or save_now)
      if log_now or save_now or stopping:
        # Fetch before saving: a non-finite loss stops the run here, so the
        # last good checkpoint is never overwritten by a broken state.
        host = sharding.to_host(window)
        window = []
        summary = {k: float(np.mean([m[k] for m in host])) for k in host[0]}
        check_finite(summary, done, ckpt.latest_step)
        if log_now:
          writer.write_scalars(done, summary)
      if is_due(done, config.sample_every_steps, total):
        # Every process runs the (global) sampling computation; only the
        # first one writes files.
        samples = sharding.to_host(sample_fn(state))
        if is_main:
          grid = images_lib.save_grid(
            samples, workdir / "samples" / f"step_{done:07d}.png"
          )
          writer.write_images(done, {"samples": grid[None]})
      if save_now or stopping:
        ckpt.save(
          done, state, force=True, train_wall_s=wall_s if timed else None
        )
      if stopping:
        ckpt.wait()
        writer.flush()
        ckpt.close()
        for evaluation in evaluations:
          evaluation.close()
        raise errors.Preempted(stop.signum, done, str(ckpt.directory))
      for evaluation in evaluations:
        if evaluation.due(done, total):
          evaluation.run(state, done, writer, train_wall_s=clock())
      if done == total:
        break
  ckpt.wait()
  writer.flush()
  ckpt.close()
  for evaluation in evaluations:
    evaluation.close()
  if start < total:
    logging.info(
      "Trained steps %d..%d in %.1f s.", start, total, time.time() - t_start
    )
  return state
