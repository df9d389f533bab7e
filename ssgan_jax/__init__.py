"""ssgan_jax: Self-Supervised GANs via Auxiliary Rotation Loss, in JAX/Flax.

Synopsis:

  python -m ssgan_jax.main --config configs/fashion_mnist_ssgan.py \
      --workdir runs/fmnist_ssgan
"""

__version__ = "0.1.0"
