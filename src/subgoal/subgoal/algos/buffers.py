"""The offline goal-conditioned dataset in memory and the batch sampler every algorithm uses.

``GoalDataset`` holds flat numpy arrays (transitions of all episodes back to back, ``episode_ends``
marking the boundaries). ``GoalReplay`` preloads them as torch tensors once, then per batch draws
indices with numpy, relabels goals with ``subgoal.data.relabel.GoalSampler`` and gathers rows with one
``index_select`` per array — no per-sample Python, no copies of the dataset per step.

Actions are stored normalized to [-1, 1] using the dataset's declared (or observed) range:
``a_norm = (a - offset) / scale`` with ``offset = (high + low) / 2`` and ``scale = (high - low) / 2``;
the bundle records scale/offset/low/high so the runtime maps network outputs back to robot units.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from subgoal.data.relabel import GoalSampler, Prior, RelabelConfig


@dataclass
class GoalDataset:
    """Flat transitions of a goal-reaching dataset (see module docstring)."""

    obs: np.ndarray
    """(N, D) float32 observation vector (concatenated ``obs_keys``)"""
    actions: np.ndarray
    """(N, A) float32 actions in robot units"""
    next_obs: np.ndarray
    """(N, D) float32"""
    achieved_next: np.ndarray
    """(N, G) float32 achieved goal after each transition"""
    episode_ends: np.ndarray
    """(E,) int64 cumulative exclusive episode ends"""
    action_low: np.ndarray
    action_high: np.ndarray
    commanded: np.ndarray | None = None
    """(N, G) float32 goal the episode was recorded for, if any"""
    obs_keys: list[str] = field(default_factory=list)
    obs_dims: dict[str, int] = field(default_factory=dict)
    goal_key: str = ""
    info: dict = field(default_factory=dict)
    """loader notes: skipped episodes, dataset path and hash, …"""

    def __post_init__(self) -> None:
        n = len(self.obs)
        for name in ("actions", "next_obs", "achieved_next") + (("commanded",) if self.commanded is not None else ()):
            if len(getattr(self, name)) != n:
                raise ValueError(f"GoalDataset: {name} has {len(getattr(self, name))} rows, obs has {n}")
        if n == 0:
            raise ValueError("GoalDataset: no transitions")
        if int(self.episode_ends[-1]) != n:
            raise ValueError(f"GoalDataset: episode_ends[-1]={int(self.episode_ends[-1])} != {n} transitions")

    @property
    def action_scale(self) -> np.ndarray:
        return np.maximum((self.action_high - self.action_low) / 2.0, 1e-6).astype(np.float32)

    @property
    def action_offset(self) -> np.ndarray:
        return ((self.action_high + self.action_low) / 2.0).astype(np.float32)

    def normalized_actions(self) -> np.ndarray:
        return np.clip((self.actions - self.action_offset) / self.action_scale, -1.0, 1.0).astype(np.float32)

    @property
    def obs_dim(self) -> int:
        return int(self.obs.shape[1])

    @property
    def goal_dim(self) -> int:
        return int(self.achieved_next.shape[1])

    @property
    def act_dim(self) -> int:
        return int(self.actions.shape[1])


class GoalReplay:
    """Sample relabeled batches ``{obs, goal, action, reward, next_obs, done}`` (torch, float32).

    ``done`` is 1 where the next state reaches the (relabeled) goal: the episode ends there for
    bootstrapping; dataset time-outs are not terminals in goal reaching.
    """

    def __init__(self, data: GoalDataset, relabel: RelabelConfig, prior: Prior | None = None,
                 rng: np.random.Generator | int = 0, device: str | torch.device = "cpu") -> None:
        self.data = data
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.sampler = GoalSampler(data.achieved_next, data.episode_ends, relabel, commanded=data.commanded,
                                   prior=prior, rng=self.rng)
        self.device = torch.device(device)
        as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=self.device)  # noqa: E731
        self.obs = as_t(data.obs)
        self.next_obs = as_t(data.next_obs)
        self.actions = as_t(data.normalized_actions())
        self.size = len(data.obs)

    def sample(self, batch_size: int, rng: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
        """``batch_size`` relabeled transitions; ``rng``: draw indices and goals from this generator instead
        of the replay's own (``subgoal.algos.batch_blocks`` draws many batches at once from a per-block one)."""
        rng = self.rng if rng is None else rng
        idx = rng.integers(0, self.size, batch_size)
        goals, reward, reached = self.sampler.relabel(idx, rng)
        ti = torch.from_numpy(idx).to(self.device)
        return {
            "obs": self.obs.index_select(0, ti),
            "goal": torch.from_numpy(goals).to(self.device),
            "action": self.actions.index_select(0, ti),
            "reward": torch.from_numpy(reward).to(self.device),
            "next_obs": self.next_obs.index_select(0, ti),
            "done": torch.from_numpy(reached.astype(np.float32)).to(self.device),
        }
