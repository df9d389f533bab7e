"""Files that readers never see half-written: write aside, then rename.

  with atomic.replacing("samples/step_250.png") as tmp:
    image.save(tmp, format="PNG")
  atomic.write_json("eval/best.json", {"step": 250, ...})

Every file the library writes for people, tools or a resumed run (configs,
scores, checkpoint checksums, grids, sample files, statistics, weights)
goes through `replacing`, so a stop or a crash mid-write leaves the old
file or none, never a truncated one, and no temporary file stays behind.
"""

import contextlib
import json
import os
import pathlib


@contextlib.contextmanager
def replacing(path: str | os.PathLike):
  """Yields a temporary path beside `path`; renames it over `path` on success.

  The temporary name starts with a dot (globs such as `*.npz` skip it) and
  carries the pid, so processes writing the same file never share one. The
  parent directory is created. On an exception the temporary file is
  removed and `path` is left as it was.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if tmp.exists():
      tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
  with replacing(path) as tmp:
    tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj, indent: int | None = 2) -> None:
  """`obj` as sorted JSON. Values JSON does not know (paths, numpy scalars)
  are written as their `str`."""
  text = json.dumps(obj, indent=indent, sort_keys=True, default=str)
  write_text(path, text + "\n")
