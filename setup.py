"""Installs ssgan_jax; `pip install -e ".[test]"` adds the test tools."""

import setuptools

setuptools.setup(
  name="ssgan_jax",
  version="0.1.0",
  description="Self-Supervised GANs via Auxiliary Rotation Loss in JAX/Flax",
  license="Apache-2.0",
  python_requires=">=3.11",
  packages=setuptools.find_packages(include=["ssgan_jax*", "configs*"]),
  install_requires=[
    "jax>=0.10.2,<0.12",
    "jaxlib>=0.10.2,<0.12",
    "flax>=0.12.8,<0.13",
    "optax>=0.2.8,<0.3",
    "chex>=0.1.90",
    "orbax-checkpoint>=0.12.8,<0.13",
    "ml-collections>=1.1.0,<2",
    "clu==0.0.12",
    "tensorflow-cpu>=2.21,<2.22",
    "tensorboard>=2.20",
    "tensorflow-datasets>=4.9.9,<4.10",
    "importlib_resources>=6",  # undeclared by tensorflow-datasets 4.9.10
    "numpy>=1.26",
    "pillow>=10",
    "absl-py>=2.1",
    "tqdm>=4.66",
    # Random access to ArrayRecord datasets (dataset.in_memory=False).
    "grain>=0.2.18,<0.3",
  ],
  extras_require={
    # matplotlib: the tests run the experiment scripts, which plot.
    "test": ["pytest>=8", "pytest-xdist>=3.5", "ruff>=0.6", "matplotlib>=3.7"],
    # Plots of the experiments/ scripts.
    "experiments": ["matplotlib>=3.7"],
  },
)
