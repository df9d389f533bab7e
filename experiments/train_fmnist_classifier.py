"""Trains the FD-FMNIST classifier and writes its checksummed weights.

  python experiments/train_fmnist_classifier.py \
      --out ssgan_jax/evaluation/weights/fmnist_classifier.npz

Deterministic for a given seed on a given platform: a numpy permutation per
epoch, horizontal flips from the same generator, Adam with cosine decay.
2.5-6 minutes per epoch on 2 shared CPU cores (15 minutes in all for the
committed weights). Prints the test accuracy and the sha256 to
put into `classifier.WEIGHTS_SHA256`; a new file means every FD-FMNIST
number must be recalibrated (experiments/fmnist_metric_calibration.py).
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app
from absl import flags

from ssgan_jax import input_pipeline
from ssgan_jax import preprocess
from ssgan_jax.evaluation import classifier

_OUT = flags.DEFINE_string("out", None, "Destination .npz for the weights.")
_EPOCHS = flags.DEFINE_integer("epochs", 4, "Passes over the 60k train split.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 128, "Training batch size.")
_LEARNING_RATE = flags.DEFINE_float(
  "learning_rate", 2e-3, "Peak Adam learning rate (cosine decay to 0)."
)
_FLIP = flags.DEFINE_bool(
  "flip",
  True,
  "Augment with random horizontal flips (classes are mirror-"
  "invariant; a little extra variety at no cost).",
)
_SEED = flags.DEFINE_integer("seed", 0, "Seed for init, order and flips.")
flags.mark_flag_as_required("out")


def make_train_step(tx: optax.GradientTransformation):
  """(params, opt_state, images, labels) -> (params, opt_state, loss)."""
  model = classifier.FmnistCNN()

  def loss_fn(params, images, labels):
    _, logits = model.apply({"params": params}, images)  # [B, 10]
    return optax.softmax_cross_entropy_with_integer_labels(
      logits, labels
    ).mean()

  @jax.jit
  def step(params, opt_state, images, labels):
    loss, grads = jax.value_and_grad(loss_fn)(params, images, labels)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  return step


def accuracy(params, images_u8: np.ndarray, labels: np.ndarray) -> float:
  """Top-1 accuracy of `params` on uint8 [N, 32, 32, 1] images."""
  _, probs = classifier.features_and_probs(
    params, preprocess.to_float(images_u8)
  )
  return float((probs.argmax(-1) == labels).mean())


def train(
  epochs: int, batch_size: int, learning_rate: float, flip: bool, seed: int
):
  """Returns (params, test accuracy) after `epochs` passes over train."""
  train_x, train_y = input_pipeline.load_embedded("fashion_mnist", "train", 32)
  test_x, test_y = input_pipeline.load_embedded("fashion_mnist", "test", 32)
  steps_per_epoch = len(train_x) // batch_size  # drop the ragged remainder
  tx = optax.adam(
    optax.cosine_decay_schedule(learning_rate, epochs * steps_per_epoch)
  )
  params = classifier.init_params(seed)
  opt_state = tx.init(params)
  step = make_train_step(tx)
  rng = np.random.default_rng(seed)
  n_params = sum(x.size for x in jax.tree.leaves(params))
  print(f"FmnistCNN: {n_params:,} parameters, {steps_per_epoch} steps/epoch")
  for epoch in range(epochs):
    start, losses = time.time(), []
    perm = rng.permutation(len(train_x))
    for i in range(steps_per_epoch):
      idx = perm[i * batch_size : (i + 1) * batch_size]
      images = preprocess.to_float(train_x[idx])  # [B, 32, 32, 1]
      if flip:
        mirror = rng.random(batch_size) < 0.5
        images = np.where(
          mirror[:, None, None, None], images[:, :, ::-1], images
        )
      params, opt_state, loss = step(
        params, opt_state, jnp.asarray(images), jnp.asarray(train_y[idx])
      )
      losses.append(loss)
    mean_loss = float(np.mean(jax.device_get(losses)))
    print(
      f"epoch {epoch + 1}/{epochs}: train loss {mean_loss:.4f}, test"
      f" accuracy {accuracy(params, test_x, test_y):.4f}"
      f" ({time.time() - start:.0f} s)",
      flush=True,
    )
  return params, accuracy(params, test_x, test_y)


def main(argv):
  del argv
  params, test_acc = train(
    _EPOCHS.value,
    _BATCH_SIZE.value,
    _LEARNING_RATE.value,
    _FLIP.value,
    _SEED.value,
  )
  digest = classifier.save_params(params, _OUT.value)
  print(f"test accuracy: {test_acc:.4f}")
  print(f"wrote {_OUT.value}")
  print(f"sha256: {digest}")


if __name__ == "__main__":
  app.run(main)
