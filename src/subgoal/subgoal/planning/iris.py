"""IRIS high-level goal selection (seed 000): sample M goal proposals s_g ~ p(s_{t+T} | s_t) from the goal
cVAE decoder, score each with the value V(s_g) = max_i Q(s_g, a_i) (a_i from the action cVAE), keep the
best. numpy + ONNX Runtime only (``OnnxIris`` reads an ``iris_goal`` bundle); ``select_random`` is the
single-proposal baseline the value selection is compared against.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class GoalSampler(Protocol):
    state_dim: int
    z_dim: int

    def __call__(self, state: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Goal proposals for B rows (state B,D, z B,Z) -> B,D."""


class StateValue(Protocol):
    def __call__(self, state: np.ndarray) -> np.ndarray:
        """V(s) for B rows -> B."""


@dataclass
class IrisSelectorConfig:
    num_goal_proposals: int = 16
    """M goal proposals scored per selection"""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_goal_proposals < 1:
            raise ValueError(f"num_goal_proposals must be >= 1, got {self.num_goal_proposals}")


class IrisGoalSelector:
    def __init__(self, sampler: GoalSampler, value: StateValue, config: IrisSelectorConfig) -> None:
        self.sampler, self.value, self.config = sampler, value, config
        self.rng = np.random.default_rng(config.seed)

    def proposals(self, state: np.ndarray, m: int) -> np.ndarray:
        s = np.repeat(self._check(state)[None], m, 0)
        z = self.rng.standard_normal((m, self.sampler.z_dim)).astype(np.float32)
        return self.sampler(s, z)

    def select(self, state: np.ndarray) -> tuple[np.ndarray, float]:
        """Best of M proposals by value: (goal D, its value)."""
        goals = self.proposals(state, self.config.num_goal_proposals)
        v = self.value(goals)
        i = int(np.argmax(v))
        return goals[i], float(v[i])

    def select_random(self, state: np.ndarray) -> np.ndarray:
        """The baseline: one cVAE proposal, no value."""
        return self.proposals(state, 1)[0]

    def _check(self, state: np.ndarray) -> np.ndarray:
        s = np.asarray(state, np.float32).reshape(-1)
        if s.shape[0] != self.sampler.state_dim:
            raise ValueError(f"state has {s.shape[0]} dims, the goal cVAE takes {self.sampler.state_dim}")
        if not np.all(np.isfinite(s)):
            raise ValueError(f"state contains NaN/inf: {s}")
        return s


class OnnxIris:
    """Goal sampler and value of an ``iris_goal`` bundle (roles goal_sampler, value)."""

    def __init__(self, bundle, seed: int = 0) -> None:
        extra = bundle.card.extra
        self.state_dim, self.z_dim = int(extra["state_dim"]), int(extra["z_dim"])
        self.action_z_dim, self.num_action_proposals = int(extra["action_z_dim"]), int(extra["num_action_proposals"])
        self._goal = bundle.sessions["goal_sampler"]
        self._value = bundle.sessions["value"]
        self.rng = np.random.default_rng(seed)

    def __call__(self, state: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self._goal.run(None, {"state": state.astype(np.float32), "z": z.astype(np.float32)})[0]

    def value(self, state: np.ndarray) -> np.ndarray:
        z = self.rng.standard_normal((len(state), self.num_action_proposals, self.action_z_dim)).astype(np.float32)
        return self._value.run(None, {"state": state.astype(np.float32), "z": z})[0]
