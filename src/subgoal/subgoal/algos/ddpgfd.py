"""DDPG from demonstrations (seed 001 ch. 4, Nair et al. 2018), on the TD3 learner as in ch. 6.

Three additions to :class:`subgoal.algos.td3.TD3`:
1. a demo buffer: every minibatch gets ``demo_batch`` extra rows from the demonstrations, used by both
   the critic and the actor update (the caller concatenates them last, see ``update(batch, n_demo)``);
2. a behaviour-cloning loss on the demo rows, eq. 13–14: ``λ₁ (−Q(s, π(s))) + λ₂ Σ ‖π(s_i) − a_i‖²``;
3. the Q-filter, eq. 15: the BC term only where the critic rates the demo action above the actor's,
   ``Q(s_i, a_i) > Q(s_i, π(s_i))``, so suboptimal demonstrations stop pulling once RL is better.
n-step returns (optional) come from the replay buffer (``ReplayBuffer(n_step=…)``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from subgoal.algos.td3 import TD3, TD3Config


@dataclass
class DDPGfDConfig(TD3Config):
    lambda_q: float = 1.0
    """λ₁: weight of the RL actor loss"""
    lambda_bc: float = 1.0
    """λ₂: weight of the BC loss on demo rows"""
    q_filter: bool = True
    """apply BC only where Q(s, a_demo) > Q(s, π(s))"""
    demo_batch: int = 32
    """demo rows added to every minibatch"""


class DDPGfD(TD3):
    name = "ddpgfd"

    def __init__(self, config: DDPGfDConfig, obs_dim: int, act_dim: int, seed: int = 0) -> None:
        super().__init__(config, obs_dim, act_dim, seed)

    def actor_loss(self, batch: dict[str, torch.Tensor], n_demo: int = 0) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        pi = self.actor(batch["obs"])
        q_pi = self.q1(batch["obs"], pi)
        rl_loss = -q_pi.mean()
        if n_demo <= 0:
            return c.lambda_q * rl_loss, {"losses/actor": rl_loss.item()}
        d_obs, d_act, d_pi = batch["obs"][-n_demo:], batch["action"][-n_demo:], pi[-n_demo:]
        bc = (d_pi - d_act).pow(2).sum(1)
        if c.q_filter:
            with torch.no_grad():
                keep = (self.q1(d_obs, d_act) > q_pi[-n_demo:]).float()
        else:
            keep = torch.ones_like(bc)
        bc_loss = (bc * keep).sum() / n_demo
        loss = c.lambda_q * rl_loss + c.lambda_bc * bc_loss
        return loss, {"losses/actor": rl_loss.item(), "losses/bc": bc_loss.item(),
                      "charts/q_filter_frac": float(keep.mean())}
