"""PTP hierarchical subgoal planner (seed 001 ch. 10.5.2-10.5.3, Algorithm 9, cost eq. 52), numpy only.

Plan(s_0, s_g): on the coarsest level sample N latent sequences z_{1:K} (half from N(0, I), half from
the latent plan buffer when it has entries), roll them out recursively through the level's generator
s^_i = g(s^_{i-1}, z_i), keep the lowest-cost sequence, refine it with MPPI (Gaussian perturbations of
the latent plan, exponentially weighted average), then on each finer level plan M subgoals between
every consecutive pair of the coarser plan (all segments batched into one generator call per step).

Cost (eq. 52, from the constrained problem eq. 51: minimise ||s_g - s^_K|| s.t. V(s^_i, s^_{i+1}) >= delta):

    feasibility="linear" (the seed's Lagrangian): c = ||s_g - s^_K|| + eta * sum_i (delta - V(s^_i, s^_{i+1}))
    feasibility="hinge"  (default, a penalty):   c = ||s_g - s^_K|| + eta * sum_i max(0, delta - V(s^_i, s^_{i+1}))

The seed prints "+ eta * sum V"; with V a value (higher = easier to reach) the Lagrangian of V >= delta
carries -V, which is what "linear" does. delta = -delta_scale * horizon of the level (V is in steps).
The hinge only punishes hops that break the constraint: the linear form also rewards short hops,
which, with a value that cannot see walls, pushes MPPI to make the generators "tunnel".

The generators and the value are interfaces: ONNX Runtime sessions at deploy time (``OnnxSubgoalGenerator``,
``OnnxGoalValue``), torch modules for comparison (``TorchSubgoalGenerator`` in bench). Until the policy
engineer's goal-conditioned critic exists, ``DistanceValue`` is a STAND-IN: V(s, s') = -||s - s'|| / step,
minus the estimated number of steps between s and s' (step = mean per-step displacement in the data).
It knows nothing about walls; feasibility comes from the generators, which only propose subgoals the
data reached within a level's horizon.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)


class SubgoalGenerator(Protocol):
    state_dim: int
    latent_dim: int
    horizons: tuple[int, ...]

    def __call__(self, level: int, state: np.ndarray, z: np.ndarray) -> np.ndarray:
        """g_level(state, z) for B rows: float32 B,D."""


class GoalValue(Protocol):
    def __call__(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """V(s, s') for B rows: float B (higher = s' easier to reach from s)."""


@dataclass
class DistanceValue:
    """Distance-based STAND-IN for a learned goal-conditioned value: V = -||s - s'|| / step_scale."""

    step_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.step_scale > 0:
            raise ValueError(f"step_scale must be > 0, got {self.step_scale}")

    def __call__(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        return -np.linalg.norm(state - goal, axis=-1) / self.step_scale


class OnnxSubgoalGenerator:
    """Generators from a PTP bundle (``generator_l<i>.onnx``, inputs state/z, output subgoal)."""

    def __init__(self, bundle) -> None:
        extra = bundle.card.extra
        self.bundle = bundle
        self.horizons = tuple(int(h) for h in extra["horizons"])
        self.state_dim = int(extra["state_dim"])
        self.latent_dim = int(extra["z_dim"])
        self._sessions = [bundle.sessions[f"generator_l{i}"] for i in range(len(self.horizons))]

    def __call__(self, level: int, state: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self._sessions[level].run(None, {"state": state.astype(np.float32, copy=False),
                                                "z": z.astype(np.float32, copy=False)})[0]


class OnnxGoalValue:
    """A goal-conditioned value V(s, g) from an ONNX bundle role with inputs (obs, goal) -> value."""

    def __init__(self, bundle, role: str = "value") -> None:
        spec = bundle.spec(role)
        self._sess = bundle.sessions[role]
        self._names = [t.name for t in spec.inputs]
        if len(self._names) != 2:
            raise ValueError(f"value model {bundle.name}/{spec.path} must take (state, goal), takes {self._names}")

    def __call__(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        out = self._sess.run(None, {self._names[0]: state.astype(np.float32), self._names[1]: goal.astype(np.float32)})
        return np.asarray(out[0]).reshape(len(state))


@dataclass
class PTPPlannerConfig:
    num_subgoals: int = 8
    """K: subgoals on the coarsest level"""
    levels: int = 2
    """L: planning levels used (<= generator levels)"""
    first_level: int = 0
    """generator level planned first (0 = the longest horizon)"""
    multiplier: int = 2
    """M: subgoals per segment on each finer level"""
    num_samples: int = 1024
    """N: candidate latent sequences per segment"""
    mppi_iters: int = 5
    """MPPI refinement iterations per level (seed: 5)"""
    mppi_sigma: float = 0.5
    """std of the Gaussian latent perturbations"""
    mppi_temperature: float = 0.1
    """lambda of the MPPI weights exp(-(c - c_min) / lambda)"""
    eta: float = 0.1
    """weight of the feasibility term of eq. 52 (seed: 0.01 with its linear form and IQL values)"""
    feasibility: str = "hinge"
    """'hinge' (penalise only V < delta) or 'linear' (the seed's Lagrangian)"""
    delta_scale: float = 1.0
    """delta = -delta_scale * level horizon: a hop must be reachable within the level's steps"""
    z_clip: float = 3.0
    """latents are clipped to [-z_clip, z_clip] so MPPI stays where the prior has mass"""
    buffer_size: int = 256
    """latent plans kept per level (the latent plan buffer)"""
    buffer_fraction: float = 0.5
    """share of initial candidates drawn from the buffer (seed: half)"""
    buffer_noise: float = 0.1
    """std of the noise added to buffered latents"""
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("num_subgoals", "levels", "multiplier", "num_samples", "buffer_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.first_level < 0 or self.mppi_iters < 0:
            raise ValueError(f"first_level and mppi_iters must be >= 0, got {self.first_level}, {self.mppi_iters}")
        if not (self.mppi_sigma > 0 and self.mppi_temperature > 0 and self.eta >= 0 and self.z_clip > 0):
            raise ValueError(f"need mppi_sigma>0, mppi_temperature>0, eta>=0, z_clip>0; got {self.mppi_sigma}, "
                             f"{self.mppi_temperature}, {self.eta}, {self.z_clip}")
        if self.feasibility not in ("hinge", "linear"):
            raise ValueError(f"feasibility must be 'hinge' or 'linear', got {self.feasibility!r}")
        if not 0.0 <= self.buffer_fraction <= 1.0:
            raise ValueError(f"buffer_fraction must be in [0, 1], got {self.buffer_fraction}")


@dataclass
class Plan:
    """Result of one planning call: the finest-level subgoals and what each level chose."""

    subgoals: np.ndarray
    """P, D: the subgoal sequence to execute, in order (last one approximates the goal)"""
    horizon: int
    """steps allotted to each subgoal (the finest level's horizon)"""
    cost: float
    """eq. 52 cost of the coarsest level's chosen plan"""
    levels: list[np.ndarray] = field(default_factory=list)
    """per planned level, its subgoals (coarsest first)"""


class PTPPlanner:
    def __init__(self, generator: SubgoalGenerator, value: GoalValue, config: PTPPlannerConfig) -> None:
        n_levels = len(generator.horizons)
        if config.first_level + config.levels > n_levels:
            raise ValueError(f"planner wants levels {config.first_level}..{config.first_level + config.levels - 1} "
                             f"but the generator has {n_levels} (horizons {generator.horizons})")
        self.gen, self.value, self.config = generator, value, config
        self.rng = np.random.default_rng(config.seed)
        self.buffers: dict[int, list[np.ndarray]] = {}

    # ------------------------------------------------------------------ public
    def plan(self, start: np.ndarray, goal: np.ndarray) -> Plan:
        """Algorithm 9 from ``start`` (D) to ``goal`` (D); also appends the chosen latents to the buffers."""
        start, goal = self._check(start, "start"), self._check(goal, "goal")
        c = self.config
        lvl = c.first_level
        subgoals, z, cost = self._plan_level(lvl, start[None], goal[None], c.num_subgoals)
        per_level = [subgoals.reshape(-1, self.gen.state_dim)]
        self._remember(lvl, z)
        plan_cost = float(cost[0])
        for lvl in range(c.first_level + 1, c.first_level + c.levels):
            prev = subgoals.reshape(-1, self.gen.state_dim)  # P, D
            starts = np.vstack([start[None], prev[:-1]])
            subgoals, z, _ = self._plan_level(lvl, starts, prev, c.multiplier)
            per_level.append(subgoals.reshape(-1, self.gen.state_dim))
            self._remember(lvl, z)
        return Plan(per_level[-1], self.gen.horizons[c.first_level + c.levels - 1], plan_cost, per_level)

    def cost(self, level: int, starts: np.ndarray, rollouts: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """Eq. 52 for S segments x N candidates: starts S,D, rollouts S,N,K,D, goals S,D -> S,N."""
        c = self.config
        s, n, k, d = rollouts.shape
        prev = np.concatenate([np.broadcast_to(starts[:, None, None], (s, n, 1, d)), rollouts[:, :, :-1]], axis=2)
        v = self.value(prev.reshape(-1, d), rollouts.reshape(-1, d)).reshape(s, n, k)
        gap = -c.delta_scale * self.gen.horizons[level] - v  # delta - V
        if c.feasibility == "hinge":
            gap = np.maximum(gap, 0.0)
        reach = np.linalg.norm(goals[:, None] - rollouts[:, :, -1], axis=-1)
        return reach + c.eta * gap.sum(-1)

    # ------------------------------------------------------------------ internals
    def _check(self, x: np.ndarray, what: str) -> np.ndarray:
        x = np.asarray(x, np.float32).reshape(-1)
        if x.shape[0] != self.gen.state_dim:
            raise ValueError(f"{what} has {x.shape[0]} dims, the generators plan in {self.gen.state_dim}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{what} contains NaN/inf: {x}")
        return x

    def _rollout(self, level: int, starts: np.ndarray, z: np.ndarray) -> np.ndarray:
        """starts S,D; z S,N,K,Z -> subgoals S,N,K,D (one batched generator call per step k)."""
        s, n, k, _ = z.shape
        d = self.gen.state_dim
        cur = np.broadcast_to(starts[:, None], (s, n, d)).reshape(s * n, d)
        out = np.empty((s, n, k, d), np.float32)
        for i in range(k):
            cur = self.gen(level, cur, z[:, :, i].reshape(s * n, -1))
            out[:, :, i] = cur.reshape(s, n, d)
        return out

    def _initial(self, level: int, s: int, k: int) -> np.ndarray:
        c = self.config
        z = self.rng.standard_normal((s, c.num_samples, k, self.gen.latent_dim)).astype(np.float32)
        buf = [b for b in self.buffers.get(level, []) if b.shape[0] == k]
        n_buf = int(c.num_samples * c.buffer_fraction) if buf else 0
        if n_buf:
            pick = self.rng.integers(len(buf), size=(s, n_buf))
            z[:, :n_buf] = np.stack(buf)[pick] + c.buffer_noise * self.rng.standard_normal(
                (s, n_buf, k, self.gen.latent_dim)).astype(np.float32)
        return np.clip(z, -c.z_clip, c.z_clip)

    def _plan_level(self, level: int, starts: np.ndarray, goals: np.ndarray, k: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Plan k subgoals for each of S segments; returns (subgoals S,k,D, latents S,k,Z, cost S)."""
        c = self.config
        s = starts.shape[0]
        rows = np.arange(s)
        z = self._initial(level, s, k)
        roll = self._rollout(level, starts, z)
        cost = self.cost(level, starts, roll, goals)
        best_i = cost.argmin(1)
        best_z, best_s, best_c = z[rows, best_i], roll[rows, best_i], cost[rows, best_i]
        mean = best_z
        for _ in range(c.mppi_iters):
            eps = self.rng.standard_normal(z.shape).astype(np.float32) * c.mppi_sigma
            z = np.clip(mean[:, None] + eps, -c.z_clip, c.z_clip)
            z[:, 0] = mean  # keep the current mean among the candidates
            roll = self._rollout(level, starts, z)
            cost = self.cost(level, starts, roll, goals)
            w = np.exp(-(cost - cost.min(1, keepdims=True)) / c.mppi_temperature)
            w /= w.sum(1, keepdims=True)
            mean = np.einsum("sn,snkz->skz", w, z).astype(np.float32)
            i = cost.argmin(1)
            better = cost[rows, i] < best_c
            best_z[better], best_s[better], best_c[better] = z[rows, i][better], roll[rows, i][better], cost[rows, i][better]
        return best_s, best_z, best_c

    def _remember(self, level: int, z: np.ndarray) -> None:
        buf = self.buffers.setdefault(level, [])
        buf.extend(np.asarray(z, np.float32))
        del buf[: max(0, len(buf) - self.config.buffer_size)]
