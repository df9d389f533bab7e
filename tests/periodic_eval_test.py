"""Evaluation during training: files, TensorBoard, best checkpoint, resume."""

import json
import threading

import ml_collections
import numpy as np
import pytest
from conftest import kept_checkpoints
from conftest import tiny_config

from configs import common
from ssgan_jax import checkpointing
from ssgan_jax import config_lib
from ssgan_jax import errors
from ssgan_jax import train
from ssgan_jax.evaluation import evaluators


def _eval_config(**overrides):
  return tiny_config(
    **{
      "eval.every_steps": 2,
      "eval.num_samples": 64,
      "eval.batch_size": 32,
      **overrides,
    }
  )


def _train(config, workdir):
  # Worker thread: train.py leaves signal handlers alone off the main thread.
  out = {}

  def target():
    try:
      out["state"] = train.train_and_evaluate(config, str(workdir))
    except BaseException as e:  # pylint: disable=broad-except
      out["error"] = e

  t = threading.Thread(target=target)
  t.start()
  t.join()
  if "error" in out:
    raise out["error"]
  return out["state"]


def test_is_better():
  assert evaluators.is_better(1.0, None, "min")
  assert evaluators.is_better(1.0, 2.0, "min")
  assert not evaluators.is_better(2.0, 2.0, "min")
  assert evaluators.is_better(3.0, 2.0, "max")
  assert not evaluators.is_better(1.0, 2.0, "max")


def test_logged_metrics_and_block_names_come_from_the_evaluators_module():
  result = {"b": 1.0, "a": 2.0}
  block = ml_collections.ConfigDict({"metrics": []})
  plain = evaluators.Evaluator(metrics={"a": "min", "b": "min"}, build=None)
  assert plain.logged(block, result) == []  # logs what the block names
  everything = evaluators.Evaluator(
    metrics={"a": "min", "b": "min"}, build=None, default_logged=sorted
  )
  assert everything.logged(block, result) == ["a", "b"]
  block.metrics = ["b"]
  assert everything.logged(block, result) == ["b"]
  probe = evaluators.EVALUATORS.get("probe")
  block.metrics = []
  assert probe.logged(
    block,
    {
      "probe/block2/top1_test": 0.5,
      "probe/block1/top1_test": 0.4,
      "probe/block1/loss_test": 1.2,
      "probe/rotation/top1": 0.9,
      "num_blocks": 2,
    },
  ) == [
    "probe/block1/top1_test",
    "probe/block2/top1_test",
    "probe/rotation/top1",
  ]
  assert evaluators.block_name("evals.probe") == "probe"
  with pytest.raises(ValueError, match="names no block"):
    evaluators.block_name("eval")


def test_evaluates_logs_and_keeps_best_then_resumes(tmp_path):
  workdir = tmp_path / "run"
  _train(_eval_config(), workdir)
  during = workdir / "eval" / "during_training"
  assert sorted(p.name for p in during.iterdir()) == [
    "step_2.json",
    "step_4.json",
  ]
  results = {
    s: json.loads((during / f"step_{s}.json").read_text()) for s in (2, 4)
  }
  for s, r in results.items():
    assert r["step"] == s and r["num_images"] == 64
    assert r["reference"] == "fashion_mnist:test"
    assert r["fd_fmnist"] > 0
  best = json.loads((workdir / "eval" / "best.json").read_text())
  want = min((r["fd_fmnist"], s) for s, r in results.items())
  assert (best["value"], best["step"]) == want
  assert best["metric"] == "fd_fmnist" and best["mode"] == "min"
  kept = kept_checkpoints(workdir / "best_checkpoint")
  assert kept == [str(best["step"])]

  # A resumed run takes the best from the kept checkpoint and its score,
  # not from best.json (a stop between the save and best.json leaves that
  # stale): with an unbeatable score recorded for the kept step and a
  # best.json naming another step, the evaluation at step 6 must not
  # replace the checkpoint, and best.json is mended.
  kept_result = during / f"step_{best['step']}.json"
  kept_result.write_text(
    json.dumps({**results[best["step"]], "fd_fmnist": -1.0})
  )
  other = 6 - best["step"]  # the other one of steps 2 and 4
  stale = {**best, "step": other, "value": results[other]["fd_fmnist"]}
  (workdir / "eval" / "best.json").write_text(json.dumps(stale))
  _train(_eval_config(total_steps=6), workdir)
  assert (during / "step_6.json").exists()
  again = json.loads((workdir / "eval" / "best.json").read_text())
  assert again["step"] == best["step"] and again["value"] == -1.0
  kept = kept_checkpoints(workdir / "best_checkpoint")
  assert kept == [str(best["step"])]


def test_resume_runs_the_evaluation_a_stop_cut_short(tmp_path):
  # A run stopped during its final evaluation: the checkpoint of step 4 is
  # complete, the evaluation's files are not. Its best checkpoint is step
  # 4's, whose score is lost, so the evaluation again finds step 4 "better"
  # and must keep the existing checkpoint rather than fail to save it.
  workdir = tmp_path / "run"
  config = _eval_config(**{"eval.every_steps": 4})
  _train(config, workdir)
  result = workdir / "eval" / "during_training" / "step_4.json"
  first = json.loads(result.read_text())
  result.unlink()
  (workdir / "eval" / "best.json").unlink()
  _train(config, workdir)  # nothing left to train: only the evaluation
  again = json.loads(result.read_text())
  assert again["fd_fmnist"] == first["fd_fmnist"]
  # It carries the clock saved with step 4 (which the first run saved
  # before it evaluated), not this invocation's.
  ckpt = checkpointing.Checkpointer(workdir / "checkpoints")
  clock = ckpt.train_wall_s(4)
  ckpt.close()
  assert 0 < again["train_wall_s"] == clock <= first["train_wall_s"]
  best = json.loads((workdir / "eval" / "best.json").read_text())
  assert (best["step"], best["value"]) == (4, first["fd_fmnist"])
  assert kept_checkpoints(workdir / "best_checkpoint") == ["4"]


def test_eval_off_writes_nothing(tmp_path):
  workdir = tmp_path / "run"
  _train(tiny_config(total_steps=2), workdir)
  assert not (workdir / "eval").exists()
  assert not (workdir / "best_checkpoint").exists()


@pytest.mark.parametrize(
  "overrides, message",
  [
    ({"eval.best_metric": "fdd"}, "unknown eval.best_metric 'fdd'"),
    ({"eval.metrics": ("fd",)}, "eval.metrics has unknown metric"),
    # Another evaluator's metric: FD-FMNIST runs report no FID.
    ({"eval.best_metric": "fid"}, "evaluator 'fmnist' reports: fd_fmnist"),
    ({"eval.metrics": ("fid",)}, r"\['fid'\] for evaluator 'fmnist'"),
    ({"eval.evaluator": "lpips"}, "unknown evaluator 'lpips'"),
    ({"eval.num_samples": 0}, "eval.num_samples=0 must be a positive"),
    ({"eval.batch_size": 12}, "must be a multiple of the 8 device"),
  ],
)
def test_bad_eval_config_is_one_line(overrides, message):
  with pytest.raises(errors.ConfigError, match=message):
    config_lib.validate(_eval_config(**overrides))


def test_fmnist_evaluator_rejects_other_datasets(tmp_path):
  config = _eval_config(**{"dataset.name": "cifar10", "dataset.channels": 3})
  with pytest.raises(errors.ConfigError, match="eval.evaluator='fmnist'"):
    evaluators.EVALUATORS.get("fmnist").build(config, "eval")


@pytest.mark.parametrize("missing", ["inception_weights", "reference_stats"])
def test_inception_evaluator_names_the_missing_file(missing):
  config = _eval_config(
    **{
      "eval.evaluator": "inception",
      "eval.inception_weights": "w.npz",
      "eval.reference_stats": "s.npz",
      f"eval.{missing}": "",
    }
  )
  with pytest.raises(errors.ConfigError, match=f"needs eval.{missing}"):
    evaluators.EVALUATORS.get("inception").build(config, "eval")


def test_a_new_evaluator_is_one_registration(tmp_path):
  # A plug-in evaluator: validated by its own metrics and check, built by
  # make_scorer, and its best metric's direction kept by the periodic hook.
  calls = []

  def build(config, field):
    calls.append(evaluators.block_of(config, field).reference)
    return lambda images: {"mean_pixel": float(np.mean(images))}

  def check(config, field):
    if evaluators.block_of(config, field).num_samples < 16:
      raise errors.ConfigError(f"mean_pixel needs {field}.num_samples >= 16.")

  evaluators.EVALUATORS.register(
    "mean_pixel",
    evaluators.Evaluator({"mean_pixel": "max"}, build=build, check=check),
  )
  try:
    config = _eval_config(
      **{
        "eval.evaluator": "mean_pixel",
        "eval.metrics": ("mean_pixel",),
        "eval.best_metric": "mean_pixel",
      }
    )
    score = evaluators.make_scorer(config)
    assert score(np.ones((4, 32, 32, 1))) == {"mean_pixel": 1.0}
    assert calls == [config.eval.reference]
    assert evaluators.metric_mode(config, "mean_pixel") == "max"
    with pytest.raises(errors.ConfigError, match="num_samples >= 16"):
      config_lib.validate(
        _eval_config(
          **{
            "eval.evaluator": "mean_pixel",
            "eval.metrics": ("mean_pixel",),
            "eval.best_metric": "",
            "eval.num_samples": 8,
          }
        )
      )
    # The FD-FMNIST metrics of the Fashion-MNIST config are not its own.
    with pytest.raises(errors.ConfigError, match="choose from: mean_pixel"):
      config_lib.validate(_eval_config(**{"eval.evaluator": "mean_pixel"}))
  finally:
    evaluators.EVALUATORS.unregister("mean_pixel")


def _probe_block(every_steps=2, **fields):
  block = common.probe_eval(every_steps)
  block.update({"train_limit": 64, "test_limit": 32, "batch_size": 16})
  block.update(fields)
  return block


def test_a_probe_block_runs_on_its_own_schedule_and_resumes(tmp_path):
  # FD-FMNIST every 4 steps as the main block, the probe every 2 in
  # evals.probe: two schedules, two folders, one best checkpoint.
  workdir = tmp_path / "run"
  config = _eval_config(**{"eval.every_steps": 4})
  config.evals.probe = _probe_block()
  _train(config, workdir)
  during = workdir / "eval" / "during_training"
  probed = workdir / "eval" / "probe"
  assert sorted(p.name for p in during.iterdir()) == ["step_4.json"]
  assert sorted(p.name for p in probed.iterdir()) == [
    "step_2.json",
    "step_4.json",
  ]
  result = json.loads((probed / "step_2.json").read_text())
  assert result["step"] == 2 and result["evaluator"] == "probe"
  assert (result["num_train"], result["num_test"]) == (64, 32)
  assert result["num_blocks"] == 4
  for key in ("probe/block4/top1_test", "probe/rotation/top1"):
    assert 0.0 <= result[key] <= 1.0, key
  assert "train_wall_s" in result
  assert kept_checkpoints(workdir / "best_checkpoint") == ["4"]
  # Which metrics a probe block without `metrics` logs: every top-1.
  from ssgan_jax.evaluation import periodic  # pylint: disable=g-import-not-at-top

  hook = periodic.PeriodicEvaluator(
    config, None, None, workdir, None, "evals.probe"
  )
  assert hook._logged(result) == [  # pylint: disable=protected-access
    *(f"probe/block{i}/top1_test" for i in range(1, 5)),
    "probe/rotation/top1",
  ]
  assert hook._tag("probe/block4/top1_test") == "probe/block4/top1_test"  # pylint: disable=protected-access
  hook.close()

  # A stop that cut the probe of step 4 short: the resumed run probes it
  # again (and only it), with the same, deterministic, numbers.
  (probed / "step_4.json").unlink()
  before = {p.name: p.stat().st_mtime_ns for p in during.iterdir()}
  _train(config, workdir)
  again = json.loads((probed / "step_4.json").read_text())
  first = json.loads((probed / "step_2.json").read_text())
  assert again["step"] == 4 and first == result
  assert {p.name: p.stat().st_mtime_ns for p in during.iterdir()} == before


@pytest.mark.parametrize(
  "block, message",
  [
    (
      {"metrics": ("probe/block9/top1_test",)},
      "D has 4 blocks",
    ),
    (
      {"metrics": ("probe/jigsaw/top1",)},
      r"evals.probe.metrics has unknown metric\(s\) \['probe/jigsaw/top1'\]",
    ),
    ({"train_limit": -1}, "evals.probe.train_limit=-1 must be an integer"),
    ({"batch_size": 12}, "evals.probe.batch_size=12 must be a multiple"),
    ({"every_steps": -2}, "evals.probe.every_steps=-2 must be a positive"),
  ],
)
def test_bad_probe_block_is_one_line(block, message):
  config = tiny_config()
  config.evals.probe = _probe_block(**block)
  with pytest.raises(errors.ConfigError, match=message):
    evaluators.build(config, "evals.probe")


def test_bad_eval_blocks_are_one_line():
  config = tiny_config(**{"dataset.eval_split": "train"})
  config.evals.probe = _probe_block()
  with pytest.raises(errors.ConfigError, match="both are 'train'"):
    config_lib.validate(config)
  config = tiny_config()
  config.evals["Probe-1"] = _probe_block()
  with pytest.raises(errors.ConfigError, match="evals.Probe-1 is not a usable"):
    config_lib.validate(config)
  config = tiny_config(**{"eval.every_steps": 2, "eval.evaluator": "probe"})
  with pytest.raises(errors.ConfigError, match="scores no samples"):
    config_lib.validate(config)


@pytest.fixture
def small_train_split(monkeypatch):
  """The embedded train split cut to its first 2,000 images, for this test
  only: its reference features at test compile settings would cost
  minutes for the 60,000 (the cached features are dropped before and
  after, so no other test sees the cut split)."""
  from ssgan_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  from ssgan_jax.evaluation import fmnist  # pylint: disable=g-import-not-at-top

  full = input_pipeline.load_embedded

  def load(name, split, size, data_dir=""):
    images, labels = full(name, split, size, data_dir)
    return (
      (images[:2000], labels[:2000]) if split == "train" else (images, labels)
    )

  fmnist._reference_features.cache_clear()  # pylint: disable=protected-access
  monkeypatch.setattr(input_pipeline, "load_embedded", load)
  yield
  fmnist._reference_features.cache_clear()  # pylint: disable=protected-access


@pytest.mark.usefixtures("small_train_split")
def test_a_second_sample_block_has_its_own_files_and_tags(tmp_path):
  # Two sample-scoring blocks: the main one and evals.train_ref against
  # the training split, on different schedules.
  workdir = tmp_path / "run"
  config = _eval_config(**{"eval.every_steps": 4})
  extra = config.eval.copy_and_resolve_references()
  extra.update({"every_steps": 2, "reference": "fashion_mnist:train"})
  del extra["best_metric"]
  config.evals.train_ref = extra
  _train(config, workdir)
  files = workdir / "eval" / "train_ref"
  assert sorted(p.name for p in files.iterdir()) == [
    "step_2.json",
    "step_4.json",
  ]
  result = json.loads((files / "step_4.json").read_text())
  main = json.loads(
    (workdir / "eval" / "during_training" / "step_4.json").read_text()
  )
  assert result["reference"] == "fashion_mnist:train"
  assert main["reference"] == "fashion_mnist:test"
  assert (result["num_reference"], main["num_reference"]) == (2000, 10000)
  assert result["fd_fmnist"] != main["fd_fmnist"]


def test_forgetting_variant_probes_ten_times():
  from configs import fashion_mnist_gan  # pylint: disable=g-import-not-at-top
  from configs import fashion_mnist_ssgan  # pylint: disable=g-import-not-at-top

  for module in (fashion_mnist_ssgan, fashion_mnist_gan):
    base = module.get_config()
    c = module.get_config("forgetting")
    assert c.total_steps == 4 * base.total_steps
    assert c.evals.probe.every_steps == c.total_steps // 10
    assert c.eval.every_steps == c.evals.probe.every_steps
    config_lib.validate(c)
