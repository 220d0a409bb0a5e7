"""Online replay buffer for off-policy RL (SAC / TD3 / DDPGfD): a fixed-size numpy ring.

``GoalReplay`` in :mod:`subgoal.algos.buffers` serves *offline* datasets with goal relabeling; this
one is filled by the online loop one transition at a time and sampled uniformly. ``done`` is a true
terminal only (time-outs are not terminals: the episode would have gone on), so it is stored as given.
Optional n-step returns (DDPGfD, Vecerik et al. 2017) are computed at insertion from the last ``n``
transitions of the current episode, so sampling stays one gather.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import torch


class ReplayBuffer:
    def __init__(self, obs_dim: int, act_dim: int, capacity: int, n_step: int = 1, gamma: float = 0.99,
                 seed: int = 0) -> None:
        if capacity <= 0 or n_step < 1:
            raise ValueError(f"capacity must be > 0 and n_step >= 1, got {capacity}, {n_step}")
        self.capacity, self.n_step, self.gamma = int(capacity), int(n_step), float(gamma)
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.action = np.zeros((capacity, act_dim), np.float32)
        self.reward = np.zeros(capacity, np.float32)
        self.done = np.zeros(capacity, np.float32)
        self.discount = np.zeros(capacity, np.float32)  #: γ^k of the bootstrap term (k = steps summed)
        self.size = 0
        self._ptr = 0
        self._window: deque = deque()
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def _write(self, obs, action, reward, next_obs, done, discount) -> None:
        i = self._ptr
        self.obs[i], self.action[i], self.reward[i] = obs, action, reward
        self.next_obs[i], self.done[i], self.discount[i] = next_obs, done, discount
        self._ptr = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def _flush_one(self, next_obs, done: bool) -> None:
        """Write the oldest window transition with the discounted sum of the window's rewards."""
        ret, k = 0.0, 0
        for (_, _, r) in self._window:
            ret += (self.gamma ** k) * r
            k += 1
        o, a, _ = self._window.popleft()
        self._write(o, a, ret, next_obs, float(done), self.gamma ** k)

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, done: bool,
            episode_end: bool) -> None:
        """Add one transition; ``done`` = true terminal, ``episode_end`` = terminal or time-out."""
        if self.n_step == 1:
            self._write(obs, action, reward, next_obs, float(done), self.gamma)
            return
        self._window.append((np.asarray(obs), np.asarray(action), float(reward)))
        if len(self._window) == self.n_step:
            self._flush_one(next_obs, done)
        if episode_end:
            while self._window:
                self._flush_one(next_obs, done)

    def sample(self, batch_size: int, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty")
        idx = self.rng.integers(0, self.size, batch_size)
        t = lambda a: torch.as_tensor(a[idx], device=device)  # noqa: E731
        return {"obs": t(self.obs), "action": t(self.action), "reward": t(self.reward),
                "next_obs": t(self.next_obs), "done": t(self.done), "discount": t(self.discount)}


def cat_batches(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One batch of agent data followed by demo data (the demo rows are the last ``len(b)``)."""
    return {k: torch.cat([a[k], b[k]]) for k in a}
