"""Which dataset example every process reads at every step: f(seed, step).

Global example position `p` of a run, for D step i of G step `step` and
batch row j, is p = (step * n_dis + i) * B + j (B the global batch). It
reads example `perm_e[p mod N]` of the N-example split, with e = p // N
the epoch and `perm_e` a permutation seeded by (seed, e). Process k of K
reads rows [k * B/K, (k + 1) * B/K) of every global batch.

Every source uses this order (the in-memory arrays and the ArrayRecord
files alike), so that any step's batch is computed directly: a resumed run
sees the data an uninterrupted run would, and K processes together see
the batches one process would.
"""

import numpy as np


class ExampleOrder:
  """Dataset indices (and global positions) of one process's examples."""

  def __init__(
    self,
    num_examples: int,
    batch_size: int,
    disc_iters: int,
    seed: int,
    process_index: int = 0,
    process_count: int = 1,
  ):
    """Args: batch_size is global; this process reads B/process_count rows."""
    if num_examples < 1:
      raise ValueError("an ExampleOrder needs at least one example")
    self.num_examples = num_examples
    self.batch_size = batch_size
    self.disc_iters = disc_iters
    self.seed = seed
    self.local = batch_size // process_count
    self.offset = process_index * self.local
    self._perms: dict[int, np.ndarray] = {}

  def _perm(self, epoch: int) -> np.ndarray:
    if epoch not in self._perms:
      if len(self._perms) > 2:
        self._perms.pop(min(self._perms))
      rng = np.random.default_rng([self.seed, epoch])
      self._perms[epoch] = rng.permutation(self.num_examples)
    return self._perms[epoch]

  def positions(self, step: int) -> np.ndarray:
    """Global positions p of this process's examples: int64 [n_dis, B_local]."""
    base = (
      step * self.disc_iters + np.arange(self.disc_iters, dtype=np.int64)
    ) * self.batch_size
    return base[:, None] + self.offset + np.arange(self.local)[None, :]

  def indices(self, step: int) -> np.ndarray:
    """Dataset indices of this process's examples at `step`: [n_dis, B_local]."""
    n = self.num_examples
    pos = self.positions(step)
    out = np.empty_like(pos)
    for epoch in np.unique(pos // n):
      mask = pos // n == epoch
      out[mask] = self._perm(int(epoch))[pos[mask] % n]
    return out
