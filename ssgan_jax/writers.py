"""Where training metrics go: TensorBoard where TensorFlow is installed, else the log.

  writer = writers.create(workdir, is_main)
  progress = writers.Progress(total_steps, every_steps, writer)

TensorBoard's event files are written by clu's `SummaryWriter`, which needs
TensorFlow. Accelerator images often ship JAX without TensorFlow; there a run
still trains, logs every scalar, saves its sample grids as PNG files and its
evaluations as JSON, and says once that TensorBoard summaries are off.
"""

import time

from absl import logging

NO_TENSORBOARD = (
  "TensorFlow is not installed, so no TensorBoard summaries are written;"
  " scalars go to the log, sample grids to samples/*.png. Install"
  " tensorflow-cpu for TensorBoard."
)


def tensorflow_installed() -> bool:
  """Whether TensorFlow imports (it is what clu's TensorBoard writer needs)."""
  try:
    import tensorflow  # noqa: F401  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return False
  return True


class LogWriter:
  """clu's MetricWriter interface, writing scalars and hparams to the log."""

  def write_scalars(self, step: int, scalars: dict) -> None:
    logging.info(
      "[%d] %s",
      step,
      ", ".join(f"{k}={float(v):.6g}" for k, v in sorted(scalars.items())),
    )

  def write_images(self, step: int, images: dict) -> None:
    del step, images  # the grids are PNG files in samples/ already

  def write_hparams(self, hparams: dict) -> None:
    logging.info(
      "Hyperparameters: %s",
      ", ".join(f"{k}={v}" for k, v in sorted(hparams.items())),
    )

  def flush(self) -> None:
    pass

  def close(self) -> None:
    pass


def create(workdir: str, is_main: bool):
  """A writer for the run in `workdir`; only the main process writes files.

  Returns clu's default writer (log + TensorBoard, asynchronous) where
  TensorFlow is installed, else a LogWriter after one line saying so.
  """
  if not tensorflow_installed():
    if is_main:
      logging.warning(NO_TENSORBOARD)
    return LogWriter()
  from clu import metric_writers  # pylint: disable=g-import-not-at-top

  return metric_writers.create_default_writer(
    workdir, just_logging=not is_main, asynchronous=True
  )


class Progress:
  """Writes `steps_per_sec` every `every_steps` steps (and at `total`).

  The first call only starts the clock, so compile time before the first
  step is not counted. Called on every step; reads the host clock only.
  """

  def __init__(self, total: int, every_steps: int, writer):
    self._total = total
    self._every = every_steps
    self._writer = writer
    self._last: tuple[int, float] | None = None

  def __call__(self, step: int, total: int | None = None) -> None:
    """Called after `step` steps; `total` if the run now ends earlier."""
    if total is not None:
      self._total = total
    now = time.time()
    if self._last is None:
      self._last = (step, now)
      return
    if step % self._every and step != self._total:
      return
    last_step, last_t = self._last
    if step > last_step and now > last_t:
      rate = (step - last_step) / (now - last_t)
      left_min = (self._total - step) / rate / 60.0
      self._writer.write_scalars(step, {"steps_per_sec": rate})
      logging.info(
        "Step %d/%d: %.3g steps/s, %.1f min left.",
        step,
        self._total,
        rate,
        left_min,
      )
    self._last = (step, now)
