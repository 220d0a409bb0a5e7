"""Goal-conditioned behaviour cloning: the baseline every offline RL result is compared with.

L(φ) = −E[ log π_φ(a | s, g) ] over relabeled (s, g, a): with the state-independent Gaussian this is
a variance-weighted MSE to the dataset action, i.e. it clones suboptimal demos as faithfully as good
ones — which is exactly what IQL/AWAC improve on.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from subgoal.algos.common import GoalAgent
from subgoal.train.common import require


@dataclass
class BCConfig:
    """BC hyper-parameters."""

    hidden: tuple[int, ...] = (256, 256)
    """hidden widths of the actor MLP"""
    lr: float = 3e-4
    """Adam learning rate"""

    def __post_init__(self) -> None:
        require(len(self.hidden) > 0 and all(h > 0 for h in self.hidden), "hidden", self.hidden, "widths must be > 0")
        require(self.lr > 0, "lr", self.lr, "must be > 0")


def bc_loss(log_prob: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    loss = -log_prob.mean()
    return loss, {"losses/actor": loss.detach()}


class BC(GoalAgent):
    """Goal-conditioned BC over obs ⊕ goal."""

    name = "bc"
    supports_goal_frame = True

    def __init__(self, config: BCConfig, obs_dim: int, goal_dim: int, act_dim: int,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(obs_dim, goal_dim, act_dim, config.hidden, config.lr, device)
        self.config = config

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x = self.x(batch["obs"], batch["goal"])
        action = self.batch_action(batch)
        loss, info = bc_loss(self.actor.log_prob(x, action))
        with torch.no_grad():
            info["charts/action_mse"] = (self.actor.mean(x) - action).pow(2).mean()
        return loss, info
