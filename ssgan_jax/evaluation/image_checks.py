"""Checks of user-supplied float images, shared by the evaluators.

Every evaluator takes uint8 images in 0..255 or floats in [-1, 1]; the
float case is where users go wrong (NaNs, [0, 1] or [0, 255] floats), and
each mistake gets the same one-line error wherever the images enter.
"""

import numpy as np
from absl import logging

from ssgan_jax import errors

# Float images may overshoot [-1, 1] by round-off; they are clipped.
FLOAT_SLACK = 1e-3


def checked_float_images(
  images: np.ndarray, name: str, zero_one_consequence: str
) -> np.ndarray:
  """Float images as float32 clipped to [-1, 1], or a one-line UserError.

  Args:
    images: float array of any shape.
    name: what the images are, for the messages ("the images in x.npz").
    zero_one_consequence: what goes wrong if they are really in [0, 1],
      appended to the warning for never-negative images.

  Returns:
    float32 images in [-1, 1].

  Raises:
    errors.UserError: NaN/inf values, or values outside [-1, 1].
  """
  bad = int(np.size(images) - np.isfinite(images).sum())
  if bad:
    raise errors.UserError(
      f"{name} holds {bad} NaN or infinite value(s); float images must be"
      " finite and in [-1, 1]."
    )
  lo, hi = float(images.min()), float(images.max())
  if lo < -1 - FLOAT_SLACK or hi > 1 + FLOAT_SLACK:
    raise errors.UserError(
      f"{name} are float with values in [{lo:.4g}, {hi:.4g}]; float images"
      " must be in [-1, 1] (x / 127.5 - 1 for 0..255, 2x - 1 for 0..1), or"
      " save uint8 in 0..255."
    )
  if lo >= 0:
    logging.warning(
      "%s are float in [%.3g, %.3g], never negative; if they are in [0, 1],"
      " rescale with 2x - 1 (%s).",
      name,
      lo,
      hi,
      zero_one_consequence,
    )
  return np.clip(images.astype(np.float32), -1.0, 1.0)
