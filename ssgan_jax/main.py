"""Entry point: parse flags, set up processes, call `train.train_and_evaluate`.

  python -m ssgan_jax.main --config configs/fashion_mnist_ssgan.py \
      --workdir runs/fmnist_ssgan [--config.total_steps=10]

Multi-process (one process per host): pass --coordinator_address,
--num_processes and --process_id (or let `jax.distributed.initialize` read
the cluster's environment, e.g. on Cloud TPU or SLURM, with
--distributed=auto).
"""

import os
import sys

import jax
from absl import app
from absl import flags
from ml_collections import config_flags

from ssgan_jax import cli
from ssgan_jax import errors
from ssgan_jax import processes
from ssgan_jax import sharding

_CONFIG = config_flags.DEFINE_config_file(
  "config", None, "Path to an experiment config file.", lock_config=True
)
_WORKDIR = flags.DEFINE_string(
  "workdir", None, "Directory for checkpoints, logs and samples."
)
_COORDINATOR = flags.DEFINE_string(
  "coordinator_address",
  None,
  "host:port of process 0 for multi-process training.",
)
_NUM_PROCESSES = flags.DEFINE_integer(
  "num_processes", None, "Number of processes (multi-process training)."
)
_PROCESS_ID = flags.DEFINE_integer(
  "process_id", None, "This process's index (multi-process training)."
)
_DISTRIBUTED = flags.DEFINE_enum(
  "distributed",
  "off",
  ["off", "auto"],
  "'auto': call jax.distributed.initialize() with cluster auto-detection.",
)
_HEARTBEAT_TIMEOUT = flags.DEFINE_integer(
  "heartbeat_timeout_s",
  60,
  "Multi-process: a process silent this long (killed, crashed outside"
  " Python) counts as dead, and the others stop.",
)
flags.mark_flags_as_required(["config", "workdir"])


def _config_arg(argv: list[str]) -> str:
  for i, arg in enumerate(argv):
    if arg.startswith("--config="):
      return arg.split("=", 1)[1]
    if arg == "--config" and i + 1 < len(argv):
      return argv[i + 1]
  return "?"


def describe_flag_error(e: Exception, argv: list[str]) -> str:
  """One line for a flag or config-file problem (no nested traceback)."""
  text = str(e).strip()
  lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
  path = _config_arg(argv).split(":")[0]
  if "Failed loading config file" in text or "failure to load" in text:
    return (
      f"cannot read config file {path!r} ({lines[-1]}); pass an existing"
      " file, e.g. --config configs/fashion_mnist_ssgan.py"
    )
  if "Traceback" in text:  # an exception raised inside get_config()
    return f"{lines[0].rstrip(':')}: {lines[-1]}"
  if "get_config" in text:
    return (
      f"config file {path!r} does not define get_config(); every config"
      " file must (see configs/fashion_mnist_ssgan.py)"
    )
  if isinstance(e, (AttributeError, KeyError)):
    # ml_collections nests a KeyError's repr (with a did-you-mean hint).
    detail = text.strip('"').replace("\\n", " ").replace("\\'", "'")
    return (
      f"a --config.<field> override names a field that does not exist"
      f" ({detail}); check its spelling in {path}"
    )
  return cli.flag_error_line(e)


def parse_flags(argv: list[str]) -> list[str]:
  """Parses flags and loads the config, reporting any problem in one line.

  `config_flags` raises plain exceptions for bad overrides and reports a
  config file it could not load only when the config is first used; both
  would otherwise end in a traceback.
  """
  try:
    rest = flags.FLAGS(argv)
    _CONFIG.value.keys()  # forces the deferred load error, if any
  except Exception as e:  # pylint: disable=broad-except
    cli.fail(describe_flag_error(e, argv))
  return rest


def init_processes() -> None:
  """Initialises jax.distributed when launched as one of several processes."""
  processes.initialize(
    _COORDINATOR.value,
    _NUM_PROCESSES.value,
    _PROCESS_ID.value,
    auto=_DISTRIBUTED.value == "auto",
    heartbeat_timeout_s=_HEARTBEAT_TIMEOUT.value,
  )
  sharding.use_coordination_barriers()


def keep_tensorflow_off_accelerators() -> None:
  """Hides the GPUs from TensorFlow (tf.data, TensorBoard), where it is installed.

  JAX owns the accelerators; a TensorFlow that saw them would reserve their
  memory. Without TensorFlow (common on accelerator images) there is
  nothing to hide.
  """
  try:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
  except ImportError:
    return
  tf.config.set_visible_devices([], "GPU")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  cli.quiet_library_logs()
  keep_tensorflow_off_accelerators()
  jax.config.update("jax_threefry_partitionable", True)
  init_processes()
  from ssgan_jax import train  # pylint: disable=g-import-not-at-top

  cli.defer_logs()  # until the inputs are checked: an error is one line
  # With peers, a failure here is reported to them (they stop within a
  # second or two, naming it) and this process exits without waiting for
  # them at the shutdown barrier.
  with processes.failure_watcher():
    try:
      train.train_and_evaluate(
        _CONFIG.value, _WORKDIR.value, checks_passed=cli.release_logs
      )
    except errors.UserError as e:
      processes.report_failure(str(e))
      cli.fail(str(e), exit_fn=processes.exit)
    except errors.Preempted as e:  # every process stops at the same step
      print(str(e), file=sys.stderr)
      sys.exit(128 + e.signum)
    except BaseException as e:
      cli.release_logs()  # a crash keeps its context in the log
      processes.exit_on_failure(e)  # returns for a single process
      raise


def _make_configs_importable() -> None:
  """Config files import `configs.common`; find it from any working dir."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  if root not in sys.path:
    sys.path.append(root)


if __name__ == "__main__":
  _make_configs_importable()  # before app.run parses --config
  app.run(main, flags_parser=parse_flags)
