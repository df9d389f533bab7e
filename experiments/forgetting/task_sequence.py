"""Discriminator forgetting on a shifting task sequence (the paper's Fig. 2).

  python experiments/forgetting/task_sequence.py --out_dir /tmp/forgetting
  python experiments/forgetting/task_sequence.py --out_dir /tmp/f \\
      --steps_per_task 20 --cycles 1 --seeds 0 1   # a shorter run

A GAN discriminator sees a non-stationary classification problem: the
generator's samples, its "negatives", move all the time. The paper isolates
this with a classifier that learns one-vs-all tasks in sequence (task t: "is
the image of class t?"), switching every K steps and cycling through the
classes. Without self-supervision the test accuracy on the current task falls
at every switch, because the features only serve the task at hand; with the
rotation loss the features stay general and the new task is picked up at
once. This script repeats that on the embedded Fashion-MNIST at CPU size:

* classifier: the package's `Discriminator32` (spectral norm on); its GAN
  logit is the binary logit, trained with sigmoid cross-entropy;
* "+rotation": the same D with its ("rotation", 4) head also trained with
  softmax cross-entropy on the four rotations of the same real images,
  weighted by beta (`--rotation_weight`, paper: 1.0);
* batches: half from class t, half from the nine other classes (train
  split), so 50 % is chance; accuracy on a fixed balanced test subset per
  class (test split);
* Adam (2e-4, b1 0, b2 0.9) as in the paper's GAN settings.

Both variants start from the same weights and see the same batches for a
given seed (the baseline never reads the rotation head), so the comparison
is paired. Outputs in `--out_dir`: task_sequence.csv (variant, seed, step,
task, test_accuracy), task_sequence.png and summary.json (accuracy at the
first evaluation after each switch vs at the end of each task).

Default size (10 tasks x 100 steps x 2 cycles, width 16, batch 16, seeds
0 and 1, both variants): 9 min 21 s on 2 CPU cores shared with other jobs;
the rotation variant runs D on 4x the images and takes ~2/3 of it. See
experiments/forgetting/README.md for the results and their reading.
"""

import argparse
import csv
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

_REPO = os.path.dirname(
  os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
if _REPO not in sys.path:  # run as a script from a checkout, not installed
  sys.path.insert(0, _REPO)

import flax  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from ssgan_jax import fashion_mnist  # noqa: E402
from ssgan_jax import input_pipeline  # noqa: E402
from ssgan_jax import preprocess  # noqa: E402
from ssgan_jax import state as state_lib  # noqa: E402
from ssgan_jax.models import layers  # noqa: E402
from ssgan_jax.models import resnet32  # noqa: E402
from ssgan_jax.ssl import base as ssl_base  # noqa: E402
from ssgan_jax.ssl import rotation  # noqa: E402

VARIANTS = ("baseline", "rotation")
IMAGE_SIZE = 32
NUM_CLASSES = fashion_mnist.NUM_CLASSES
CSV_COLUMNS = ("variant", "seed", "step", "task", "test_accuracy")


@dataclasses.dataclass(frozen=True)
class Settings:
  """Everything that defines a run; written into summary.json."""

  steps_per_task: int = 100  # K: updates before switching to the next class
  cycles: int = 2  # passes over the task list
  num_tasks: int = 10  # tasks are classes 0 .. num_tasks - 1
  width: int = 16  # D channels (paper's CIFAR D: 128)
  batch_size: int = 16  # half positives, half negatives
  eval_every: int = 10  # evaluate the current task every E updates
  test_per_task: int = 200  # balanced test subset per task
  seeds: tuple[int, ...] = (0, 1)
  variants: tuple[str, ...] = VARIANTS
  rotation_weight: float = 1.0  # beta
  learning_rate: float = 2e-4
  b1: float = 0.0
  b2: float = 0.9
  spectral_norm: bool = True

  @property
  def total_steps(self) -> int:
    return self.steps_per_task * self.num_tasks * self.cycles

  def task_of(self, step: int) -> int:
    """The class trained by update `step` (1-based) and evaluated after it."""
    return ((step - 1) // self.steps_per_task) % self.num_tasks

  def validate(self):
    if self.steps_per_task % self.eval_every:
      raise ValueError(
        f"--steps_per_task={self.steps_per_task} must be a multiple of"
        f" --eval_every={self.eval_every} so that every task ends on an"
        " evaluation."
      )
    if not 1 <= self.num_tasks <= NUM_CLASSES:
      raise ValueError(f"--num_tasks must be in 1..{NUM_CLASSES}.")
    if self.batch_size % 2 or self.test_per_task % 2:
      raise ValueError("--batch_size and --test_per_task must be even.")
    unknown = sorted(set(self.variants) - set(VARIANTS))
    if unknown:
      raise ValueError(f"unknown variants {unknown}; known: {VARIANTS}.")


@flax.struct.dataclass
class TrainState:
  """Arrays only; the module and optimizer are closed over by the step."""

  step: jax.Array  # int32 scalar: updates done
  params: Any
  variables: Any  # {"spectral": ...}: SN power-iteration state
  opt_state: Any


# ----------------------------------------------------------------------------
# Data.
# ----------------------------------------------------------------------------


def train_by_class(split: str = "train") -> np.ndarray:
  """uint8 [10, n, 32, 32, 1]: the split's images grouped by class.

  Fashion-MNIST has exactly 6,000 train (1,000 test) images per class, so
  the groups stack into one array and sampling a class is an index.
  """
  images, labels = input_pipeline.load_embedded(
    "fashion_mnist", split, IMAGE_SIZE
  )
  groups = [images[labels == c] for c in range(NUM_CLASSES)]
  n = min(len(g) for g in groups)
  return np.stack([g[:n] for g in groups])


def balanced_test_set(
  by_class: np.ndarray, num_tasks: int, n: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
  """A fixed test subset per task: n/2 of class t, n/2 spread over the rest.

  Negatives cycle through the other nine classes so each is (nearly) equally
  represented; which images are drawn is fixed by `seed`, shared by all runs.

  Args:
    by_class: uint8 [10, m, 32, 32, 1] test images grouped by class.
    num_tasks: number of tasks (classes 0 .. num_tasks - 1).
    n: examples per task (even).
    seed: picks the images.

  Returns:
    images float32 [num_tasks, n, 32, 32, 1] in [-1, 1], labels float32
    [num_tasks, n] (1 = class t).
  """
  rng = np.random.default_rng(seed)
  half, m = n // 2, by_class.shape[1]
  images, labels = [], []
  for t in range(num_tasks):
    pos = by_class[t, rng.choice(m, half, replace=False)]
    neg_cls = (t + 1 + np.arange(half) % (NUM_CLASSES - 1)) % NUM_CLASSES
    neg = by_class[neg_cls, rng.choice(m, half, replace=False)]
    images.append(np.concatenate([pos, neg]))
    labels.append(np.repeat(np.float32([1.0, 0.0]), half))
  return preprocess.to_float(np.stack(images)), np.stack(labels)


def sample_batch(
  train: jax.Array, task: jax.Array, rng: jax.Array, batch_size: int
) -> tuple[jax.Array, jax.Array]:
  """Half class `task`, half uniformly from the other classes.

  Args:
    train: uint8 [10, m, 32, 32, 1] train images grouped by class.
    task: int32 scalar, the positive class.
    rng: key for this step.
    batch_size: B (even).

  Returns:
    images float32 [B, 32, 32, 1] in [-1, 1], labels float32 [B].
  """
  half, m = batch_size // 2, train.shape[1]
  rng_pos, rng_cls, rng_neg = jax.random.split(rng, 3)
  pos_idx = jax.random.randint(rng_pos, (half,), 0, m)
  # Adding 1..9 to t (mod 10) picks each other class with probability 1/9.
  neg_cls = (task + jax.random.randint(rng_cls, (half,), 1, NUM_CLASSES)) % (
    NUM_CLASSES
  )
  neg_idx = jax.random.randint(rng_neg, (half,), 0, m)
  images = jnp.concatenate([train[task, pos_idx], train[neg_cls, neg_idx]])
  images = images.astype(jnp.float32) / 127.5 - 1.0  # [B, 32, 32, 1]
  labels = jnp.repeat(jnp.float32([1.0, 0.0]), half)  # [B]
  return images, labels


# ----------------------------------------------------------------------------
# Model, step and evaluation.
# ----------------------------------------------------------------------------


def make_model(s: Settings) -> resnet32.Discriminator32:
  # Both variants carry the rotation head so that their shared weights start
  # identical for a seed; the baseline's head gets no gradient.
  return resnet32.Discriminator32(
    width=s.width,
    aux_heads=(("rotation", rotation.Rotation.num_classes),),
    spectral_norm=s.spectral_norm,
  )


def make_optimizer(s: Settings) -> optax.GradientTransformation:
  return optax.adam(s.learning_rate, b1=s.b1, b2=s.b2)


def init_state(
  model, tx: optax.GradientTransformation, seed: int
) -> TrainState:
  x = jnp.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 1), jnp.float32)
  variables = model.init(jax.random.key(seed), x, train=False)
  params = variables.pop("params")
  return TrainState(
    step=jnp.zeros((), jnp.int32),
    params=params,
    variables=dict(variables),
    opt_state=tx.init(params),
  )


def make_train_step(
  model, tx: optax.GradientTransformation, s: Settings, rotation_weight: float
):
  """Returns a pure train_step(state, train, task, rng) -> (state, metrics).

  `rotation_weight` 0 is the baseline: D runs on the B upright images only.
  Otherwise D runs once on all 4B rotations (view 0 = upright), the binary
  loss reads view 0 and the rotation loss all four views, as SS-GAN's D does
  with real images.
  """
  use_rotation = rotation_weight > 0

  def loss_fn(params, variables, images, labels):
    b = images.shape[0]
    if use_rotation:
      views, rot_labels = rotation.rotate4(images)  # [B, 4, H, W, 1], [B, 4]
      x = views.reshape(b * 4, *images.shape[1:])  # [4B, H, W, 1]
    else:
      x = images  # [B, H, W, 1]
    (logits, extras), new_vars = state_lib.apply_net(
      model, params, variables, x, train=True, mutable=[layers.SPECTRAL]
    )
    if use_rotation:
      logits = logits.reshape(b, 4)[:, 0]  # upright view: [B]
    bce = jnp.mean(optax.sigmoid_binary_cross_entropy(logits, labels))
    metrics = {
      "bce": bce,
      "train_accuracy": jnp.mean(((logits > 0) == (labels > 0.5)) * 1.0),
    }
    loss = bce
    if use_rotation:
      rot_logits = extras["aux_logits"]["rotation"].reshape(b, 4, 4)
      rot_loss = ssl_base.cross_entropy(rot_logits, rot_labels)
      loss = loss + rotation_weight * rot_loss
      metrics["rotation_loss"] = rot_loss
      metrics["rotation_accuracy"] = ssl_base.accuracy(rot_logits, rot_labels)
    metrics["loss"] = loss
    return loss, (new_vars, metrics)

  def train_step(state: TrainState, train, task, rng):
    rng = jax.random.fold_in(rng, state.step)  # fresh data every step
    images, labels = sample_batch(train, task, rng, s.batch_size)
    grads, (new_vars, metrics) = jax.grad(loss_fn, has_aux=True)(
      state.params, state.variables, images, labels
    )
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    new_state = TrainState(
      step=state.step + 1,
      params=optax.apply_updates(state.params, updates),
      variables=new_vars,
      opt_state=opt_state,
    )
    return new_state, metrics

  return train_step


def make_eval_fn(model):
  """Returns eval(state, images [T, n, ...], labels [T, n], task) -> acc."""

  def evaluate(state: TrainState, images, labels, task):
    # train=False: SN's power iteration runs but is not stored.
    logits, _ = model.apply(
      {"params": state.params, **state.variables}, images[task], train=False
    )  # [n]
    return jnp.mean(((logits > 0) == (labels[task] > 0.5)) * 1.0)

  return evaluate


def run_variant(
  s: Settings,
  variant: str,
  seed: int,
  train: jax.Array,
  test_images: jax.Array,
  test_labels: jax.Array,
  model,
  tx: optax.GradientTransformation,
  step_fn,
  eval_fn,
) -> tuple[list[dict], dict]:
  """Trains one (variant, seed) through the task sequence.

  Returns:
    rows for the CSV and the last step's metrics (floats).
  """
  state = init_state(model, tx, seed)
  data_rng = jax.random.fold_in(jax.random.key(seed), 1)
  rows, metrics = [], {}
  for step in range(1, s.total_steps + 1):
    task = s.task_of(step)
    state, metrics = step_fn(state, train, np.int32(task), data_rng)
    if step % s.eval_every == 0:
      acc = float(eval_fn(state, test_images, test_labels, np.int32(task)))
      rows.append(
        {
          "variant": variant,
          "seed": seed,
          "step": step,
          "task": task,
          "test_accuracy": acc,
        }
      )
      if step % s.steps_per_task == 0:
        logging.info(
          "%s seed %d step %d task %d: test accuracy %.3f",
          variant,
          seed,
          step,
          task,
          acc,
        )
  metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
  if not all(np.isfinite(v) for v in metrics.values()):
    raise FloatingPointError(f"{variant} seed {seed}: {metrics}")
  return rows, metrics


# ----------------------------------------------------------------------------
# Summary and plot.
# ----------------------------------------------------------------------------


def _grid(acc: dict, seeds, steps) -> np.ndarray:
  """{(seed, step): accuracy} -> [num_seeds, num_steps]."""
  return np.array([[acc[(seed, st)] for st in steps] for seed in seeds])


def summarize(rows: list[dict], s: Settings) -> dict:
  """Accuracy right after each switch vs at the end of each task.

  Segment j is updates j*K+1 .. (j+1)*K, all on one task. Its first
  evaluation (E updates into the new task) shows how much of the previous
  segment's skill carries over; its last shows what K updates reach. Segment
  0 starts from scratch, not from a switch, so after-switch numbers skip it.

  Keys per variant (means over segments and seeds):
    acc_after_switch: first evaluation after each switch.
    acc_end_of_task: last evaluation of each segment.
    drop_at_switch: end of segment j-1 minus after-switch of segment j; the
      number that shows forgetting.
    drop_at_switch_seed_std: std over seeds of each seed's mean drop.
    acc_final: last evaluation of the run.
    acc_mean_all_evals: mean of all evaluations (area under the curve).
    acc_after_switch_by_cycle, acc_end_of_task_by_cycle: one per cycle, to
      see whether returning to a class in a later cycle goes better.
  """
  k, e, n = s.steps_per_task, s.eval_every, s.num_tasks * s.cycles
  mean = lambda x: float(np.mean(x)) if np.size(x) else None
  cycle = np.arange(n) // s.num_tasks  # [n]
  switched = np.arange(n) > 0  # [n]
  out = {}
  for variant in s.variants:
    acc = {
      (r["seed"], r["step"]): r["test_accuracy"]
      for r in rows
      if r["variant"] == variant
    }
    if not acc:
      continue
    after = _grid(acc, s.seeds, [j * k + e for j in range(n)])  # [S, n]
    end = _grid(acc, s.seeds, [(j + 1) * k for j in range(n)])  # [S, n]
    every = _grid(acc, s.seeds, range(e, s.total_steps + 1, e))  # [S, T/E]
    drop = end[:, :-1] - after[:, 1:]  # [num_seeds, n - 1]
    out[variant] = {
      "acc_after_switch": mean(after[:, 1:]),
      "acc_end_of_task": mean(end),
      "drop_at_switch": mean(drop),
      "drop_at_switch_seed_std": (
        float(np.std(drop.mean(1))) if drop.size else None
      ),
      "acc_final": mean(end[:, -1]),
      "acc_mean_all_evals": mean(every),
      "acc_after_switch_by_cycle": [
        mean(after[:, (cycle == c) & switched]) for c in range(s.cycles)
      ],
      "acc_end_of_task_by_cycle": [
        mean(end[:, cycle == c]) for c in range(s.cycles)
      ],
    }
  return out


def plot(rows: list[dict], s: Settings, path: str):
  """Accuracy vs step per variant: mean over seeds, min-max band."""
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  fig, ax = plt.subplots(figsize=(10, 3.6), dpi=90)
  colors = {"baseline": "tab:red", "rotation": "tab:blue"}
  labels = {"baseline": "classifier", "rotation": "+ rotation loss"}
  for variant in s.variants:
    steps = sorted({r["step"] for r in rows if r["variant"] == variant})
    if not steps:
      continue
    acc = np.array(
      [
        [
          r["test_accuracy"]
          for r in sorted(rows, key=lambda r: r["step"])
          if r["variant"] == variant and r["seed"] == seed
        ]
        for seed in s.seeds
      ]
    )  # [num_seeds, num_evals]
    mean = acc.mean(0)
    ax.plot(steps, mean, color=colors[variant], lw=1.2, label=labels[variant])
    if len(s.seeds) > 1:
      ax.fill_between(
        steps, acc.min(0), acc.max(0), color=colors[variant], alpha=0.2
      )
  for j in range(1, s.num_tasks * s.cycles):
    cycle_end = j % s.num_tasks == 0
    ax.axvline(
      j * s.steps_per_task,
      color="k" if cycle_end else "0.6",
      ls="--" if cycle_end else ":",
      lw=0.8,
    )
  ax.axhline(0.5, color="0.8", lw=0.6)
  ax.set_xlim(0, s.total_steps)
  lowest = min(r["test_accuracy"] for r in rows)
  ax.set_ylim(min(0.4, np.floor(lowest * 10) / 10), 1.0)
  ax.set_xlabel(
    f"iteration (task = class, switch every {s.steps_per_task};"
    " dashed = back to class 0)"
  )
  ax.set_ylabel("test accuracy, current task")
  band = (
    f", band = min-max over {len(s.seeds)} seeds" if len(s.seeds) > 1 else ""
  )
  ax.set_title(
    f"One-vs-all Fashion-MNIST task sequence, Discriminator32 width"
    f" {s.width}, batch {s.batch_size}{band}",
    fontsize=9,
  )
  ax.legend(loc="lower right", fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


# ----------------------------------------------------------------------------
# Entry point.
# ----------------------------------------------------------------------------


def parse_flags(argv: Sequence[str] | None) -> tuple[str, Settings]:
  d = Settings()
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--out_dir", required=True)
  p.add_argument("--steps_per_task", type=int, default=d.steps_per_task)
  p.add_argument("--cycles", type=int, default=d.cycles)
  p.add_argument("--num_tasks", type=int, default=d.num_tasks)
  p.add_argument("--width", type=int, default=d.width)
  p.add_argument("--batch_size", type=int, default=d.batch_size)
  p.add_argument("--eval_every", type=int, default=d.eval_every)
  p.add_argument("--test_per_task", type=int, default=d.test_per_task)
  p.add_argument("--seeds", type=int, nargs="+", default=list(d.seeds))
  p.add_argument("--variants", nargs="+", default=list(d.variants))
  p.add_argument("--rotation_weight", type=float, default=d.rotation_weight)
  p.add_argument("--learning_rate", type=float, default=d.learning_rate)
  p.add_argument("--b1", type=float, default=d.b1)
  p.add_argument("--b2", type=float, default=d.b2)
  p.add_argument(
    "--spectral_norm", action=argparse.BooleanOptionalAction, default=True
  )
  a = vars(p.parse_args(argv))
  out_dir = a.pop("out_dir")
  a["seeds"] = tuple(a["seeds"])
  a["variants"] = tuple(a["variants"])
  s = Settings(**a)
  s.validate()
  return out_dir, s


def main(argv: Sequence[str] | None = None) -> dict:
  """Runs every (variant, seed), writes CSV, PNG and summary.json.

  Returns:
    {"summary": summary.json's content, "metrics": {variant: last step's
    train metrics of the last seed}, "paths": {name: path}}.
  """
  out_dir, s = parse_flags(argv)
  os.makedirs(out_dir, exist_ok=True)
  jax.config.update("jax_threefry_partitionable", True)
  t0 = time.time()

  train = jnp.asarray(train_by_class("train"))  # uint8 [10, 6000, 32, 32, 1]
  test_images, test_labels = balanced_test_set(
    train_by_class("test"), s.num_tasks, s.test_per_task
  )
  test_images, test_labels = jnp.asarray(test_images), jnp.asarray(test_labels)

  model = make_model(s)
  tx = make_optimizer(s)
  eval_fn = jax.jit(make_eval_fn(model))
  # One compiled step per variant: the baseline's D sees B images, the
  # rotation variant's 4B.
  step_fns = {
    v: jax.jit(
      make_train_step(
        model, tx, s, s.rotation_weight if v == "rotation" else 0.0
      )
    )
    for v in s.variants
  }

  rows, last_metrics, times = [], {}, {}
  for variant in s.variants:
    tv = time.time()
    for seed in s.seeds:
      r, last_metrics[variant] = run_variant(
        s,
        variant,
        seed,
        train,
        test_images,
        test_labels,
        model,
        tx,
        step_fns[variant],
        eval_fn,
      )
      rows += r
    times[variant] = round(time.time() - tv, 1)

  paths = {
    "csv": os.path.join(out_dir, "task_sequence.csv"),
    "png": os.path.join(out_dir, "task_sequence.png"),
    "summary": os.path.join(out_dir, "summary.json"),
  }
  with open(paths["csv"], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
    w.writeheader()
    for r in rows:
      w.writerow({**r, "test_accuracy": f"{r['test_accuracy']:.4f}"})
  plot(rows, s, paths["png"])
  summary = {
    "settings": {**dataclasses.asdict(s), "total_steps": s.total_steps},
    "variants": summarize(rows, s),
    "wall_time_s": {**times, "total": round(time.time() - t0, 1)},
    "device": jax.devices()[0].device_kind,
  }
  with open(paths["summary"], "w") as f:
    json.dump(summary, f, indent=2)
  logging.info("wrote %s", ", ".join(paths.values()))
  return {"summary": summary, "metrics": last_metrics, "paths": paths}


if __name__ == "__main__":
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
  result = main()
  print(json.dumps(result["summary"]["variants"], indent=2))
