"""Goal-conditioned Advantage-Weighted Actor-Critic (Nair et al. 2020; thesis seed 001 ch. 7).

* critic: L_Q(θ) = E[ (r + γ (1 − d) min_i Q̂_i(s', g, a'), a' ~ π(·|s', g)) − Q_θi(s, g, a))² ]
  — off-policy TD with the *current* policy's actions (unlike IQL, AWAC queries Q at π's actions);
* actor:  θ ← argmax E[ log π(a|s,g) · exp(A(s,g,a) / λ) ]  with  A = min_i Q_i(s,g,a) − min_i Q_i(s,g,a~π)
  (eq. 42, weights clipped at ``max_weight``);
* target critics with Polyak rate α.

Like IQL, both losses are summed into one backward (the advantage and the TD target are detached).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from subgoal.algos.common import GoalAgent, awr_policy_loss
from subgoal.algos.iql import critic_loss
from subgoal.models.mlp import TwinQ
from subgoal.train.common import require, soft_update


@dataclass
class AWACConfig:
    """AWAC hyper-parameters (thesis ch. 7 / CORL defaults)."""

    hidden: tuple[int, ...] = (256, 256)
    """hidden widths of actor and critic MLPs"""
    lr: float = 3e-4
    """Adam learning rate (all networks)"""
    discount: float = 0.99
    """discount γ"""
    target_tau: float = 0.005
    """Polyak rate α of the target critics"""
    awac_lambda: float = 1.0
    """temperature λ: weights are exp(A / λ)"""
    max_weight: float = 100.0
    """clip of the advantage weights"""

    def __post_init__(self) -> None:
        require(len(self.hidden) > 0 and all(h > 0 for h in self.hidden), "hidden", self.hidden, "widths must be > 0")
        require(self.lr > 0, "lr", self.lr, "must be > 0")
        require(0 <= self.discount < 1, "discount", self.discount, "must be in [0, 1)")
        require(0 < self.target_tau <= 1, "target_tau", self.target_tau, "must be in (0, 1]")
        require(self.awac_lambda > 0, "awac_lambda", self.awac_lambda, "must be > 0")
        require(self.max_weight > 0, "max_weight", self.max_weight, "must be > 0")


class _PolicyValue(nn.Module):
    """V(x) = min_i Q_i(x, mean π(x)): AWAC has no V network; this is what value.onnx exports."""

    def __init__(self, qf: TwinQ, actor: nn.Module) -> None:
        super().__init__()
        self.qf, self.actor = qf, actor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.qf(x, self.actor.mean(x)).min(0).values


class AWAC(GoalAgent):
    """Goal-conditioned AWAC over obs ⊕ goal (see module docstring)."""

    name = "awac"

    def __init__(self, config: AWACConfig, obs_dim: int, goal_dim: int, act_dim: int,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(obs_dim, goal_dim, act_dim, config.hidden, config.lr, device)
        self.config = config
        self.qf = TwinQ(obs_dim + goal_dim, act_dim, config.hidden).to(self.device)
        self.qf_target = copy.deepcopy(self.qf).requires_grad_(False)

    def trainable(self) -> dict[str, nn.Module]:
        return {"actor": self.actor, "qf": self.qf}

    def targets(self) -> dict[str, nn.Module]:
        return {"qf_target": self.qf_target}

    def value_module(self) -> nn.Module:
        return _PolicyValue(self.qf, self.actor)

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        c = self.config
        x = self.x(batch["obs"], batch["goal"])
        with torch.no_grad():
            x_next = self.x(batch["next_obs"], batch["goal"])
            next_a, _ = self.actor.sample(x_next)
            next_q = self.qf_target(x_next, next_a).min(0).values
            td_target = batch["reward"] + c.discount * (1.0 - batch["done"]) * next_q
            pi_a, _ = self.actor.sample(x)
            # one ensemble call for Q(s, a_data) and Q(s, a_pi): stack along the batch axis
            q_both = self.qf(torch.cat([x, x]), torch.cat([batch["action"], pi_a])).min(0).values
            adv = q_both[: len(x)] - q_both[len(x):]
        q_loss, q_info = critic_loss(self.qf(x, batch["action"]), td_target)
        pi_loss, pi_info = awr_policy_loss(self.actor.log_prob(x, batch["action"]), adv,
                                           1.0 / c.awac_lambda, c.max_weight)
        return q_loss + pi_loss, {**q_info, **pi_info, "charts/adv_mean": adv.mean()}

    def after_step(self) -> None:
        soft_update(self.qf_target, self.qf, self.config.target_tau)
