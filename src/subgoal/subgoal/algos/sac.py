"""Soft Actor-Critic (Haarnoja et al. 2018), CleanRL ``sac_continuous_action`` style, for residual RL.

Seed 001 ch. 6: SAC explores with its own adaptive stochasticity, which made it the most reliable
learner of the insertion residual. Twin Q networks with Polyak targets, a tanh-Gaussian actor, and the
temperature α tuned to a target entropy of −|A|. ``update(batch)`` does one critic step and (every
``policy_frequency`` steps) one actor + α step; batches come from :class:`subgoal.algos.replay.ReplayBuffer`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from subgoal.algos.actor_critic import QNetwork, TanhGaussianActor, soft_update


@dataclass
class SACConfig:
    hidden: tuple[int, ...] = (128, 128)
    gamma: float = 0.95
    tau: float = 0.005
    q_lr: float = 1e-3
    policy_lr: float = 3e-4
    alpha: float = 0.2
    autotune: bool = True
    policy_frequency: int = 2


class SAC:
    name = "sac"

    def __init__(self, config: SACConfig, obs_dim: int, act_dim: int) -> None:
        c = self.config = config
        self.actor = TanhGaussianActor(act_dim, c.hidden)
        self.q1, self.q2 = QNetwork(act_dim, c.hidden), QNetwork(act_dim, c.hidden)
        self.q1_target, self.q2_target = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        self.q_opt = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=c.q_lr)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=c.policy_lr)
        self.target_entropy = -float(act_dim)
        self.log_alpha = torch.tensor(np.log(c.alpha), dtype=torch.float32, requires_grad=c.autotune)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=c.q_lr) if c.autotune else None
        self.steps = 0

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.exp())

    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32)[None]
        a = self.actor.sample(o)[0] if explore else self.actor(o)
        return a[0].numpy()

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        obs, act, rew, nxt = batch["obs"], batch["action"], batch["reward"], batch["next_obs"]
        not_done = 1.0 - batch["done"]
        alpha = self.log_alpha.exp().detach()
        # critic: soft Bellman target with the min of the twin targets
        with torch.no_grad():
            next_a, next_logp = self.actor.sample(nxt)
            q_next = torch.min(self.q1_target(nxt, next_a), self.q2_target(nxt, next_a)) - alpha * next_logp
            target = rew + not_done * batch["discount"] * q_next
        q1, q2 = self.q1(obs, act), self.q2(obs, act)
        q_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.q_opt.zero_grad(set_to_none=True)
        q_loss.backward()
        self.q_opt.step()
        info = {"losses/q": q_loss.item(), "charts/q_mean": q1.detach().mean().item()}
        # actor and temperature, delayed (CleanRL: policy_frequency steps at once to keep the ratio)
        if self.steps % c.policy_frequency == 0:
            for _ in range(c.policy_frequency):
                a, logp = self.actor.sample(obs)
                q = torch.min(self.q1(obs, a), self.q2(obs, a))
                actor_loss = (alpha * logp - q).mean()
                self.actor_opt.zero_grad(set_to_none=True)
                actor_loss.backward()
                self.actor_opt.step()
                if self.alpha_opt is not None:
                    alpha_loss = -(self.log_alpha.exp() * (logp.detach() + self.target_entropy)).mean()
                    self.alpha_opt.zero_grad(set_to_none=True)
                    alpha_loss.backward()
                    self.alpha_opt.step()
                    alpha = self.log_alpha.exp().detach()
            info.update({"losses/actor": actor_loss.item(), "charts/alpha": float(alpha)})
        soft_update(self.q1_target, self.q1, c.tau)
        soft_update(self.q2_target, self.q2, c.tau)
        self.steps += 1
        return info

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"actor": self.actor, "q1": self.q1, "q2": self.q2,
                "q1_target": self.q1_target, "q2_target": self.q2_target}
