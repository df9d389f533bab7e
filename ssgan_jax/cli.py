"""What the command-line entry points share: quiet logs and one-line errors.

`python -m ssgan_jax.main` and `python -m ssgan_jax.evaluate` report every
bad input as a single `error: ...` line on stderr with exit status 2, and
keep library chatter out of the log a user reads.
"""

import logging as std_logging
import os
import sys
from typing import NoReturn

from absl import flags
from absl import logging

# TensorFlow (tf.data, TensorBoard) prints start-up notices from C++ before
# any Python filter can drop them. TF_CPP_MIN_LOG_LEVEL=2 keeps its warnings
# and errors; since TF 2.21 the oneDNN notice ("oneDNN custom operations are
# on ...") ignores that level and only goes with oneDNN's own switch, which
# changes nothing here: TensorFlow runs no matmul or convolution of ours (JAX
# does), only input decoding and event files. Set before TensorFlow loads;
# a user's own values win.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# Orbax logs every file it writes or reads, JAX every backend it did not
# find (INFO); their warnings and errors still show.
_QUIET_PATHS = ("/orbax/", "/jax/_src/xla_bridge.py")


class _QuietLibraries(std_logging.Filter):
  def filter(self, record: std_logging.LogRecord) -> bool:
    return record.levelno >= std_logging.WARNING or not any(
      p in record.pathname for p in _QUIET_PATHS
    )


def quiet_library_logs() -> None:
  """Drops the INFO lines of noisy libraries from absl's log handler."""
  logging.get_absl_handler().addFilter(_QuietLibraries())


class _Deferred(std_logging.Filter):
  """Holds log records back until the inputs have been checked.

  While the config, data and files are being checked, libraries log what
  they are doing (TFDS its download attempt, ...). If a check then fails,
  those lines would stand before the one error line; so they are held and
  dropped on failure, or emitted in order once the checks have passed.
  """

  def __init__(self):
    super().__init__()
    # The records held back; None while not holding (before defer_logs).
    self.held: list[std_logging.LogRecord] | None = None

  def filter(self, record: std_logging.LogRecord) -> bool:
    if self.held is None:
      return True
    self.held.append(record)
    return False


_DEFERRED = _Deferred()


def defer_logs() -> None:
  """Holds every absl log record back until `release_logs`."""
  _DEFERRED.held = []
  logging.get_absl_handler().addFilter(_DEFERRED)


def _stop_holding() -> list[std_logging.LogRecord]:
  """Stops holding records back; returns those held (none if not holding)."""
  held, _DEFERRED.held = _DEFERRED.held or [], None
  logging.get_absl_handler().removeFilter(_DEFERRED)
  return held


def release_logs() -> None:
  """Emits the held records and stops holding (checks passed)."""
  for record in _stop_holding():
    logging.get_absl_handler().handle(record)


def fail(message: str, exit_fn=sys.exit) -> NoReturn:
  """Prints `error: message` on stderr and exits with status 2.

  Log records held by `defer_logs` are dropped, unless --verbosity asks
  for more than the default (then they are shown before the error).
  `exit_fn(2)` exits (e.g. `processes.exit`, which skips the shutdown
  barrier of a multi-process run).
  """
  if logging.get_verbosity() > logging.INFO:
    release_logs()
  else:
    _stop_holding()
  print(f"error: {message}", file=sys.stderr)
  exit_fn(2)


def flag_error_line(e: Exception) -> str:
  """absl's multi-line flag error as one line pointing at --help."""
  lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
  return " ".join(lines) + " (see --help)"


def parse_flags(argv: list[str]) -> list[str]:
  """absl `flags_parser` that reports a bad flag in one line (exit 2)."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    fail(flag_error_line(e))


def define_live_weights_flag() -> flags.FlagHolder:
  """--live_weights, shared by the commands that sample a saved run."""
  return flags.DEFINE_bool(
    "live_weights",
    False,
    "Sample G's live (trained) weights, in eval mode with their BatchNorm"
    " running averages, even when the run keeps an EMA of them; e.g. to"
    " measure what the EMA gives on the same checkpoint.",
  )


def define_ema_bn_stats_flag() -> flags.FlagHolder:
  """--ema_bn_stats, shared by the commands that sample a saved run."""
  return flags.DEFINE_string(
    "ema_bn_stats",
    None,
    "How an EMA generator normalises its samples: 'standing' (BatchNorm"
    " statistics recomputed for the EMA weights) or 'batch' (each batch's"
    " own); default the run's ema.bn_stats.",
  )
