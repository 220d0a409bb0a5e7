"""Goal relabeling for goal-conditioned offline learning: one sampler, four sources, mixture weights.

For a batch of transition indices the sampler draws, per transition, a goal from one of:

* ``keep``    — the episode's commanded goal (``goal_state``) or, if the dataset has none, the state the
                episode ended in;
* ``future``  — a state reached later in the same episode (HER "future": uniform over t' ∈ [t, T-1] of
                the achieved goal after step t', so the next state itself can be the goal; with
                ``future_horizon`` H, over t' ∈ [t, min(t+H, T)-1]);
* ``uniform`` — any state of the dataset;
* ``prior``   — samples from a callable ``prior(n, rng) -> (n, G)`` (e.g. a VAE/PixelCNN prior).

Defaults (state goals, no generative prior): keep 20% / future 50% / uniform 30%. RIG relabels 50% future /
50% prior; VAL uses keep 20% / future 40% / prior 40% (``RelabelConfig.val()``).
Rewards are computed after relabeling from the achieved goal of the *next* state:
sparse ``-1[‖z' − z_g‖ > eps]`` or dense ``-‖z' − z_g‖``; ``reached`` (``‖z' − z_g‖ ≤ eps``) ends the
episode for bootstrapping.

Everything is vectorized numpy over the batch and every draw comes from the Generator given.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from subgoal.train.common import ConfigError, require

SOURCES = ("keep", "future", "uniform", "prior")
Prior = Callable[[int, np.random.Generator], np.ndarray]


@dataclass
class RelabelConfig:
    """Mixture weights over goal sources (normalized; must not all be zero) and the goal reward."""

    keep: float = 0.2
    """weight of the episode's own commanded (or final) goal"""
    future: float = 0.5
    """weight of a future state of the same episode (HER)"""
    uniform: float = 0.3
    """weight of a uniformly drawn dataset state (mostly unreachable goals: the value learns 'far')"""
    prior: float = 0.0
    """weight of samples from a prior callable (needs one, e.g. a VAE prior; VAL uses 0.4)"""
    future_horizon: int = 0
    """future goals at most this many steps ahead (0: up to the episode's end); a low-level policy guided by
    a planner only ever chases subgoals a planner horizon away, so it need not learn far-future goals"""
    reward: Literal["sparse", "dense"] = "sparse"
    """sparse -1[dist > eps] or dense -dist"""
    eps: float = 0.05
    """success radius in goal space (same units as the goal, e.g. metres for object position)"""

    def __post_init__(self) -> None:
        for name in SOURCES:
            v = getattr(self, name)
            require(np.isfinite(v) and v >= 0, name, v, "a mixture weight must be finite and >= 0")
        require(sum(getattr(self, n) for n in SOURCES) > 0, "keep+future+uniform+prior",
                [getattr(self, n) for n in SOURCES], "at least one weight must be > 0")
        require(self.reward in ("sparse", "dense"), "reward", self.reward, "must be 'sparse' or 'dense'")
        require(self.eps > 0, "eps", self.eps, "must be > 0")
        require(int(self.future_horizon) == self.future_horizon and self.future_horizon >= 0, "future_horizon",
                self.future_horizon, "must be an int >= 0 (0: up to the episode's end)")

    @classmethod
    def val(cls, **kw: float | str) -> "RelabelConfig":
        """VAL's mixture (thesis ch. 9): keep 20% / future 40% / prior 40%."""
        return cls(keep=0.2, future=0.4, uniform=0.0, prior=0.4, **kw)  # type: ignore[arg-type]

    @property
    def weights(self) -> np.ndarray:
        w = np.array([getattr(self, n) for n in SOURCES], dtype=np.float64)
        return w / w.sum()


def goal_distance(achieved: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Euclidean distance over the last axis."""
    return np.linalg.norm(np.asarray(achieved, np.float64) - np.asarray(goal, np.float64), axis=-1)


def goal_reward(achieved_next: np.ndarray, goal: np.ndarray, kind: str = "sparse",
                eps: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """``(reward, reached)`` for reaching ``goal`` from the achieved goal of the next state (float32, bool)."""
    d = goal_distance(achieved_next, goal)
    reached = d <= eps
    if kind == "sparse":
        r = -(~reached).astype(np.float32)
    elif kind == "dense":
        r = (-d).astype(np.float32)
    else:
        raise ConfigError(f"reward={kind!r}: must be 'sparse' or 'dense'")
    return r, reached


def episode_bounds(episode_ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-transition (start, end-exclusive) of its episode, from the cumulative episode ends."""
    ends = np.asarray(episode_ends, dtype=np.int64)
    if ends.ndim != 1 or len(ends) == 0 or np.any(np.diff(ends) <= 0) or ends[0] <= 0:
        raise ValueError(f"episode_ends must be strictly increasing positive ints, got {ends[:8]!r}…")
    lengths = np.diff(np.concatenate([[0], ends]))
    starts = ends - lengths
    return np.repeat(starts, lengths), np.repeat(ends, lengths)


class GoalSampler:
    """Draw relabeled goals for transition indices (see module docstring).

    ``achieved_next``: (N, G) achieved goal after each transition (e.g. object position or latent of the
    next observation). ``episode_ends``: cumulative exclusive ends of the episodes (last == N).
    ``commanded``: optional (N, G) goal the episode was recorded for. ``prior``: optional callable.
    """

    def __init__(self, achieved_next: np.ndarray, episode_ends: np.ndarray, config: RelabelConfig,
                 commanded: np.ndarray | None = None, prior: Prior | None = None,
                 rng: np.random.Generator | int = 0) -> None:
        self.achieved_next = np.asarray(achieved_next, dtype=np.float32)
        if self.achieved_next.ndim != 2:
            raise ValueError(f"achieved_next must be (N, G), got shape {self.achieved_next.shape}")
        n = len(self.achieved_next)
        self.start, self.end = episode_bounds(episode_ends)
        if len(self.start) != n:
            raise ValueError(f"episode_ends cover {len(self.start)} transitions, achieved_next has {n}")
        if commanded is not None:
            commanded = np.asarray(commanded, dtype=np.float32)
            if commanded.shape != self.achieved_next.shape:
                raise ValueError(f"commanded goals shape {commanded.shape} != achieved_next {self.achieved_next.shape}")
        if config.prior > 0 and prior is None:
            raise ConfigError(f"prior={config.prior!r}: a prior weight needs a prior callable (none given)")
        self.commanded = commanded
        self.config = config
        self.prior = prior
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self._cdf = np.cumsum(config.weights)

    def sample(self, idx: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Goals (B, G) float32 for transitions ``idx`` and the source of each (index into ``SOURCES``).

        ``rng``: draw from this generator instead of the sampler's own (``subgoal.algos.batch_blocks`` gives
        each block of batches its own)."""
        rng = self.rng if rng is None else rng
        idx = np.asarray(idx, dtype=np.int64)
        b = len(idx)
        src = np.searchsorted(self._cdf, rng.random(b), side="right").clip(0, len(SOURCES) - 1)
        goals = np.empty((b, self.achieved_next.shape[1]), dtype=np.float32)
        m = src == 0
        if m.any():
            goals[m] = (self.commanded[idx[m]] if self.commanded is not None
                        else self.achieved_next[self.end[idx[m]] - 1])
        m = src == 1
        if m.any():
            i = idx[m]
            span = self.end[i] - i
            if self.config.future_horizon:
                span = np.minimum(span, self.config.future_horizon)
            j = i + np.floor(rng.random(len(i)) * span).astype(np.int64)
            goals[m] = self.achieved_next[j]
        m = src == 2
        if m.any():
            goals[m] = self.achieved_next[rng.integers(0, len(self.achieved_next), int(m.sum()))]
        m = src == 3
        if m.any():
            p = np.asarray(self.prior(int(m.sum()), rng), dtype=np.float32)  # type: ignore[misc]
            if p.shape != (int(m.sum()), goals.shape[1]):
                raise ValueError(f"prior returned shape {p.shape}, expected {(int(m.sum()), goals.shape[1])}")
            goals[m] = p
        return goals, src.astype(np.int8)

    def relabel(self, idx: np.ndarray, rng: np.random.Generator | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(goals, reward, reached)`` for transitions ``idx`` under the configured reward (``rng``: as in
        ``sample``)."""
        goals, _ = self.sample(idx, rng)
        r, reached = goal_reward(self.achieved_next[idx], goals, self.config.reward, self.config.eps)
        return goals, r, reached
