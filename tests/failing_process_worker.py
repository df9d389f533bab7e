"""`python -m ssgan_jax.main`, except that process $SSGAN_TEST_FAIL_PROCESS
raises at step 2 (run by multiprocess_test.py): an error its peers do not hit.

Run from the repo root as `python tests/failing_process_worker.py <main's
flags>`; the failure is injected into the data source, the one input every
step reads.
"""

import os
import sys

import jax
from absl import app

sys.path.insert(0, os.getcwd())  # the repo root, for `configs` and ssgan_jax

from ssgan_jax import input_pipeline  # noqa: E402
from ssgan_jax import main  # noqa: E402

FAIL_PROCESS = int(os.environ["SSGAN_TEST_FAIL_PROCESS"])
MESSAGE = "injected failure at step 2"
_create_source = input_pipeline.create_source


def _failing_source(config, workdir=None):
  source = _create_source(config, workdir)
  host_batch = source.host_batch

  def failing(step, **kwargs):
    if step == 2 and jax.process_index() == FAIL_PROCESS:
      raise RuntimeError(MESSAGE)
    return host_batch(step, **kwargs)

  source.host_batch = failing
  return source


input_pipeline.create_source = _failing_source

if __name__ == "__main__":
  app.run(main.main, flags_parser=main.parse_flags)
