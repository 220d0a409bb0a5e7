"""Amortized batch sampling: K batches' indices, relabeled goals and rewards drawn in ONE vectorized call.

Why: ``GoalReplay.sample`` is ~25 numpy/torch calls (index draw, source draw, masks, gathers, reward,
three ``index_select``) whose fixed cost is a good part of a call at batch 256; ``BatchBlocks`` draws a
block of ``K`` batches with one ``GoalReplay.sample(K * B)`` and hands out one contiguous row slice (a
view, no copy) per step, so that cost is paid once per ``K`` steps (per-step cost for K = 1 … 128:
``bench/sample_blocks.py``, numbers in docs/learning.md § Throughput).

The stream is a pure function of (seed, stream, step): block ``j`` (steps ``jK … jK+K-1``) is drawn from
its own generator seeded with ``SeedSequence(seed, spawn_key=(TAG, stream, j))``. So

* same seed → same batches, and a run resumed at any step ``s`` regenerates block ``s // K`` and skips to
  row ``s % K``: bit-exact with the uninterrupted run, whatever the checkpoint interval, with nothing to
  store in the checkpoint (the checkpoint's numpy RNG state is not used by this stream);
* every row is drawn exactly as ``GoalReplay.sample`` draws one (uniform index, mixture source, goal,
  reward): only the grouping of the draws changes, not their distribution (``tests/algos/test_batch_blocks.py``);
* DDP ranks pass their rank as ``stream`` and get independent streams.

``K`` is capped so that a block holds at most ``MAX_BLOCK_ROWS`` transitions (memory stays a few MB).
"""
from __future__ import annotations

import numpy as np
import torch

from subgoal.algos.buffers import GoalReplay

#: spawn-key tag of the block generators (keeps them apart from seed_everything's own SeedSequence(seed))
TAG = 0x62_6C_6B  # "blk"
#: most transitions one block holds (64 batches of 256)
MAX_BLOCK_ROWS = 16_384


class BatchBlocks:
    """Batches of ``replay`` for step indices (see module docstring): ``batch(step)`` = the batch of ``step``."""

    def __init__(self, replay: GoalReplay, batch_size: int, block: int, seed: int, stream: int = 0) -> None:
        if batch_size <= 0 or block <= 0:
            raise ValueError(f"batch_size and block must be > 0, got {batch_size}, {block}")
        self.replay, self.batch_size, self.seed, self.stream = replay, int(batch_size), int(seed), int(stream)
        self.k = max(1, min(int(block), MAX_BLOCK_ROWS // self.batch_size))
        self._j = -1
        self._block: dict[str, torch.Tensor] = {}

    def block_rng(self, j: int) -> np.random.Generator:
        """The generator of block ``j`` (a function of seed, stream and ``j`` only)."""
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(TAG, self.stream, int(j))))

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch of gradient step ``step`` (0-based): views into the current block's tensors."""
        j, i = divmod(int(step), self.k)
        if j != self._j:
            self._block = self.replay.sample(self.k * self.batch_size, self.block_rng(j))
            self._j = j
        lo = i * self.batch_size
        hi = lo + self.batch_size
        return {key: v[lo:hi] for key, v in self._block.items()}
