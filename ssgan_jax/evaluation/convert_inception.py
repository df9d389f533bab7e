"""Converts pytorch-fid's Inception weights (.pth) into the .npz we load.

  python -m ssgan_jax.evaluation.convert_inception \
      --pth pt_inception-2015-12-05-6726825d.pth --out fid_inception.npz

Reading a .pth needs torch (CPU is enough), and only for `torch.load`;
everything else is numpy, so the conversion itself is tested without torch.
Torch's layouts become Flax's: conv weights OIHW -> HWIO, the fc weight
[out, in] -> [in, out]; BatchNorm weight/bias/running_mean/running_var
become bn scale/bias (params) and mean/var (batch_stats). The sha256 of
the .pth is stored in the .npz, so `inception.load_params` can tell
whether the weights come from the official file. Nothing is downloaded.
"""

import os
import pathlib
import sys
from collections.abc import Mapping

import numpy as np
from absl import app
from absl import flags

from ssgan_jax import atomic
from ssgan_jax import cli
from ssgan_jax import errors
from ssgan_jax.evaluation import inception


def save_npz(
  path: str | os.PathLike, flat: Mapping[str, np.ndarray], source_sha256: str
) -> None:
  """Writes converted arrays plus format and source checksum, atomically.

  The file is written next to `path` and renamed over it, so a crash never
  leaves a truncated weights file that later fails in a confusing way.
  """
  with atomic.replacing(path) as tmp, open(tmp, "wb") as f:
    np.savez(
      f,
      **flat,
      **{
        inception.FORMAT_KEY: np.array(inception.NPZ_FORMAT),
        inception.SOURCE_SHA256_KEY: np.array(source_sha256),
      },
    )


def convert_file(pth: str | os.PathLike, out: str | os.PathLike) -> str:
  """Reads `pth`, checks and converts it, writes `out`; returns its sha256."""
  pth, out = pathlib.Path(pth), pathlib.Path(out)
  if not pth.is_file():
    raise errors.UserError(
      f"--pth {pth} not found; download it from {inception.WEIGHTS_URL}."
    )
  if out.suffix != ".npz":
    raise errors.UserError(f"--out {out} must end in .npz.")
  source = inception.sha256_file(pth)
  flat = inception.convert_state_dict(inception.read_pth(pth), where=str(pth))
  try:
    save_npz(out, flat, source)
  except OSError as e:
    raise errors.UserError(f"cannot write {out} ({e.strerror or e}).") from None
  return source


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {' '.join(argv[1:])} (see --help)")
  pth, out = flags.FLAGS.pth, flags.FLAGS.out
  if not pth or not out:
    cli.fail("pass --pth FILE.pth and --out FILE.npz (see --help)")
  try:
    source = convert_file(pth, out)
  except errors.UserError as e:
    cli.fail(str(e))
  note = (
    "the official pytorch-fid weights"
    if source.startswith(inception.SOURCE_SHA256_PREFIX)
    else f"NOT the official {inception.WEIGHTS_FILENAME}; numbers from it"
    " compare only with numbers from the same file"
  )
  print(f"wrote {out} (source sha256 {source}: {note})", file=sys.stderr)


def _define_flags() -> None:
  # Defined only when run as a program: library code imports this module,
  # and flags defined at import time would clash with the importer's.
  flags.DEFINE_string(
    "pth", None, f"pytorch-fid's {inception.WEIGHTS_FILENAME}."
  )
  flags.DEFINE_string("out", None, "Converted weights to write (.npz).")


if __name__ == "__main__":
  _define_flags()
  app.run(main, flags_parser=cli.parse_flags)
