"""Evaluation during training: score the run on each block's schedule.

  evaluations = periodic.make_all(config, comps, mesh, workdir, scorers)
  for e in evaluations:
    if e.due(step, total):
      result = e.run(state, step, writer)

Every evaluation block of the config (evaluators.blocks: the main `eval`
and each `evals.<name>`) with every_steps > 0 is one `PeriodicEvaluator`.
A block whose evaluator scores samples has every process draw
`num_samples` images with the same jitted, mesh-sharded sampler as `python
-m ssgan_jax.evaluate` (fixed codes from its `seed`, so curves compare like
with like) and score them; a block whose evaluator reads the state (the
probe) scores the state itself. Then

- the full result goes to `<workdir>/eval/during_training/step_<N>.json`
  for the main block (the format of the command-line evaluator, which
  writes its usually larger evaluations to `<workdir>/eval/step_<N>.json`)
  and to `<workdir>/eval/<name>/step_<N>.json` for `evals.<name>`,
- the block's `metrics` go to TensorBoard: `eval/<metric>` for the main
  block, `<name>/<metric>` for the others (a metric that already starts
  with `<name>/`, as the probe's `probe/block4/top1_test` under block
  `probe`, keeps its name); a probe block with no `metrics` logs every
  block's test top-1 and every ssl head's top-1,
- when the main block's `eval.best_metric` improves, the whole state is
  saved to `<workdir>/best_checkpoint/<N>` (Orbax, one kept; the previous
  best is only removed after the new one is complete) and
  `<workdir>/eval/best.json` records {metric, mode, value, step} for people
  and tools.

A resumed run takes the best so far from what is on disk for certain: the
step of the checkpoint in `best_checkpoint/` and that step's score in
`eval/during_training/` (written before the save began), so a stop between
the save and best.json cannot make it forget or misname the best. An
evaluation that a stop cut short (or the final one) runs again at the start
of the resumed run (`resume`), block by block. On several processes,
process 0 reads the files and decides "better or not"; the others follow
its answer, so all of them take part in the same saves.

The evaluators themselves (a registry by name, the metrics with their
better-direction, the eval blocks' checks) are in `evaluators.py`.
"""

import json
import pathlib

import jax
import ml_collections
import numpy as np
from absl import logging

from ssgan_jax import atomic
from ssgan_jax import checkpointing
from ssgan_jax import errors
from ssgan_jax import sampling
from ssgan_jax import sharding
from ssgan_jax import state as state_lib
from ssgan_jax.evaluation import evaluators


class PeriodicEvaluator:
  """Samples, scores, logs and keeps the best checkpoint during training."""

  def __init__(
    self,
    config: ml_collections.ConfigDict,
    comps: state_lib.Components,
    mesh,
    workdir: pathlib.Path,
    score,
    field: str = evaluators.MAIN,
  ):
    """`score` is `evaluators.build(config, field)`, built before the
    workdir is; `field` names the block ("eval" or "evals.<name>")."""
    self.field = field
    self.config = evaluators.block_of(config, field)
    self.evaluator = evaluators.EVALUATORS.get(self.config.evaluator)
    self.reads = self.evaluator.reads
    self.comps = comps
    self.mesh = mesh
    self.workdir = pathlib.Path(workdir)
    self.is_main = jax.process_index() == 0
    self.score = score
    main = field == evaluators.MAIN
    # Where results go and how TensorBoard names them.
    self.name = "during_training" if main else evaluators.block_name(field)
    self.tag = "eval" if main else self.name
    self.metric = self.config.best_metric if main else ""
    self.mode = (
      evaluators.metric_mode(config, self.metric) if self.metric else "min"
    )
    self.best_path = self.workdir / "eval" / "best.json"
    self.best: float | None = None
    self.best_step: int | None = None
    self.best_ckpt = None
    self._sampler = None  # compiled at the first evaluation, then reused
    if self.metric:
      self.best_ckpt = checkpointing.Checkpointer(
        self.workdir / "best_checkpoint", max_to_keep=1
      )
      self._load_best()

  def _result_path(self, step: int) -> pathlib.Path:
    return self.workdir / "eval" / self.name / f"step_{step}.json"

  def _read_best(self) -> tuple[float, int] | None:
    """(value, step) of the kept best checkpoint, from the files on disk."""
    steps = self.best_ckpt.all_steps()
    if not steps:
      return None
    step = steps[-1]
    try:
      value = float(
        json.loads(self._result_path(step).read_text())[self.metric]
      )
    except (OSError, ValueError, KeyError, TypeError) as e:
      logging.warning(
        "No %s score for the best checkpoint %s/%d (%s); a new best will"
        " replace it.",
        self.metric,
        self.best_ckpt.directory,
        step,
        e,
      )
      return None
    return value, step

  def _load_best(self) -> None:
    found = self._read_best() if self.is_main else None
    # [found?, value, step] from process 0, the same on every process.
    record = np.array([1.0, *found] if found else [0.0, 0.0, 0.0], np.float64)
    record = sharding.from_process_0(record, "periodic_eval_best")
    if record[0]:
      self.best, self.best_step = float(record[1]), int(record[2])
      self._write_best_json()  # mends a best.json a stop left behind

  def _write_best_json(self) -> None:
    if not self.is_main:
      return
    atomic.write_json(
      self.best_path,
      {
        "metric": self.metric,
        "mode": self.mode,
        "value": self.best,
        "step": self.best_step,
        "checkpoint": str(self.best_ckpt.directory / str(self.best_step)),
      },
    )

  def due(self, step: int, total: int) -> bool:
    every = self.config.every_steps
    return step % every == 0 or step == total

  def run(
    self,
    state: state_lib.GANState,
    step: int,
    writer,
    train_wall_s: float | None = None,
  ) -> dict:
    """Evaluates `state` after `step` G steps; returns the result dict.

    `train_wall_s`: the run's training clock, the seconds its training
    loop has run (evaluations included, over every invocation of a resumed
    run), stored with the result for curves against wall-clock time.
    """
    if self.reads == "samples":
      result = self._score_samples(state, step)
    else:
      result = {
        **self.score(self.comps, state, self.mesh),
        "evaluator": self.config.evaluator,
      }
    result = {
      **result,
      "workdir": str(self.workdir),
      "step": step,
      "during_training": True,
    }
    if train_wall_s is not None:
      result["train_wall_s"] = float(train_wall_s)
    logged = self._logged(result)
    if self.is_main:
      atomic.write_json(self._result_path(step), result)
      writer.write_scalars(
        step, {self._tag(m): float(result[m]) for m in logged}
      )
    if self.metric:
      # Process 0's value and verdict, so that every process saves or not.
      better = evaluators.is_better(
        float(result[self.metric]), self.best, self.mode
      )
      verdict = sharding.from_process_0(
        np.array([float(better), float(result[self.metric])], np.float64),
        "periodic_eval_verdict",
      )
      value = float(verdict[1])
      if verdict[0]:
        # A resumed run may evaluate the kept best step again; it is kept.
        if step not in self.best_ckpt.all_steps():
          self.best_ckpt.save(step, state, force=True)
          # best.json only names a checkpoint once it is complete.
          self.best_ckpt.wait()
        self.best, self.best_step = value, step
        self._write_best_json()
      writer.write_scalars(step, {f"eval/best_{self.metric}": self.best})
    logging.info(
      "Eval %s at step %d: %s",
      self.field,
      step,
      ", ".join(f"{m}={float(result[m]):.4g}" for m in logged),
    )
    return result

  def _score_samples(self, state: state_lib.GANState, step: int) -> dict:
    if self._sampler is None:
      self._sampler = sampling.make_sampler(
        self.comps, self.mesh, self.config.batch_size
      )
    samples = sampling.generate(
      self.comps,
      state,
      self.mesh,
      self.config.num_samples,
      self.config.batch_size,
      seed=self.config.seed,
      progress=False,
      sampler=self._sampler,
    )
    if not np.all(np.isfinite(samples)):
      raise errors.UserError(
        f"G produces non-finite images at step {step}; training stopped."
        " Lower the learning rates or check the data."
      )
    return {
      **self.score(samples),
      "source": "generator",
      "generator_weights": sampling.generator_weights(self.comps, state),
      "sample_seed": self.config.seed,
      "sample_batch_size": self.config.batch_size,
    }

  def _logged(self, result: dict) -> list[str]:
    """The result's metrics that go to TensorBoard and the log line."""
    return self.evaluator.logged(self.config, result)

  def _tag(self, metric: str) -> str:
    if metric.startswith(self.tag + "/"):
      return metric
    return f"{self.tag}/{metric}"

  def resume(
    self,
    state: state_lib.GANState,
    step: int,
    total: int,
    writer,
    train_wall_s: float | None = None,
  ):
    """At the start of a resumed run: the evaluation of `step`, if it is due
    and a stop cut it short (or it is the final one, which a finished loop
    would never reach again). `train_wall_s`: the clock saved with the
    checkpoint of `step`, recorded as in `run`."""
    if step == 0 or not self.due(step, total):
      return
    done = self._result_path(step).is_file() if self.is_main else False
    if not sharding.from_process_0(
      np.array([float(done)]), "periodic_eval_resume"
    )[0]:
      logging.info("Evaluating step %d, which the last run did not.", step)
      self.run(state, step, writer, train_wall_s=train_wall_s)

  def close(self) -> None:
    if self.best_ckpt is not None:
      self.best_ckpt.wait()
      self.best_ckpt.close()


def make_all(
  config: ml_collections.ConfigDict,
  comps: state_lib.Components,
  mesh,
  workdir: pathlib.Path,
  scorers: dict,
) -> list[PeriodicEvaluator]:
  """One PeriodicEvaluator per active block; `scorers` is `build_all`'s."""
  return [
    PeriodicEvaluator(config, comps, mesh, workdir, score, field)
    for field, score in scorers.items()
  ]


def build_all(config: ml_collections.ConfigDict) -> dict:
  """Field -> built scorer of every active block (evaluators.active), in the
  order the blocks run: each reads its files now, before the workdir is
  written."""
  return {
    field: evaluators.build(config, field)
    for field in evaluators.active(config)
  }
