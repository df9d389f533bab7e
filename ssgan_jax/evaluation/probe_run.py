"""The probe of a saved run: `python -m ssgan_jax.evaluate --evaluator probe`.

  from ssgan_jax.evaluation import probe_run
  result = probe_run.probe_workdir("runs/fmnist_ssgan")  # latest checkpoint
  print(probe_run.summary(result))

Loads a workdir's checkpoint and runs `probe.probe_state` on the run's
labelled splits (probe.py has the features, the fits and what they mean);
writes `<workdir>/eval/probe_step_<N>.json`. Kept apart from probe.py, which
the periodic evaluator uses during training, so that the evaluators never
import the workdir and sampling modules (which import the config checks,
which import the evaluators).
"""

import os
import pathlib

from ssgan_jax import atomic
from ssgan_jax import errors
from ssgan_jax import sampling
from ssgan_jax import workdir as workdir_lib
from ssgan_jax.evaluation import probe
from ssgan_jax.evaluation.probe import DEFAULT_L2
from ssgan_jax.evaluation.probe import DEFAULT_MAX_STEPS
from ssgan_jax.evaluation.probe import DEFAULT_TOL


def _check_limit(value: int | None, flag: str) -> None:
  if value is not None and value <= 0:
    raise errors.UserError(f"--{flag}={value} must be a positive integer.")


def probe_workdir(
  workdir: str | os.PathLike,
  step: int | None = None,
  train_limit: int | None = None,
  test_limit: int | None = None,
  batch_size: int | None = None,
  l2: float = DEFAULT_L2,
  max_steps: int = DEFAULT_MAX_STEPS,
  tol: float = DEFAULT_TOL,
  progress: bool = True,
  best: bool = False,
) -> dict:
  """Probes the D of a run's checkpoint; writes eval/probe_step_<N>.json.

  Args:
    workdir: a training workdir (config.json and checkpoints/<step>/).
    step: checkpoint to probe; default the newest.
    train_limit: fit on the first this many train images (default all 60k);
      for quick checks only.
    test_limit: score on the first this many test images (default all 10k).
    batch_size: images per D call, a multiple of the device count; default
      `sampling.default_batch_size()`.
    l2, max_steps, tol: see `probe.fit_linear_probe`.
    progress: tqdm bars on stderr.
    best: probe the best checkpoint periodic evaluation kept.

  Returns:
    A flat dict: per D block i (1 = first, as D's modules are named)
    `probe/block{i}/top1_test`, `.../top1_train`, `.../loss_train`,
    `.../loss_test`, `.../dim`, `.../steps`, `.../converged`;
    `probe/<task>/top1` for each ssl task of the run (its head on the
    views of the real test images, see `probe.ssl_head_accuracy`; none for a
    plain GAN); `num_train`, `num_test`,
    `train_split`, `test_split`, the probe settings, `workdir`, `step`
    and `seconds` spent on features and fits.

  Raises:
    errors.UserError: one line for every problem with the arguments, the
      workdir or its checkpoints.
  """
  _check_limit(train_limit, "probe_train_limit")
  _check_limit(test_limit, "probe_test_limit")
  if batch_size is None:
    batch_size = sampling.default_batch_size()
  workdir, config, comps = workdir_lib.load_components(workdir)
  loaded = workdir_lib.load(workdir, step, best, (workdir, config, comps))
  state, step, mesh = loaded.state, loaded.step, loaded.mesh
  probe.check_batch_size(batch_size, mesh)

  data = probe.load_probe_data(config, train_limit, test_limit, workdir)
  result = probe.probe_state(
    comps, state, mesh, data, batch_size, l2, max_steps, tol, progress
  )
  if result is None:
    raise errors.UserError(
      f"D at step {step} of {workdir} gives non-finite features; the run"
      " diverged before this checkpoint, probe an earlier --step."
    )
  result.update({"workdir": str(workdir), "step": step})
  path = result_path(workdir, step)
  try:
    atomic.write_json(path, result)
  except OSError as e:
    raise errors.UserError(
      f"cannot write {path} ({e.strerror or errors.first_line(e)})."
    ) from None
  return result


def result_path(workdir: str | os.PathLike, step: int) -> pathlib.Path:
  """Where `probe_workdir` writes the result of checkpoint `step`."""
  return pathlib.Path(workdir) / "eval" / f"probe_step_{step}.json"


# --- Command line ------------------------------------------------------------


def evaluate(
  workdir: str | None = None,
  images: str | None = None,
  step: int | None = None,
  batch_size: int | None = None,
  train_limit: int | None = None,
  test_limit: int | None = None,
  sampling_flags: tuple[str, ...] = (),
  progress: bool = True,
  best: bool = False,
) -> dict:
  """What `python -m ssgan_jax.evaluate --probe` does.

  Args:
    workdir, step, batch_size, train_limit, test_limit: as for
      `probe_workdir`; None means "flag not given".
    images: must be None: a probe needs a run's D, not images.
    sampling_flags: names of the given flags that only sample scoring uses
      (e.g. "num_samples"); they are an error here.
    progress: tqdm bars on stderr.
  """
  if images:
    raise errors.UserError(
      "--probe measures a run's discriminator and needs --workdir DIR, not"
      " --images."
    )
  if not workdir:
    raise errors.UserError("--probe needs --workdir DIR (a training run).")
  if sampling_flags:
    given = ", ".join(f"--{f}" for f in sampling_flags)
    raise errors.UserError(
      f"{given} {'applies' if len(sampling_flags) == 1 else 'apply'} only to"
      " sample scoring; --probe draws no samples."
    )
  return probe_workdir(
    workdir,
    step=step,
    train_limit=train_limit,
    test_limit=test_limit,
    batch_size=batch_size,
    progress=progress,
    best=best,
  )


def summary(result: dict) -> str:
  """Human-readable lines; every number names its N and split."""
  n_train, n_test = result["num_train"], result["num_test"]
  lines = [
    f"Linear probe of D at step {result['step']} of {result['workdir']}:",
    f"logistic regression (l2={result['l2']:g}) on each block's"
    " average-pooled features,",
    f"fitted on {n_train} {result['train_split']} images, scored on"
    f" {n_test} {result['test_split']} images.",
  ]
  for i in range(1, result["num_blocks"] + 1):
    r = lambda k, i=i: result[f"probe/block{i}/{k}"]
    note = "" if r("converged") else f" (not converged in {r('steps')} steps)"
    lines.append(
      f"  block{i}  dim {r('dim'):4d}  top1_test {r('top1_test'):.4f}"
      f"  top1_train {r('top1_train'):.4f}  [N={n_test} vs"
      f" {result['test_split']}]{note}"
    )
  for name in result["ssl_tasks"]:
    lines.append(
      f"  {name} head  top1 {result[f'probe/{name}/top1']:.4f} on every view"
      f" of the real images  [N={n_test} {result['test_split']}]"
    )
  if not result["ssl_tasks"]:
    lines.append("  no ssl heads to score: the run is a plain GAN")
  lines.append(f"Written to {result_path(result['workdir'], result['step'])}.")
  return "\n".join(lines)
