"""Offline evaluation: sample-quality metrics and the networks behind them.

  from ssgan_jax.evaluation import fmnist
  fmnist.evaluate_images(samples)  # fd_fmnist, kid, coverage, P/R, ...

`metrics` holds pure numpy/scipy metrics on features; `classifier` the
checksummed Fashion-MNIST CNN whose features define FD-FMNIST; `fmnist`
ties them to the embedded dataset.
"""
