"""Several processes as one run: start together, and fail together, fast.

  processes.initialize(coordinator, num_processes, process_id, auto=False)
  with processes.failure_watcher():
    try:
      train(...)
    except Exception as e:
      processes.exit_on_failure(e)   # multi-process: tells the peers, exits

A process that fails alone (an error its peers do not hit: a bad file on one
host, an out-of-memory, a bug in a rare branch) would otherwise leave its
peers waiting: in the next collective (Gloo on CPU reports the closed peer,
NCCL on GPU may not), then in `jax.distributed`'s shutdown barrier, 300 s or
more. Here the failing process writes its error to the coordination
service's key-value store before it exits; every other process polls that
key once a second from a background thread, prints the error naming the
process it came from, and exits. A process that dies without running Python
(SIGKILL, a segfault) is caught by the service's heartbeat timeout instead.
"""

import contextlib
import os
import sys
import threading
import traceback
from typing import NoReturn

import jax
from absl import logging

from ssgan_jax import errors

# The first failure of the run, as "process <i>: <error>".
FAILURE_KEY = "ssgan_jax/failure"
POLL_S = 1.0
# Consecutive failed polls after which the coordination service (hosted by
# process 0) counts as gone.
_LOST_AFTER_POLLS = 5
EXIT_FAILED = 1


def initialize(
  coordinator_address: str | None,
  num_processes: int | None,
  process_id: int | None,
  *,
  auto: bool,
  heartbeat_timeout_s: int,
) -> None:
  """Starts `jax.distributed` when this is one of several processes.

  Args:
    coordinator_address: host:port of process 0, or None.
    num_processes: the number of processes, or None.
    process_id: this process's index, or None.
    auto: let `jax.distributed.initialize` read the cluster (Cloud TPU,
      SLURM, ...) when no address, count or index is given.
    heartbeat_timeout_s: after this long without a heartbeat a process
      counts as dead and the service stops the others (JAX's default is
      100 s).
  """
  explicit = coordinator_address or num_processes or process_id is not None
  if not explicit and not auto:
    return
  kwargs = {"heartbeat_timeout_seconds": heartbeat_timeout_s}
  if explicit:
    kwargs.update(
      coordinator_address=coordinator_address,
      num_processes=num_processes,
      process_id=process_id,
    )
  jax.distributed.initialize(**kwargs)


def _client():
  """The coordination-service client, or None (one process, or not found).

  JAX has no public accessor; `multihost_utils` and Orbax read the same
  attribute. Where a JAX version moved it, failures are not reported to
  peers (they stop at the next collective or the heartbeat timeout) and the
  log says so once.
  """
  if jax.process_count() == 1:
    return None
  try:
    from jax._src import distributed  # pylint: disable=g-import-not-at-top

    client = distributed.global_state.client
  except (ImportError, AttributeError):
    client = None
  if client is None or not hasattr(client, "key_value_try_get"):
    global _WARNED
    if not _WARNED:
      _WARNED = True
      logging.warning(
        "jax %s: no coordination-service client found; a failing process"
        " cannot tell its peers (they stop at the heartbeat timeout).",
        jax.__version__,
      )
    return None
  return client


_WARNED = False


def recorded_failure() -> str | None:
  """The run's first reported failure, or None (also for one process)."""
  client = _client()
  if client is None:
    return None
  try:
    return client.key_value_try_get(FAILURE_KEY)
  except Exception:  # pylint: disable=broad-except
    return None  # NOT_FOUND, or the service is gone


def _prefix() -> str:
  """How this process's failure reports begin."""
  return f"process {jax.process_index()}: "


def report_failure(message: str) -> str:
  """Records `message` as the run's failure unless one is recorded already.

  Returns the run's first failure (this one, or an earlier peer's).
  """
  text = _prefix() + message
  client = _client()
  if client is None:
    return text
  try:
    client.key_value_set(FAILURE_KEY, text)
    return text
  except Exception:  # pylint: disable=broad-except
    return recorded_failure() or text  # ALREADY_EXISTS: a peer was first


def _exit_now(code: int) -> NoReturn:
  """Exits without `jax.distributed`'s shutdown barrier (peers are gone)."""
  logging.flush()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)  # pylint: disable=protected-access


def exit(code: int) -> NoReturn:  # pylint: disable=redefined-builtin
  """`sys.exit(code)`; with peers, an exit that skips the shutdown barrier.

  For a failing process: its peers are stopping (failure_watcher), so
  waiting for them at `jax.distributed.shutdown` would only wait out its
  timeout.
  """
  if jax.process_count() > 1:
    _exit_now(code)
  sys.exit(code)


def exit_on_failure(e: BaseException) -> None:
  """In a multi-process run: reports `e`, prints it, exits; else returns.

  The traceback is printed, then `error: process <i>: <e>` (with "this
  process stops too" if a peer's failure was reported first).
  """
  if jax.process_count() == 1:
    return
  first = report_failure(errors.first_line(e))
  traceback.print_exception(e)
  mine = first.startswith(_prefix())
  print(
    f"error: {first}" if mine else f"error: {first}; this process stops too",
    file=sys.stderr,
  )
  _exit_now(EXIT_FAILED)


@contextlib.contextmanager
def failure_watcher(poll_s: float = POLL_S):
  """Exits this process within ~`poll_s` of a peer's reported failure.

  A no-op for one process. Stops polling on leaving the block, before
  `jax.distributed`'s shutdown.
  """
  client = _client()
  if client is None:
    yield
    return
  stop = threading.Event()
  me = _prefix()

  def watch():
    lost = 0
    while not stop.wait(poll_s):
      try:
        failure = client.key_value_try_get(FAILURE_KEY)
      except Exception as e:  # pylint: disable=broad-except
        if "NOT_FOUND" in str(e):
          lost = 0
          continue
        lost += 1
        if lost >= _LOST_AFTER_POLLS and not stop.is_set():
          print(
            "error: lost the coordination service (process 0 exited or its"
            f" host is unreachable: {errors.first_line(e)}); this process stops too",
            file=sys.stderr,
          )
          _exit_now(EXIT_FAILED)
        continue
      if not failure.startswith(me) and not stop.is_set():
        print(f"error: {failure}; this process stops too", file=sys.stderr)
        _exit_now(EXIT_FAILED)
      return  # our own failure: the main thread is exiting already

  thread = threading.Thread(target=watch, name="failure_watcher", daemon=True)
  thread.start()
  try:
    yield
  finally:
    stop.set()
    thread.join(timeout=2 * poll_s)
