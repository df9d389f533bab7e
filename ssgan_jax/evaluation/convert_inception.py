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

_NO_TORCH = (
  "pip install torch (CPU) to read .pth; or pass an already converted .npz"
)


def read_pth(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """The state dict of a .pth file as numpy arrays (the only torch use)."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise errors.UserError(_NO_TORCH) from None
  try:
    # weights_only: a state dict is plain tensors; never unpickle code.
    state = torch.load(path, map_location="cpu", weights_only=True)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.UserError(
      f"cannot read {path} as a torch state dict ({errors.first_line(e)});"
      " download"
      f" {inception.WEIGHTS_URL} again."
    ) from None
  if not isinstance(state, Mapping):
    raise errors.UserError(
      f"{path} holds a {type(state).__name__}, not a state dict; expected"
      f" pytorch-fid's {inception.WEIGHTS_FILENAME}."
    )
  return {
    k: v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v)
    for k, v in state.items()
  }


def _is_ignored(key: str, expected: Mapping[str, tuple]) -> bool:
  """A BatchNorm's step counter that belongs to a known BatchNorm."""
  if not key.endswith(inception.IGNORED_SUFFIX):
    return False
  bn = key[: -len(inception.IGNORED_SUFFIX)]
  return f"{bn}.running_mean" in expected


def convert_state_dict(
  state_dict: Mapping[str, np.ndarray], where: str = "the state dict"
) -> dict[str, np.ndarray]:
  """Torch names and layouts -> the flat .npz keys `load_params` reads.

  Args:
    state_dict: {torch key: array} of pytorch-fid's FID Inception (numpy
      arrays, or anything np.asarray takes, such as CPU tensors).
    where: how to call the input in error messages (e.g. its path).

  Returns:
    {"params/Mixed_5b/branch1x1/conv/kernel": float32 HWIO array, ...};
    see `inception.flax_key`.

  Raises:
    errors.UserError: one line naming the first missing, unexpected or
      wrongly shaped key.
  """
  expected = inception.expected_torch_shapes()
  keys = [k for k in state_dict if not _is_ignored(k, expected)]
  missing = [k for k in expected if k not in state_dict]
  extra = [k for k in keys if k not in expected]
  for found, what in ((missing, "lacks key"), (extra, "has unexpected key")):
    if found:
      more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
      raise errors.UserError(
        f"{where} {what} {found[0]!r}{more}; expected pytorch-fid's FID"
        f" Inception ({inception.WEIGHTS_FILENAME}), not another network."
      )
  out = {}
  for key, shape in expected.items():
    value = np.asarray(state_dict[key])
    if value.shape != shape:
      raise errors.UserError(
        f"{where}: {key!r} has shape {value.shape}, expected {shape}; it is"
        f" not pytorch-fid's FID Inception ({inception.WEIGHTS_FILENAME})."
      )
    if not np.issubdtype(value.dtype, np.floating):
      raise errors.UserError(
        f"{where}: {key!r} has dtype {value.dtype}, expected floats."
      )
    value = value.astype(np.float32)
    if key.endswith("conv.weight"):
      value = value.transpose(2, 3, 1, 0)  # OIHW -> HWIO
    elif key == "fc.weight":
      value = value.T  # [out, in] -> [in, out]
    out[inception.flax_key(key)] = np.ascontiguousarray(value)
  return out


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
  flat = convert_state_dict(read_pth(pth), where=str(pth))
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
