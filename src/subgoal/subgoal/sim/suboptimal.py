"""Suboptimality knob p for scripted experts (IRIS seed, section 3.4).

Like epsilon-greedy: at every 10 Hz step, with probability ``p`` the expert leaves its path for a
short random walk (a random direction held for a few steps, with noise); afterwards it executes the
optimal path again *from wherever the walk ended*. p = 0 is the pure expert; p = 0.5 gives demos
that still mostly reach the goal but with detours, the mix IRIS is meant to learn from.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SuboptimalExpert:
    """Wraps an expert action with random-walk detours taken with probability ``p`` per step."""

    walk_steps: tuple[int, int] = (1, 2)  # random-walk length range (10 Hz steps, inclusive)
    speed: float = 0.5  # walk speed (action units)
    noise: float = 0.2  # per-step Gaussian noise added to the walk direction (action units)
    _left: int = 0
    _direction: np.ndarray | None = None

    def reset(self) -> None:
        self._left = 0
        self._direction = None

    @property
    def walking(self) -> bool:
        return self._left > 0

    def __call__(self, expert_action: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
        if not 0.0 <= p <= 1.0 or not np.isfinite(p):
            raise ValueError(f"suboptimality p must be in [0, 1], got {p!r}")
        if self._left == 0 and p > 0 and rng.random() < p:
            self._left = int(rng.integers(self.walk_steps[0], self.walk_steps[1] + 1))
            d = rng.normal(size=3)
            self._direction = d / max(np.linalg.norm(d), 1e-9)
        if self._left == 0:
            return expert_action
        self._left -= 1
        action = expert_action.copy()
        action[:3] = np.clip(self.speed * self._direction + self.noise * rng.normal(size=3), -1.0, 1.0)
        return action  # the gripper keeps the expert's command: detours, not drops
