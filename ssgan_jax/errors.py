"""User-facing errors.

Every mistake a user can make (a bad config value, a missing file, an unknown
name) raises `UserError` with one line that says what was wrong and how to fix
it. The entry points catch it and print that line instead of a traceback.
"""


def first_line(e: BaseException) -> str:
  """`Type: first line of the message` (at most 200 characters).

  How a library's exception is quoted inside one of our one-line errors.
  """
  text = str(e).strip().splitlines()
  detail = text[0][:200] if text else ""
  return f"{type(e).__name__}: {detail}" if detail else type(e).__name__


class UserError(ValueError):
  """An error caused by the user's input; its message is one actionable line."""


class ConfigError(UserError):
  """A config field has a value the library cannot use."""


class DataError(UserError):
  """A dataset or data file is missing, corrupt or unusable."""


class Preempted(Exception):
  """Training stopped on SIGTERM/SIGINT after saving a checkpoint."""

  def __init__(self, signum: int, step: int, directory: str):
    self.signum = signum
    self.step = step
    super().__init__(
      f"stopped by signal {signum} at step {step}; checkpoint saved in"
      f" {directory}. Run the same command again to resume."
    )
