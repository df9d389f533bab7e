"""A user's folder of images as a dataset (`dataset.name='folder'`).

  python -m ssgan_jax.main --config configs/fashion_mnist_ssgan.py \
      --config.dataset.name=folder --config.dataset.path=DIR --workdir W

Two layouts, told apart by what DIR holds:
* images anywhere under DIR, no class folders: unlabelled (labels -1);
* one sub-directory per class (`DIR/<class>/**/*.png`): labels are the
  classes' indices in sorted name order, for Cond-GAN and the probe.

Images (PNG, JPEG, BMP, GIF, WebP, TIFF; other files are skipped) are
decoded with Pillow, cropped or resized to `dataset.image_size` by
`dataset.preprocess` (`center_crop_resize`: the central square, then an
area-average resize when shrinking and a bicubic one when enlarging;
`crop_or_pad`; `none`) and kept in host memory as uint8, so the run's data
order is the in-memory source's: a function of (seed, step).

The order of the examples is the sorted list of relative paths. A run
writes that list to `<workdir>/dataset_index.json` and reads its examples
from it on resume, so that adding files to DIR later cannot shift the
data order of a run under way (files added since are left out and
counted in the log; a listed file that has gone is an error naming it).

Every problem with a folder is one `DataError` line that names it: a
missing or empty folder, a file that does not decode, images with
different channel counts, fewer images than one batch, images both at the
top level and in class folders.
"""

import hashlib
import json
import pathlib

import numpy as np
from absl import logging

from ssgan_jax import atomic
from ssgan_jax import errors

INDEX_FILE = "dataset_index.json"
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# Pillow modes -> channels. Palette and CMYK images become RGB; an alpha
# channel is dropped (LA -> L, RGBA -> RGB).
_CHANNELS = {
  "1": 1,
  "L": 1,
  "LA": 1,
  "I": 1,
  "I;16": 1,
  "F": 1,
  "RGB": 3,
  "RGBA": 3,
  "P": 3,
  "PA": 3,
  "CMYK": 3,
  "YCbCr": 3,
}
_PREPROCESSING = ("center_crop_resize", "crop_or_pad", "none")


def _is_image(path: pathlib.Path) -> bool:
  return path.suffix.lower() in EXTENSIONS and not path.name.startswith(".")


def _images_under(root: pathlib.Path) -> list[pathlib.Path]:
  return sorted(
    p
    for p in root.rglob("*")
    if p.is_file()
    and _is_image(p)
    and not any(part.startswith(".") for part in p.relative_to(root).parts)
  )


def scan(path: str) -> dict:
  """The index of a folder: {"files": [rel paths], "labels", "classes"}.

  `labels` are class indices (-1 for every file without class folders);
  `classes` the sorted class folder names (empty without them).
  """
  if not path:
    raise errors.DataError(
      "dataset.name='folder' needs the folder: set"
      " --config.dataset.path=DIR (a directory of images, or of one"
      " sub-directory of images per class)."
    )
  root = pathlib.Path(path).expanduser()
  if not root.is_dir():
    raise errors.DataError(
      f"dataset.path {str(root)!r} is not a directory; give the folder of"
      " images with --config.dataset.path=DIR."
    )
  top = sorted(p for p in root.iterdir() if p.is_file() and _is_image(p))
  dirs = sorted(
    p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
  )
  classes = [d for d in dirs if _images_under(d)]
  if top and classes:
    raise errors.DataError(
      f"dataset.path {str(root)!r} has images both at its top level (e.g."
      f" {top[0].name}) and in sub-directories (e.g. {classes[0].name}/);"
      " put every image in a class sub-directory (labelled) or keep them"
      " out of class folders (unlabelled)."
    )
  if classes:
    files, labels = [], []
    for k, d in enumerate(classes):
      for f in _images_under(d):
        files.append(f.relative_to(root).as_posix())
        labels.append(k)
    names = [d.name for d in classes]
  else:
    files = [f.relative_to(root).as_posix() for f in _images_under(root)]
    labels = [-1] * len(files)
    names = []
  if not files:
    raise errors.DataError(
      f"dataset.path {str(root)!r} holds no images (looked for"
      f" {', '.join(EXTENSIONS)} files, also in sub-directories)."
    )
  return {"files": files, "labels": labels, "classes": names}


def fingerprint(index: dict) -> str:
  """A short hash of the example list and labels (logged, stored)."""
  h = hashlib.sha256(json.dumps([index["files"], index["labels"]]).encode())
  return h.hexdigest()[:16]


def read_index(workdir) -> dict | None:
  """The index a run in `workdir` started with, or None for a new run."""
  if workdir is None:
    return None
  f = pathlib.Path(workdir) / INDEX_FILE
  if not f.exists():
    return None
  try:
    index = json.loads(f.read_text())
    assert len(index["files"]) == len(index["labels"])
  except (ValueError, KeyError, TypeError, AssertionError):
    raise errors.DataError(
      f"{f} is not a readable dataset index; restore it from a backup, or"
      " delete it to re-index the folder (the data order of the run then"
      " changes if the folder has)."
    ) from None
  return index


def write_index(workdir, index: dict) -> None:
  """Stores `index` in `workdir` (atomically) unless it is already there."""
  f = pathlib.Path(workdir) / INDEX_FILE
  if f.exists():
    return
  atomic.write_json(f, {**index, "fingerprint": fingerprint(index)}, None)


def resolve_index(path: str, stored: dict | None) -> dict:
  """The index to train on: `stored` (a resumed run's) checked against DIR."""
  current = scan(path)
  if stored is None:
    return current
  root = pathlib.Path(path).expanduser()
  have = set(current["files"])
  gone = [f for f in stored["files"] if f not in have]
  if gone:
    raise errors.DataError(
      f"{len(gone)} image(s) this run was started with are no longer in"
      f" {str(root)!r} (e.g. {gone[0]}); restore them, or start a new"
      " workdir to train on the folder as it is now."
    )
  added = len(have - set(stored["files"]))
  if added:
    logging.warning(
      "%d image(s) were added to %s since this run started; the run leaves"
      " them out and keeps its data order (its %s lists its images).",
      added,
      root,
      INDEX_FILE,
    )
  return {
    "files": list(stored["files"]),
    "labels": list(stored["labels"]),
    "classes": list(stored.get("classes", [])),
  }


def _decode(root: pathlib.Path, rel: str):
  """(PIL image in L or RGB, channels) of one file, or a one-line error."""
  from PIL import Image  # pylint: disable=g-import-not-at-top

  f = root / rel
  try:
    with Image.open(f) as im:
      im.load()
      mode = im.mode
      if mode not in _CHANNELS:
        raise errors.DataError(
          f"image {str(f)!r} has Pillow mode {mode!r}, which has no"
          " grayscale or RGB reading here; convert it to PNG in L or RGB."
        )
      channels = _CHANNELS[mode]
      return im.convert("L" if channels == 1 else "RGB"), channels
  except errors.DataError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise errors.DataError(
      f"image {str(f)!r} cannot be decoded ({type(e).__name__}); replace or"
      " remove it."
    ) from None


def _to_size(im, size: int, method: str, name: str):
  """PIL image -> uint8 [size, size, C] by `method` (see module docstring)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top

  w, h = im.size
  if method == "none":
    if (w, h) != (size, size):
      raise errors.DataError(
        f"image {name!r} is {w}x{h}, not {size}x{size}, and"
        " dataset.preprocess='none' does not resize; use"
        " dataset.preprocess='center_crop_resize'."
      )
  elif method == "crop_or_pad":
    out = Image.new(im.mode, (size, size))
    out.paste(
      im.crop(
        (
          max(0, (w - size) // 2),
          max(0, (h - size) // 2),
          max(0, (w - size) // 2) + min(w, size),
          max(0, (h - size) // 2) + min(h, size),
        )
      ),
      (max(0, (size - w) // 2), max(0, (size - h) // 2)),
    )
    im = out
  else:  # center_crop_resize
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    im = im.crop((left, top, left + s, top + s))
    if s != size:
      resample = Image.Resampling.BOX if s > size else Image.Resampling.BICUBIC
      im = im.resize((size, size), resample=resample)
  arr = np.asarray(im, dtype=np.uint8)
  return arr[..., None] if arr.ndim == 2 else arr


def load(
  path: str, index: dict, size: int, method: str, min_images: int
) -> tuple[np.ndarray, np.ndarray]:
  """Decodes `index`'s files: (uint8 [N, size, size, C], int32 labels [N])."""
  if method not in _PREPROCESSING:
    raise errors.ConfigError(
      f"dataset.preprocess={method!r} is not available for a folder dataset"
      f" (held in memory); choose one of: {', '.join(_PREPROCESSING)}."
    )
  root = pathlib.Path(path).expanduser()
  n = len(index["files"])
  if n < min_images:
    raise errors.DataError(
      f"dataset.path {str(root)!r} has {n} image(s), fewer than one batch"
      f" (batch_size={min_images}); add images or lower"
      " --config.batch_size."
    )
  out = np.empty((n, size, size, 0), np.uint8)
  first = None  # (file, channels) of the first image
  for i, rel in enumerate(index["files"]):
    im, channels = _decode(root, rel)
    if first is None:
      first = (rel, channels)
      out = np.empty((n, size, size, channels), np.uint8)
    elif channels != first[1]:
      raise errors.DataError(
        f"images in {str(root)!r} have different channel counts: {rel} has"
        f" {channels}, {first[0]} has {first[1]}; convert them all to"
        " grayscale or all to RGB."
      )
    out[i] = _to_size(im, size, method, str(root / rel))
  labels = np.asarray(index["labels"], np.int32)
  logging.info(
    "Folder dataset %s: %d images, %d classes, index %s.",
    root,
    n,
    len(index.get("classes", [])),
    fingerprint(index),
  )
  return out, labels


def export(
  images: np.ndarray,
  labels: np.ndarray | None,
  out: str,
  class_names=None,
) -> int:
  """Writes uint8 [N, H, W, C] images as PNGs under `out`; returns N.

  With labels, one sub-directory per class, `<k>_<class_names[k]>`
  (zero-padded k, so that the sorted order `scan` gives the classes is
  k's); without, all files in `out`.
  Refuses a non-empty `out`, so that nothing is overwritten.
  """
  from PIL import Image  # pylint: disable=g-import-not-at-top

  root = pathlib.Path(out).expanduser()
  if root.exists() and any(root.iterdir()):
    raise errors.DataError(
      f"{str(root)!r} is not empty; export into a new directory."
    )
  root.mkdir(parents=True, exist_ok=True)
  width = len(str(int(np.max(labels)))) if labels is not None else 0
  for i, image in enumerate(np.asarray(images, np.uint8)):
    d = root
    if labels is not None:
      k = int(labels[i])
      name = f"{k:0{width}d}"
      if class_names is not None:
        name += "_" + class_names[k].replace("/", "-").replace(" ", "_")
      d = root / name
      d.mkdir(exist_ok=True)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
      d / f"{i:06d}.png"
    )
  return len(images)


def _main(argv) -> None:
  """`python -m ssgan_jax.image_folder --out DIR`: embedded data as a folder."""
  from absl import flags  # pylint: disable=g-import-not-at-top

  from ssgan_jax import cli  # pylint: disable=g-import-not-at-top
  from ssgan_jax import fashion_mnist  # pylint: disable=g-import-not-at-top

  f = flags.FLAGS
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {' '.join(argv[1:])} (see --help)")
  try:
    if not f.out:
      raise errors.ConfigError("--out DIR is required (a new directory).")
    if f.per_class < 1:
      raise errors.ConfigError(
        f"--per_class={f.per_class} must be a positive integer."
      )
    images, labels = fashion_mnist.load(f.split)
    keep = np.concatenate(
      [np.flatnonzero(labels == k)[: f.per_class] for k in range(10)]
    )
    keep.sort()
    n = export(
      images[keep],
      labels[keep] if f.labelled else None,
      f.out,
      fashion_mnist.CLASS_NAMES,
    )
  except errors.UserError as e:
    cli.fail(str(e))
  print(f"wrote {n} images to {f.out}")


if __name__ == "__main__":
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags as _flags  # pylint: disable=g-import-not-at-top

  _flags.DEFINE_string("out", "", "New directory for the PNG files.")
  _flags.DEFINE_enum(
    "split", "train", ["train", "test"], "Fashion-MNIST split."
  )
  _flags.DEFINE_integer("per_class", 500, "Images of each class to write.")
  _flags.DEFINE_bool(
    "labelled", True, "One sub-directory per class (for Cond-GAN, probes)."
  )
  from ssgan_jax import cli as _cli  # pylint: disable=g-import-not-at-top

  app.run(_main, flags_parser=_cli.parse_flags)
