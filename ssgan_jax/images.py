"""Sample grids as PNG files, written atomically.

save_grid(images, "samples/step_000250.png")   # images [N, H, W, C] in [-1, 1]
"""

import math
import os

import numpy as np
from PIL import Image

from ssgan_jax import atomic


def to_uint8(images: np.ndarray) -> np.ndarray:
  """[-1, 1] floats -> uint8 0..255 (clipped)."""
  return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(
    np.uint8
  )


def make_grid(
  images: np.ndarray, pad: int = 1, cols: int | None = None
) -> np.ndarray:
  """[N, H, W, C] uint8 -> one [rows*(H+pad)+pad, cols*(W+pad)+pad, C] image.

  `cols`: images per row, default ceil(sqrt(N)) (a square-ish grid).
  """
  n, h, w, c = images.shape
  cols = min(n, cols) if cols else math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  grid = np.full(
    (rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8
  )
  for i in range(n):
    r, q = divmod(i, cols)
    y, x = pad + r * (h + pad), pad + q * (w + pad)
    grid[y : y + h, x : x + w] = images[i]
  return grid


def save_grid(
  images: np.ndarray, path: str | os.PathLike, cols: int | None = None
) -> np.ndarray:
  """Writes a grid of `images` ([-1, 1]) to `path`; returns the uint8 grid."""
  grid = make_grid(to_uint8(images), cols=cols)
  with atomic.replacing(path) as tmp:
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(
      tmp, format="PNG"
    )
  return grid
