"""Goal-conditioned Implicit Q-Learning (Kostrikov et al. 2021; thesis seed 001 ch. 8).

IQL never queries Q on actions outside the dataset:

* value:  L_V(ψ) = E[ L2^τ( min_i Q̂_i(s, g, a) − V_ψ(s, g) ) ]          (eq. 47, expectile τ)
* critic: L_Q(θ) = E[ (r + γ (1 − d) V_ψ(s', g) − Q_θi(s, g, a))² ]       (eq. 48, twin Q)
* actor:  L_π(φ) = −E[ min(exp(β (min_i Q̂_i − V_ψ)), w_max) log π_φ(a | s, g) ]   (eq. 49, AWR)
* target: θ̂ ← (1 − α) θ̂ + α θ

All three losses are computed from the same batch and summed into one backward pass: each loss
touches its own parameters and the cross terms (target Q, V(s'), the advantage) are detached, so the
gradients are those of three separate updates. The one difference to the sequential CORL loop is that
the critic's target V(s') uses ψ before (not after) this step's value update.

Defaults: τ=0.7, β=3 (the paper's locomotion setting, and what the sparse goal reward here needs);
antmaze-like long-horizon stitching prefers τ=0.9, β=10.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
import torch
from torch import nn

from subgoal.algos.common import GoalAgent, awr_policy_loss
from subgoal.models.mlp import TwinQ, ValueNet
from subgoal.train.common import require, soft_update


@dataclass
class IQLConfig:
    """IQL hyper-parameters (thesis ch. 8 / CORL defaults)."""

    hidden: tuple[int, ...] = (256, 256)
    """hidden widths of actor, critics and value MLPs"""
    lr: float = 3e-4
    """Adam learning rate (all networks)"""
    discount: float = 0.99
    """discount γ"""
    target_tau: float = 0.005
    """Polyak rate α of the target critics"""
    expectile: float = 0.7
    """expectile τ of the value loss (0.5 = SARSA mean, →1 = max over dataset actions)"""
    beta: float = 3.0
    """inverse temperature β of the advantage weights"""
    max_weight: float = 100.0
    """clip of exp(β·A) in the actor loss"""

    def __post_init__(self) -> None:
        require(len(self.hidden) > 0 and all(h > 0 for h in self.hidden), "hidden", self.hidden, "widths must be > 0")
        require(self.lr > 0, "lr", self.lr, "must be > 0")
        require(0 <= self.discount < 1, "discount", self.discount, "must be in [0, 1)")
        require(0 < self.target_tau <= 1, "target_tau", self.target_tau, "must be in (0, 1]")
        require(0 < self.expectile < 1, "expectile", self.expectile, "must be in (0, 1)")
        require(self.beta >= 0, "beta", self.beta, "must be >= 0")
        require(self.max_weight > 0, "max_weight", self.max_weight, "must be > 0")


# ------------------------------------------------------------------------------------------- losses
def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """Asymmetric L2: ``|τ − 1(u < 0)| u²`` averaged; ``u = target − prediction``."""
    weight = torch.where(diff > 0, expectile, 1.0 - expectile)
    return (weight * diff.pow(2)).mean()


def value_loss(target_q: torch.Tensor, v: torch.Tensor, expectile: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 47. ``target_q`` = min over target critics (detached); returns the advantage for the actor."""
    adv = target_q - v
    loss = expectile_loss(adv, expectile)
    return loss, {"losses/value": loss.detach(), "charts/v_mean": v.detach().mean(), "_adv": adv.detach()}


def critic_loss(q: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 48 for an ensemble: ``q`` (E, B), ``target`` (B,) detached; summed over members."""
    loss = (q - target.unsqueeze(0)).pow(2).mean(1).sum()
    return loss, {"losses/critic": loss.detach(), "charts/q_mean": q.detach().mean()}


# ---------------------------------------------------------------------------------------- trainer
#: update engines of ``IQL`` (``--engine``)
ENGINES = ("autograd", "fused")


class IQL(GoalAgent):
    """Goal-conditioned IQL over obs ⊕ goal (see module docstring)."""

    name = "iql"
    supports_goal_frame = True

    def __init__(self, config: IQLConfig, obs_dim: int, goal_dim: int, act_dim: int,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(obs_dim, goal_dim, act_dim, config.hidden, config.lr, device)
        self.config = config
        in_dim = obs_dim + goal_dim
        self.qf = TwinQ(in_dim, act_dim, config.hidden).to(self.device)
        self.qf_target = copy.deepcopy(self.qf).requires_grad_(False)
        self.vf = ValueNet(in_dim, config.hidden).to(self.device)
        self.engine = "autograd"
        self._fused = None

    def set_engine(self, engine: str) -> None:
        """``autograd`` (default: ``losses`` + ``backward`` + fused Adam) or ``fused``
        (``subgoal.algos.iql_fused``: the same update with a hand-written backward on flat buffers, no
        autograd; 1.5-2x the steps/s at 2x256 on one CPU thread). Call before the first update/checkpoint load."""
        if engine not in ENGINES:
            raise ValueError(f"engine={engine!r}: must be one of {', '.join(ENGINES)}")
        if engine != "fused" and self._fused is not None:
            raise ValueError("engine: the fused engine is already in use (parameters live in its flat buffer)")
        self.engine = engine

    def _fused_engine(self):
        if self._fused is None:
            from subgoal.algos.iql_fused import FusedIQLUpdate
            self._fused = FusedIQLUpdate(self)
        return self._fused

    def update_tensors(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.engine == "fused":
            return self._fused_engine().step(batch)
        return super().update_tensors(batch)

    def optimizers(self) -> dict:
        if self.engine == "fused":
            return {"adam": self._fused_engine().adam}
        return super().optimizers()

    def trainable(self) -> dict[str, nn.Module]:
        return {"actor": self.actor, "qf": self.qf, "vf": self.vf}

    def targets(self) -> dict[str, nn.Module]:
        return {"qf_target": self.qf_target}

    def value_module(self) -> nn.Module:
        return self.vf

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        c = self.config
        x = self.x(batch["obs"], batch["goal"])
        action = self.batch_action(batch)
        v, next_v = self.vf.with_and_without_grad(x, self.x(batch["next_obs"], batch["goal"]))
        with torch.no_grad():
            target_q = self.qf_target(x, action).min(0).values
            td_target = batch["reward"] + c.discount * (1.0 - batch["done"]) * next_v
        v_loss, v_info = value_loss(target_q, v, c.expectile)
        q_loss, q_info = critic_loss(self.qf(x, action), td_target)
        pi_loss, pi_info = awr_policy_loss(self.actor.log_prob(x, action), v_info.pop("_adv"),
                                           c.beta, c.max_weight)
        return v_loss + q_loss + pi_loss, {**v_info, **q_info, **pi_info}

    def after_step(self) -> None:
        soft_update(self.qf_target, self.qf, self.config.target_tau)
