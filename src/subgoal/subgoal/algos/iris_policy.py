"""IRIS low-level controller: a goal-conditioned LSTM trained by behaviour cloning on T-step windows
(Mandlekar et al. 2020; seed 000 §1.1.1).

Training (seed 000): sample consecutive windows ``(s_t, a_t, …, s_{t+T-1}, a_{t+T-1}, s_{t+T})`` from
the demos; the last state's achieved goal ``g = z(s_{t+T})`` is the goal the RNN must reach, and the
loss is the L2 behaviour-cloning loss over the window

    L(θ) = Σ_{k=t}^{t+T-1} ‖a_k − π_θ(s_k | g, h_{k-1})‖²,   h_{t-1} = 0.

The recurrent state starts at zero at the start of every window, so the policy has only ever seen
states h_0 … h_{T-1}. At deploy time the high level holds a (sub)goal for T steps and then picks the
next one; the low level therefore resets its state whenever the goal changes and, when the same goal
is held longer, every T steps (``reset_every`` in the bundle card) — beyond T steps the state would be
out of the training distribution.

Export: the LSTM state is an explicit ONNX input/output, flattened batch-first as ``state`` (B, 2H) =
[h ⊕ c], so the graph keeps the bundle's dynamic batch axis and ``subgoal.runtime.policy.PolicyCore``
carries it between ticks (see there). A stateless window-replay export would run T LSTM steps per
tick and need the last T observations on the node; the explicit state is cheaper and exact.

Goals: ``keep_prob`` > 0 replaces that fraction of window goals by the episode's commanded goal (IRIS
itself uses only window ends, the default); used for standalone evaluation without a high level.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from subgoal.algos.buffers import GoalDataset
from subgoal.algos.common import GoalAgent, _cpu_copy
from subgoal.models.mlp import InputNormalizer
from subgoal.train.common import require


@dataclass
class IrisPolicyConfig:
    """IRIS low-level hyper-parameters (seed 000: one LSTM, BC on T-step windows)."""

    horizon: int = 10
    """T: window length; the goal is the achieved goal T steps after the window start"""
    hidden: int = 256
    """LSTM width (one layer) and width of the input/output MLP layers"""
    lr: float = 1e-3
    """Adam learning rate"""
    grad_clip: float = 1.0
    """gradient-norm clip (LSTMs on short windows occasionally spike)"""
    keep_prob: float = 0.0
    """fraction of windows whose goal is the episode's commanded goal instead of the window end"""

    def __post_init__(self) -> None:
        require(self.horizon >= 1, "horizon", self.horizon, "must be >= 1")
        require(self.hidden > 0, "hidden", self.hidden, "must be > 0")
        require(self.lr > 0, "lr", self.lr, "must be > 0")
        require(self.grad_clip > 0, "grad_clip", self.grad_clip, "must be > 0")
        require(0.0 <= self.keep_prob <= 1.0, "keep_prob", self.keep_prob, "must be in [0, 1]")


# ------------------------------------------------------------------------------------------- loss
def window_bc_loss(pred: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Seed 000's L2 BC loss: sum over the T steps and action dims, mean over windows."""
    loss = (pred - action).pow(2).sum((1, 2)).mean()
    return loss, {"losses/actor": loss.detach(), "charts/action_mse": (pred.detach() - action).pow(2).mean()}


# ------------------------------------------------------------------------------------------- network
class LSTMPolicy(nn.Module):
    """x_k = normalized (s_k ⊕ g) → Linear/ReLU → LSTM → Linear/ReLU → Linear → tanh, in [-1, 1]."""

    def __init__(self, in_dim: int, act_dim: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.inp = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU())
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, act_dim))

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``x`` (B, T, in) → actions (B, T, act) and the final (h, c), each (1, B, H)."""
        y, (h, c) = self.lstm(self.inp(x), state)
        return torch.tanh(self.out(y)), (h, c)


class ExportLSTMPolicy(nn.Module):
    """ONNX graph ``(obs, goal, state) -> (action, next_state)``; ``state`` = h ⊕ c, (B, 2H), zeros at reset."""

    def __init__(self, normalizer: InputNormalizer, policy: LSTMPolicy) -> None:
        super().__init__()
        self.normalizer, self.policy = normalizer, policy

    def forward(self, obs: torch.Tensor, goal: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hdim = self.policy.hidden
        h = state[:, :hdim].unsqueeze(0).contiguous()
        c = state[:, hdim:].unsqueeze(0).contiguous()
        a, (h2, c2) = self.policy(self.normalizer(obs, goal).unsqueeze(1), (h, c))
        return a[:, 0], torch.cat([h2[0], c2[0]], -1)


# ------------------------------------------------------------------------------------------- windows
class WindowReplay:
    """Sample T-step windows ``{obs (B,T,D), goal (B,G), action (B,T,A)}`` from a ``GoalDataset``.

    A window starts at t with t + T ≤ episode end; its goal is ``achieved_next[t + T - 1]`` = z(s_{t+T})
    (or, with ``keep_prob``, the episode's commanded goal). Episodes shorter than T are not used (counted
    in ``skipped_short``); if none is long enough the error says so.
    """

    def __init__(self, data: GoalDataset, horizon: int, keep_prob: float = 0.0,
                 rng: np.random.Generator | int = 0, device: str | torch.device = "cpu") -> None:
        ends = np.asarray(data.episode_ends, np.int64)
        starts = np.concatenate([[0], ends[:-1]])
        lengths = ends - starts
        ok = lengths >= horizon
        self.skipped_short = int((~ok).sum())
        if not ok.any():
            raise ValueError(f"no episode has >= horizon={horizon} steps (longest: {int(lengths.max())}); "
                             f"lower --horizon")
        self.valid_starts = np.concatenate([np.arange(s, e - horizon + 1) for s, e, k in zip(starts, ends, ok) if k])
        self.horizon, self.keep_prob = horizon, keep_prob
        if keep_prob > 0 and data.commanded is None:
            raise ValueError("keep_prob > 0 needs the dataset's commanded goals (goal key), it has none")
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.device = torch.device(device)
        as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=self.device)  # noqa: E731
        self.obs = as_t(data.obs)
        self.actions = as_t(data.normalized_actions())
        self.achieved = as_t(data.achieved_next)
        self.commanded = as_t(data.commanded) if data.commanded is not None else None
        self._offsets = torch.arange(horizon, device=self.device)

    def sample(self, windows: int) -> dict[str, torch.Tensor]:
        t0 = torch.from_numpy(self.rng.choice(self.valid_starts, windows)).to(self.device)
        idx = t0[:, None] + self._offsets[None]  # (B, T)
        goal = self.achieved.index_select(0, idx[:, -1])
        if self.keep_prob > 0:
            keep = torch.from_numpy(self.rng.random(windows) < self.keep_prob).to(self.device)
            goal = torch.where(keep[:, None], self.commanded.index_select(0, t0), goal)  # type: ignore[union-attr]
        flat = idx.reshape(-1)
        return {"obs": self.obs.index_select(0, flat).view(windows, self.horizon, -1), "goal": goal,
                "action": self.actions.index_select(0, flat).view(windows, self.horizon, -1)}


# ------------------------------------------------------------------------------------------- agent
class IrisPolicy(GoalAgent):
    """IRIS low level as a ``GoalAgent``: same normalizer, trainer loop and bundle, an LSTM actor."""

    name = "iris_policy"
    supports_bf16 = False  # an LSTM: --precision bf16 would change nothing

    def __init__(self, config: IrisPolicyConfig, obs_dim: int, goal_dim: int, act_dim: int,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(obs_dim, goal_dim, act_dim, (config.hidden,), config.lr, device)
        self.config = config
        self.actor = LSTMPolicy(obs_dim + goal_dim, act_dim, config.hidden).to(self.device)  # replaces the MLP
        self._state: tuple[torch.Tensor, torch.Tensor] | None = None
        self._state_goal: np.ndarray | None = None
        self._state_age = 0

    @property
    def state_dim(self) -> int:
        return 2 * self.config.hidden

    def make_replay(self, data: GoalDataset, relabel: Any, prior: Any, rng: np.random.Generator,
                    device: str | torch.device) -> WindowReplay:
        """The trainer's sampler: T-step windows (relabeling mixtures do not apply to IRIS windows)."""
        return WindowReplay(data, self.config.horizon, self.config.keep_prob, rng=rng, device=device)

    def batch_units(self, transitions: int) -> int:
        """``--batch-size`` counts transitions: B/T windows of T steps (at least one)."""
        return max(1, transitions // self.config.horizon)

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        obs, goal = batch["obs"], batch["goal"]
        b, t, _ = obs.shape
        x = self.x(obs.reshape(b * t, -1), goal.repeat_interleave(t, 0)).view(b, t, -1)
        pred, _ = self.actor(x)
        return window_bc_loss(pred, batch["action"])

    def clip_grads(self, info: dict[str, torch.Tensor]) -> None:
        """LSTMs through T steps: clip the gradient norm (IRIS), logged as charts/grad_norm."""
        info["charts/grad_norm"] = nn.utils.clip_grad_norm_(self.actor.parameters(), self.config.grad_clip)

    # deployment-like stepping (the same reset rule as PolicyCore) ------------------------------
    def reset(self) -> None:
        """Forget the recurrent state (new episode)."""
        self._state, self._state_goal, self._state_age = None, None, 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """One control tick for ONE obs/goal: carries (h, c); resets on a new goal and every T ticks."""
        g = np.asarray(goal, np.float32).reshape(-1)
        if (self._state_goal is None or not np.array_equal(g, self._state_goal)
                or self._state_age >= self.config.horizon):
            self._state, self._state_goal, self._state_age = None, g.copy(), 0
        o = torch.as_tensor(np.asarray(obs, np.float32).reshape(1, -1), device=self.device)
        gt = torch.as_tensor(g[None], device=self.device)
        a, self._state = self.actor(self.x(o, gt).unsqueeze(1), self._state)
        self._state_age += 1
        return a[0, 0].cpu().numpy()

    def export_graphs(self, probe_obs: np.ndarray | None = None, probe_goal: np.ndarray | None = None) -> dict[str, Any]:
        from subgoal.bundle.export import OnnxExport
        ex = {"obs": torch.zeros(1, self.obs_dim), "goal": torch.zeros(1, self.goal_dim),
              "state": torch.zeros(1, self.state_dim)}
        probe = None
        if probe_obs is not None and probe_goal is not None:
            n = len(probe_obs)
            g = torch.Generator().manual_seed(0)
            probe = {"obs": torch.as_tensor(probe_obs, dtype=torch.float32),
                     "goal": torch.as_tensor(probe_goal, dtype=torch.float32),
                     "state": 0.5 * torch.randn(n, self.state_dim, generator=g)}
        module = ExportLSTMPolicy(_cpu_copy(self.normalizer), _cpu_copy(self.actor))
        return {"policy": OnnxExport(module, ex, ["action", "next_state"], probe)}

    def recurrent_card(self) -> dict[str, Any]:
        """What ``PolicyCore`` needs to carry the state: tensor names, size, reset rule."""
        return {"state_input": "state", "state_output": "next_state", "state_dim": self.state_dim,
                "reset_every": self.config.horizon, "reset_on_goal_change": True}
