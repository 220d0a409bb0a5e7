"""Actionable Models (Chebotar et al. 2021; seed 004): offline goal-conditioned Q-learning without task
rewards, with conservative negatives for unseen actions and goal chaining across trajectories.

Q(s, a, g) ∈ [0, 1] is the probability of reaching g (a sigmoid over the critic's logit), trained with
binary cross-entropy to

* the TD target (seed 004 eq. 1):  y = 1 if the next state reaches g, else γ · min_i Q̂_i(s', π(s'), g);
* conservative negatives: an action ã drawn with probability ∝ exp(Q(s, ã, g) / T_neg) from K uniform
  candidate actions gets target 0 — "no recovery unless the data shows it": actions the data has no
  evidence for are assumed to lead elsewhere (E_ã[Q(s, ã, g)] = 0). Sampling ∝ exp(Q) pushes down
  exactly the unseen actions the critic currently over-rates;
* goal chaining: goals are also drawn from *any* dataset state (the relabeler's ``uniform`` source),
  not only from the same trajectory; for those the target is the bootstrapped Q of the next state
  (never a constant 0), so reachability found in another trajectory propagates through shared states.
  ``--uniform 0`` turns chaining off (HER goals only).

Policy: the paper acts by arg-max over Q with CEM; a bundle needs a network, so the actor is extracted
by advantage-weighted regression on dataset actions, A = Q(s, a, g) − Q(s, π(s), g) (probabilities, so
β is larger than IQL's), which stays inside the data's support like the conservative critic.
Twin critics and Polyak target networks as in IQL/AWAC.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from subgoal.algos.common import GoalAgent, awr_policy_loss
from subgoal.models.mlp import TwinQ
from subgoal.train.common import require, soft_update


@dataclass
class ActionableConfig:
    """Actionable Models hyper-parameters."""

    hidden: tuple[int, ...] = (256, 256)
    """hidden widths of actor and critic MLPs"""
    lr: float = 3e-4
    """Adam learning rate (all networks)"""
    discount: float = 0.99
    """discount γ of the reach probability"""
    target_tau: float = 0.005
    """Polyak rate of the target critics"""
    num_candidates: int = 10
    """K uniform candidate actions per sample from which one conservative negative is drawn"""
    negative_temperature: float = 1.0
    """T_neg: negatives are drawn ∝ exp(logit Q / T_neg) (→ ∞: uniform)"""
    negative_weight: float = 1.0
    """weight of the negatives' cross-entropy relative to the TD term"""
    beta: float = 20.0
    """inverse temperature of the AWR weights (advantages are probability differences)"""
    max_weight: float = 100.0
    """clip of exp(β·A)"""

    def __post_init__(self) -> None:
        require(len(self.hidden) > 0 and all(h > 0 for h in self.hidden), "hidden", self.hidden, "widths must be > 0")
        require(self.lr > 0, "lr", self.lr, "must be > 0")
        require(0 <= self.discount < 1, "discount", self.discount, "must be in [0, 1)")
        require(0 < self.target_tau <= 1, "target_tau", self.target_tau, "must be in (0, 1]")
        require(self.num_candidates >= 1, "num_candidates", self.num_candidates, "must be >= 1")
        require(self.negative_temperature > 0, "negative_temperature", self.negative_temperature, "must be > 0")
        require(self.negative_weight >= 0, "negative_weight", self.negative_weight, "must be >= 0")
        require(self.beta >= 0, "beta", self.beta, "must be >= 0")
        require(self.max_weight > 0, "max_weight", self.max_weight, "must be > 0")


# ------------------------------------------------------------------------------------------- losses
def td_loss(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """BCE of every ensemble member's logit (E, B) against the reach-probability target (B,), summed over E."""
    loss = F.binary_cross_entropy_with_logits(logits, target.unsqueeze(0).expand_as(logits), reduction="none")
    loss = loss.mean(1).sum()
    return loss, {"losses/critic_td": loss.detach(), "charts/q_mean": torch.sigmoid(logits.detach()).mean(),
                  "charts/td_target_mean": target.mean()}


def negative_loss(logits: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Conservative term: target 0 for the sampled unseen actions' logits (E, B)."""
    loss = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none").mean(1).sum()
    return loss, {"losses/critic_negatives": loss.detach(), "charts/q_negative_mean": torch.sigmoid(logits.detach()).mean()}


def sample_negatives(qf: nn.Module, x: torch.Tensor, k: int, act_dim: int, temperature: float) -> torch.Tensor:
    """One action per row from K uniform candidates in [-1, 1]^A, drawn ∝ exp(min_i logit_i / T) (no grad)."""
    b = x.shape[0]
    with torch.no_grad():
        cand = torch.rand(b, k, act_dim, device=x.device) * 2.0 - 1.0
        xr = x.unsqueeze(1).expand(b, k, x.shape[1]).reshape(b * k, -1)
        logit = qf(xr, cand.reshape(b * k, act_dim)).min(0).values.view(b, k)
        pick = torch.multinomial(torch.softmax(logit / temperature, 1), 1).squeeze(1)
        return cand[torch.arange(b, device=x.device), pick]


# ---------------------------------------------------------------------------------------- trainer
class ActionableModels(GoalAgent):
    """Goal-conditioned conservative Q(s, a, g) ∈ [0, 1] + AWR actor (see module docstring)."""

    name = "actionable"

    def __init__(self, config: ActionableConfig, obs_dim: int, goal_dim: int, act_dim: int,
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
        return _ReachProbability(self.actor, self.qf)

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        c = self.config
        x = self.x(batch["obs"], batch["goal"])
        reached = batch["done"]
        with torch.no_grad():
            x_next = self.x(batch["next_obs"], batch["goal"])
            q_next = torch.sigmoid(self.qf_target(x_next, self.actor.mean(x_next)).min(0).values)
            target = reached + (1.0 - reached) * c.discount * q_next  # 1 at the goal, else bootstrap (chaining)
            neg = sample_negatives(self.qf, x, c.num_candidates, self.act_dim, c.negative_temperature)
        q_loss, info = td_loss(self.qf(x, batch["action"]), target)
        n_loss, n_info = negative_loss(self.qf(x, neg))
        with torch.no_grad():
            q_data = torch.sigmoid(self.qf(x, batch["action"]).min(0).values)
            q_pi = torch.sigmoid(self.qf(x, self.actor.mean(x)).min(0).values)
        pi_loss, pi_info = awr_policy_loss(self.actor.log_prob(x, batch["action"]), q_data - q_pi, c.beta, c.max_weight)
        return q_loss + c.negative_weight * n_loss + pi_loss, {**info, **n_info, **pi_info}

    def after_step(self) -> None:
        soft_update(self.qf_target, self.qf, self.config.target_tau)


class _ReachProbability(nn.Module):
    """V(s, g) = min_i Q_i(s, π(s), g) as a probability: exported as value.onnx (goal selection can use it)."""

    def __init__(self, actor: nn.Module, qf: nn.Module) -> None:
        super().__init__()
        self.actor, self.qf = actor, qf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.qf(x, self.actor.mean(x)).min(0).values)
