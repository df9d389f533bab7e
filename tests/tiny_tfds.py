"""A tiny TFDS dataset built offline from embedded Fashion-MNIST images.

`build(data_dir, file_format, n)` prepares `tiny_fashion_mnist` (the first
n test images and labels, 28x28x1) in `data_dir`, as ArrayRecord or
TFRecord. Once prepared, `tfds.builder("tiny_fashion_mnist",
data_dir=...)` reads it from its files, in any process, without this
module.
"""

import numpy as np
import tensorflow_datasets as tfds

from ssgan_jax import fashion_mnist

NAME = "tiny_fashion_mnist"


class TinyFashionMnist(tfds.core.GeneratorBasedBuilder):
  """The first `n` Fashion-MNIST test images (n set by `build`)."""

  VERSION = tfds.core.Version("1.0.0")
  n = 0

  def _info(self):
    # Not dataset_info_from_configs: that reads metadata files next to the
    # builder's module, which a test module does not have.
    return tfds.core.DatasetInfo(
      builder=self,
      features=tfds.features.FeaturesDict(
        {
          "image": tfds.features.Image(shape=(28, 28, 1)),
          "label": tfds.features.ClassLabel(num_classes=10),
        }
      ),
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    return {"train": self._generate_examples()}

  def _generate_examples(self):
    images, labels = fashion_mnist.load("test")
    for i in range(self.n):
      yield i, {"image": np.asarray(images[i]), "label": int(labels[i])}


def build(data_dir, file_format: str, n: int = 160):
  """Prepares the dataset in `data_dir`; returns its builder."""
  TinyFashionMnist.n = n
  tfds.disable_progress_bar()
  builder = TinyFashionMnist(data_dir=str(data_dir), file_format=file_format)
  builder.download_and_prepare()
  return builder
