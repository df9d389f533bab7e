"""How good are D's features? Linear probes per block and ssl head accuracy.

  from ssgan_jax.evaluation import probe
  data = probe.load_probe_data(config, train_limit=None, test_limit=None)
  result = probe.probe_state(comps, state, mesh, data, batch_size=512)

(`probe_run.probe_workdir` probes a saved run's checkpoint; the periodic
evaluator calls `make_state_scorer` during training.)

The paper's Tables 3-4 measure the representation a GAN discriminator
learns: freeze D, take the output of each block, and fit a multinomial
logistic regression on labelled real images; self-supervision should raise
that accuracy, most of all in the last blocks. Here each block's output
[N, H, W, C] is global-average-pooled to [N, C] (D's `block_features`; the
paper does not say how it pooled, see PAPER.md section 5), standardised
with the mean and std of the training split, and fitted on the whole
training split (`dataset.split`; any labelled dataset with a held-out
split: Fashion-MNIST, TFDS) by full-batch L-BFGS; top-1 is read on
`dataset.eval_split`. `ssl_head_accuracy` measures each self-supervised task of the run
(config.ssl) itself: how often D's head of the task gives the views of a
real test image their class, e.g. the rotation head names the angle of an
image turned by 0, 90, 180 or 270 degrees.

Everything is deterministic: full-batch L-BFGS from zero weights on a
strictly convex objective (l2 > 0), with no sampling anywhere.
"""

import dataclasses
import functools
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import tqdm

from ssgan_jax import errors
from ssgan_jax import input_pipeline
from ssgan_jax import preprocess
from ssgan_jax import sharding
from ssgan_jax import state as state_lib

# Defaults of the logistic regression, used by the library and the CLI.
# l2 multiplies 0.5 * ||W||^2 (bias not penalised) next to the mean
# cross-entropy on standardised features; 1e-4 barely regularises, which
# suits 60k examples of at most a few hundred features, and is the same for
# every block so that blocks stay comparable.
DEFAULT_L2 = 1e-4
# L-BFGS stops when the gradient norm of that objective (in the solver's
# coordinates, see _preconditioner) falls below DEFAULT_TOL or after
# DEFAULT_MAX_STEPS iterations, whichever comes first; the result records
# which (`converged`). Measured: 90-160 iterations on a width-32 D's blocks
# and ~350 on 60k x 256 features; tol 1e-6 moved no top-1 by more than
# 1e-4, tol 1e-4 moved the 256-feature test top-1 by 3e-4.
DEFAULT_TOL = 1e-5
DEFAULT_MAX_STEPS = 1000


# --- D's features ------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("module",))
def _block_features(module, params, variables, images):
  """images [B, H, W, C] -> tuple of [B, C_i] pooled block outputs."""
  (_, extras), _ = state_lib.apply_net(
    module, params, variables, images, train=False
  )
  return extras["block_features"]


@functools.partial(jax.jit, static_argnames=("module", "task"))
def _head_correct(module, params, variables, images, task):
  """images [B, H, W, C] -> bool [B, k]: `task`'s head right on each view."""
  # Views of the task's own making (fixed key: rotations need none).
  views, labels = task.views(images, jax.random.key(0))  # [B, k, ...], [B, k]
  b, k = labels.shape
  # Example-major flattening keeps each example's views on its own device.
  flat = views.reshape((b * k,) + images.shape[1:])  # [kB, H, W, C]
  (_, extras), _ = state_lib.apply_net(
    module, params, variables, flat, train=False
  )
  logits = extras["aux_logits"][task.name]  # [kB, classes]
  return task.real_correct(logits.reshape(b, k, -1), labels)


def check_batch_size(batch_size: int, mesh) -> None:
  n = sharding.data_size(mesh)
  if batch_size <= 0 or batch_size % n:
    raise errors.UserError(
      f"--batch_size={batch_size} must be a positive multiple of the"
      f" {n} device(s), e.g. {max(n, batch_size - batch_size % n)}."
    )


def _check_images(images: np.ndarray) -> np.ndarray:
  images = np.asarray(images)
  if images.ndim != 4 or not np.issubdtype(images.dtype, np.floating):
    raise errors.UserError(
      "D takes float images [N, H, W, C] in [-1, 1], got"
      f" {images.dtype} {images.shape}; convert uint8 with"
      " ssgan_jax.preprocess.to_float."
    )
  return images


def _batches(fn, state, images, batch_size, mesh, desc, progress):
  """Runs `fn(module, params, variables, batch)` over fixed-size batches.

  The last batch is padded with zeros, so the step compiles once per batch
  size whatever N is; the padded rows are cut from every output. Transfers
  are explicit (device_put in, device_get out).

  Returns:
    A list with one [N, ...] numpy array per output of `fn`.
  """
  check_batch_size(batch_size, mesh)
  images = _check_images(images)
  n = len(images)
  d = jax.device_put(
    (state.d.params, state.d.variables), sharding.replicated(mesh)
  )
  in_sharding = sharding.batch_sharding(mesh, ndim=4)
  chunks = []
  with tqdm.tqdm(
    total=n, desc=desc, unit="img", disable=not progress, file=sys.stderr
  ) as bar:
    for start in range(0, n, batch_size):
      batch = images[start : start + batch_size].astype(np.float32)
      m = len(batch)
      if m < batch_size:
        batch = np.pad(batch, ((0, batch_size - m),) + ((0, 0),) * 3)
      out = jax.device_get(fn(*d, jax.device_put(batch, in_sharding)))
      chunks.append([np.asarray(o[:m]) for o in jax.tree.leaves(out)])
      bar.update(m)
  return [np.concatenate(parts) for parts in zip(*chunks)]


def extract_block_features(
  comps: state_lib.Components,
  state: state_lib.GANState,
  images: np.ndarray,
  batch_size: int,
  mesh,
  progress: bool = False,
) -> list[np.ndarray]:
  """Average-pooled outputs of every D block for a set of images.

  D is frozen and runs with `train=False` (spectral-norm estimates are read,
  not updated), so the features are those of the checkpoint as saved.

  Args:
    comps: the run's components (D is `comps.discriminator`).
    state: a GANState; only `state.d` is read.
    images: float [N, H, W, C] in [-1, 1].
    batch_size: images per device call, a multiple of the mesh's `data` size.
    mesh: the device mesh; batches are sharded over `data`.
    progress: show a tqdm bar on stderr.

  Returns:
    One float32 [N, C_i] array per D block, first block first.
  """
  fn = functools.partial(_block_features, comps.discriminator)
  feats = _batches(fn, state, images, batch_size, mesh, "D features", progress)
  return [f.astype(np.float32) for f in feats]


def ssl_head_accuracy(
  comps: state_lib.Components,
  state: state_lib.GANState,
  images: np.ndarray,
  batch_size: int,
  mesh,
  task: str = "rotation",
  progress: bool = False,
) -> float:
  """Top-1 of D's head of ssl task `task` on the views of real `images`.

  Every image is shown in all the task's views (rotation: turned by 0, 90,
  180 and 270 degrees, label k = `jnp.rot90` by k as in training, so
  chance is 0.25 and every angle weighs the same), and the head is right
  when it gives the view the class of a *real* view (`SSLTask.
  real_correct`: SSGAN-MS's angle, not its fake class; SSGAN-LA's (angle,
  real) class).

  Args:
    comps: the run's components; `task` must be one of its ssl tasks.
    state: a GANState; only `state.d` is read.
    images: real float [N, H, W, C] in [-1, 1], square.
    batch_size: images per device call (D sees k views of each), a
      multiple of the mesh's `data` size.
    mesh: the device mesh.
    task: the task's name in config.ssl (its head's name on D).
    progress: show a tqdm bar on stderr.

  Returns:
    The share of the N * k views that D's head classifies right.

  Raises:
    errors.UserError: the run has no task `task` (the message lists the
      tasks it has), or bad images / batch size.
  """
  tasks = {t.name: t for t in comps.tasks}
  if task not in tasks:
    has = ", ".join(tasks) if tasks else "none, it is a plain GAN"
    raise errors.UserError(
      f"the run has no {task!r} task (its ssl tasks: {has}), so D has no"
      f" {task!r} head to score."
    )
  fn = functools.partial(_head_correct, comps.discriminator, task=tasks[task])
  (correct,) = _batches(
    fn, state, images, batch_size, mesh, task, progress
  )  # [N, k]
  return float(np.mean(correct))


# --- Linear probe ------------------------------------------------------------


def standardize(
  train_x: np.ndarray, test_x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Centres and scales both splits with the *train* split's statistics.

  Using the test split's own statistics would let the probe peek at the
  test distribution. A feature that is constant on the train split is only
  centred (its std is taken as 1).

  Returns:
    (train_z [N, D], test_z [M, D]) float32, and the float64 mean [D] and
    std [D] that were used.
  """
  train_x = np.asarray(train_x, np.float64)
  mean = train_x.mean(axis=0)
  std = train_x.std(axis=0)
  std = np.where(std > 0, std, 1.0)
  train_z = ((train_x - mean) / std).astype(np.float32)
  test_z = ((np.asarray(test_x, np.float64) - mean) / std).astype(np.float32)
  return train_z, test_z, mean, std


def _preconditioner(
  train_z: np.ndarray, l2: float
) -> tuple[np.ndarray, np.ndarray]:
  """A change of variables that makes L-BFGS converge fast; same optimum.

  D's block features are strongly correlated, so on standardised features
  L-BFGS crawls (640-940 iterations on 32 or 256 features). With the train
  covariance C = Q diag(lam) Q^T and M = Q diag(lam + l2)^(-1/2), the solver
  fits V on U = Z M and W = M V: the logits Z W are unchanged and
  ||W||^2 = sum_j ||V_j||^2 / (lam_j + l2), so the objective, penalty
  included, is exactly the standardised one. In these coordinates the
  curvature of every direction is of order one whether the data or the
  penalty dominates it (lam_j >> l2 or lam_j << l2), and M is invertible
  even when features are collinear (lam_j = 0), so nothing is dropped.

  Args:
    train_z: standardised train features [N, D].
    l2: the weight of 0.5 * ||W||^2.

  Returns:
    M [D, D] and the penalty weights l2 / (lam + l2) [D] of V's rows, both
    float64.
  """
  z = train_z.astype(np.float64)
  lam, q = np.linalg.eigh(z.T @ z / len(z))  # [D], [D, D]
  lam = np.maximum(lam, 0.0)  # round-off can make a null direction negative
  return q / np.sqrt(lam + l2), l2 / (lam + l2)


@functools.partial(jax.jit, static_argnames=("num_classes", "max_steps"))
def _fit(u, y, penalty, tol, *, num_classes, max_steps):
  """Full-batch L-BFGS, preconditioned; u [N, D], y [N], penalty [D].

  Minimises mean CE(u V + b, y) + 0.5 * sum_j penalty_j ||V_j||^2 from zero
  weights, stopping when the gradient norm is below `tol` or after
  `max_steps` iterations.
  """
  params = {
    "v": jnp.zeros((u.shape[1], num_classes), jnp.float32),
    "b": jnp.zeros((num_classes,), jnp.float32),
  }

  def objective(p):
    logits = u @ p["v"] + p["b"]  # [N, K]
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return ce + 0.5 * jnp.sum(penalty[:, None] * jnp.square(p["v"]))

  opt = optax.lbfgs()
  value_and_grad = optax.value_and_grad_from_state(objective)

  def step(carry):
    p, s = carry
    value, grad = value_and_grad(p, state=s)
    updates, s = opt.update(
      grad, s, p, value=value, grad=grad, value_fn=objective
    )
    return optax.apply_updates(p, updates), s

  def running(carry):
    _, s = carry
    count = optax.tree.get(s, "count")
    grad_norm = optax.tree.norm(optax.tree.get(s, "grad"))
    return (count == 0) | ((count < max_steps) & (grad_norm >= tol))

  params, s = jax.lax.while_loop(running, step, (params, opt.init(params)))
  return (
    params,
    optax.tree.get(s, "count"),
    optax.tree.norm(optax.tree.get(s, "grad")),
  )


def _top1_and_ce(w, b, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
  """Top-1 and mean cross-entropy of logits x W + b, in float64."""
  logits = x.astype(np.float64) @ w + b  # [N, K]
  logits -= logits.max(axis=1, keepdims=True)
  log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
  top1 = float(np.mean(np.argmax(logits, axis=1) == y))
  return top1, float(-np.mean(log_p[np.arange(len(y)), y]))


def _check_xy(x, y, num_classes: int, name: str):
  x, y = np.asarray(x), np.asarray(y)
  if x.ndim != 2 or y.shape != (len(x),) or not len(x):
    raise errors.UserError(
      f"{name}: features must be [N, D] and labels [N] with N > 0, got"
      f" {x.shape} and {y.shape}."
    )
  if not np.all(np.isfinite(x)):
    raise errors.UserError(f"{name}: features hold NaN or infinite values.")
  if y.min() < 0 or y.max() >= num_classes:
    raise errors.UserError(
      f"{name}: labels must be in [0, {num_classes}), got"
      f" [{y.min()}, {y.max()}]."
    )
  return x, y.astype(np.int32)


def fit_linear_probe(
  train_x: np.ndarray,
  train_y: np.ndarray,
  test_x: np.ndarray,
  test_y: np.ndarray,
  num_classes: int,
  l2: float = DEFAULT_L2,
  max_steps: int = DEFAULT_MAX_STEPS,
  tol: float = DEFAULT_TOL,
) -> dict:
  """Multinomial logistic regression on standardised features.

  Minimises mean cross-entropy + 0.5 * l2 * ||W||^2 over (W, b) on the
  train features standardised with the train split's mean and std, by
  full-batch L-BFGS from zero weights (in preconditioned coordinates, see
  `_preconditioner`; the optimum is that of the standardised problem).

  Args:
    train_x: [N, D] features that fit the probe.
    train_y: [N] int labels in [0, num_classes).
    test_x: [M, D] features that score it.
    test_y: [M] int labels.
    num_classes: K, the width of the softmax.
    l2: weight of 0.5 * ||W||^2 next to the mean cross-entropy (must be
      > 0, which makes the optimum unique).
    max_steps: most L-BFGS iterations.
    tol: stop once the objective's gradient norm (in the solver's
      preconditioned coordinates) is below this.

  Returns:
    {"top1_train", "top1_test": accuracies in [0, 1], "loss_train",
     "loss_test": mean cross-entropy without the l2 term, "steps": L-BFGS
     iterations, "grad_norm": at the end, "converged": grad_norm < tol,
     "dim": D}.
  """
  if l2 <= 0:
    raise errors.UserError(f"l2={l2} must be > 0.")
  if max_steps <= 0:
    raise errors.UserError(f"max_steps={max_steps} must be > 0.")
  train_x, train_y = _check_xy(train_x, train_y, num_classes, "train")
  test_x, test_y = _check_xy(test_x, test_y, num_classes, "test")
  if train_x.shape[1] != test_x.shape[1]:
    raise errors.UserError(
      f"train features have {train_x.shape[1]} dimensions, test features"
      f" {test_x.shape[1]}."
    )
  train_z, test_z, _, _ = standardize(train_x, test_x)
  m, penalty = _preconditioner(train_z, l2)  # [D, D], [D]
  params, steps, grad_norm = jax.device_get(
    _fit(
      jax.device_put((train_z.astype(np.float64) @ m).astype(np.float32)),
      jax.device_put(train_y),
      jax.device_put(penalty.astype(np.float32)),
      jax.device_put(np.float32(tol)),
      num_classes=num_classes,
      max_steps=max_steps,
    )
  )
  w = m @ np.asarray(params["v"], np.float64)  # [D, K], standardised space
  b = np.asarray(params["b"], np.float64)
  top1_train, loss_train = _top1_and_ce(w, b, train_z, train_y)
  top1_test, loss_test = _top1_and_ce(w, b, test_z, test_y)
  return {
    "top1_train": top1_train,
    "top1_test": top1_test,
    "loss_train": loss_train,
    "loss_test": loss_test,
    "steps": int(steps),
    "grad_norm": float(grad_norm),
    "converged": bool(grad_norm < tol),
    "dim": int(train_x.shape[1]),
  }


# --- A training run ----------------------------------------------------------


def load_labelled(dc, split: str, limit: int | None = None, workdir=None):
  """The first `limit` images of a labelled split, as evaluation reads it.

  Returns (float [N, S, S, C] in [-1, 1], int32 labels [N]) of any
  configured dataset (`input_pipeline.load_split`: central crops, the
  run's resize), or a one-line UserError when some image has no label.
  """
  images, labels = input_pipeline.load_split(dc, split, workdir)
  if limit is not None:
    images, labels = images[:limit], labels[:limit]
  labels = np.asarray(labels, np.int32)
  if labels.size and labels.min() < 0:
    raise errors.UserError(
      f"the linear probe needs labelled images, but split {split!r} of"
      f" dataset {dc.name!r} has unlabelled ones (a folder needs one"
      " sub-directory of images per class)."
    )
  return preprocess.to_float(images), labels


@dataclasses.dataclass(frozen=True)
class ProbeData:
  """The labelled real images a probe fits on and scores on."""

  train_images: np.ndarray  # float [N, H, W, C] in [-1, 1]
  train_labels: np.ndarray  # int32 [N]
  test_images: np.ndarray  # float [M, H, W, C]
  test_labels: np.ndarray  # int32 [M]
  num_classes: int
  train_split: str  # "<dataset>:<split>"
  test_split: str


def load_probe_data(
  config, train_limit: int | None, test_limit: int | None, workdir=None
) -> ProbeData:
  """dataset.split to fit on and dataset.eval_split to score on, both read
  as evaluation reads real images; one-line UserErrors (unlabelled images,
  a missing split)."""
  dc = config.dataset
  train_images, train_y = load_labelled(dc, dc.split, train_limit, workdir)
  test_images, test_y = load_labelled(dc, dc.eval_split, test_limit, workdir)
  # The label set comes from the config or the train split, never the test
  # split (a test label the probe never saw simply counts as wrong).
  num_classes = dc.num_classes or int(train_y.max()) + 1
  return ProbeData(
    train_images,
    train_y,
    test_images,
    test_y,
    num_classes,
    f"{dc.name}:{dc.split}",
    f"{dc.name}:{dc.eval_split}",
  )


def probe_state(
  comps: state_lib.Components,
  state: state_lib.GANState,
  mesh,
  data: ProbeData,
  batch_size: int,
  l2: float = DEFAULT_L2,
  max_steps: int = DEFAULT_MAX_STEPS,
  tol: float = DEFAULT_TOL,
  progress: bool = False,
) -> dict | None:
  """Probes the D of `state` on `data`; None when D's features are not finite.

  Returns the flat dict `probe_workdir` documents, without `workdir` and
  `step`.
  """
  check_batch_size(batch_size, mesh)
  n_train = len(data.train_images)
  start = time.perf_counter()
  # One pass over both splits: one compile, one progress bar.
  feats = extract_block_features(
    comps,
    state,
    np.concatenate([data.train_images, data.test_images]),
    batch_size,
    mesh,
    progress,
  )
  seconds_features = time.perf_counter() - start
  if not all(np.all(np.isfinite(f)) for f in feats):
    return None

  result = {}
  start = time.perf_counter()
  for i, f in enumerate(feats, start=1):
    fit = fit_linear_probe(
      f[:n_train],
      data.train_labels,
      f[n_train:],
      data.test_labels,
      data.num_classes,
      l2,
      max_steps,
      tol,
    )
    result.update({f"probe/block{i}/{k}": v for k, v in fit.items()})
  seconds_fit = time.perf_counter() - start

  start = time.perf_counter()
  for task in comps.tasks:  # the config's ssl tasks, each with its head
    result[f"probe/{task.name}/top1"] = ssl_head_accuracy(
      comps, state, data.test_images, batch_size, mesh, task.name, progress
    )
  seconds_heads = time.perf_counter() - start

  result.update(
    {
      "num_blocks": len(feats),
      "ssl_tasks": [t.name for t in comps.tasks],
      "num_classes": data.num_classes,
      "num_train": n_train,
      "num_test": len(data.test_images),
      "train_split": data.train_split,
      "test_split": data.test_split,
      "features": "global average pool of each D block's output, frozen D"
      " (train=False), standardised with train-split mean/std",
      "classifier": "multinomial logistic regression, full-batch L-BFGS",
      "l2": l2,
      "max_steps": max_steps,
      "tol": tol,
      "batch_size": batch_size,
      "seconds": {
        "features": round(seconds_features, 2),
        "fit": round(seconds_fit, 2),
        "ssl_heads": round(seconds_heads, 2),
      },
    }
  )
  return result


def num_blocks(config) -> int:
  """How many blocks `config`'s D has (shapes only: D alone is traced, and
  nothing is computed)."""
  dc = config.dataset
  discriminator = state_lib.build_components(config).discriminator
  images = jax.ShapeDtypeStruct(
    (1, dc.image_size, dc.image_size, dc.channels), jnp.float32
  )

  def features(x):
    variables = dict(discriminator.init(jax.random.key(0), x, train=False))
    params = variables.pop("params")
    return _block_features(discriminator, params, variables, x)

  return len(jax.eval_shape(features, images))


def make_state_scorer(
  config,
  batch_size: int,
  train_limit: int | None,
  test_limit: int | None,
):
  """The probe as an evaluator during training (evaluators.py, "probe").

  Reads the labelled splits now, so that a run without labels fails before
  it writes anything; returns `score(comps, state, mesh) -> dict`.
  """
  data = load_probe_data(config, train_limit, test_limit)

  def score(comps, state, mesh) -> dict:
    result = probe_state(comps, state, mesh, data, batch_size)
    if result is None:
      raise errors.UserError(
        f"D gives non-finite features at step {int(state.step)}; training"
        " stopped. Lower the learning rates or check the data."
      )
    return result

  return score
