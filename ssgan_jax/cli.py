"""What the command-line entry points share: quiet logs and one-line errors.

`python -m ssgan_jax.main` and `python -m ssgan_jax.evaluate` report every
bad input as a single `error: ...` line on stderr with exit status 2, and
keep library chatter out of the log a user reads.
"""

import logging as std_logging
import sys
from typing import NoReturn

from absl import flags
from absl import logging

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


def fail(message: str) -> NoReturn:
  """Prints `error: message` on stderr and exits with status 2."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


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
