"""Twin Delayed DDPG (Fujimoto et al. 2018), CleanRL ``td3_continuous_action`` style, for residual RL.

A deterministic actor explored with Gaussian action noise (seed 001 ch. 6 compares this exploration
with SAC's), twin critics with the min target, target-policy smoothing, and delayed actor/target
updates. :class:`subgoal.algos.ddpgfd.DDPGfD` extends this class with demonstrations.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from subgoal.algos.actor_critic import DeterministicActor, QNetwork, soft_update


@dataclass
class TD3Config:
    hidden: tuple[int, ...] = (128, 128)
    gamma: float = 0.95
    tau: float = 0.005
    lr: float = 3e-4
    exploration_noise: float = 0.2
    policy_noise: float = 0.2
    noise_clip: float = 0.5
    policy_frequency: int = 2


class TD3:
    name = "td3"

    def __init__(self, config: TD3Config, obs_dim: int, act_dim: int, seed: int = 0) -> None:
        c = self.config = config
        self.actor = DeterministicActor(act_dim, c.hidden)
        self.actor_target = copy.deepcopy(self.actor)
        self.q1, self.q2 = QNetwork(act_dim, c.hidden), QNetwork(act_dim, c.hidden)
        self.q1_target, self.q2_target = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        self.q_opt = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=c.lr)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=c.lr)
        self.rng = np.random.default_rng(seed)
        self.act_dim = act_dim
        self.steps = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        a = self.actor(torch.as_tensor(obs, dtype=torch.float32)[None])[0].numpy()
        if explore:
            a = a + self.rng.normal(0.0, self.config.exploration_noise, self.act_dim)
        return np.clip(a, -1.0, 1.0).astype(np.float32)

    def critic_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        obs, act, nxt = batch["obs"], batch["action"], batch["next_obs"]
        with torch.no_grad():
            noise = (torch.randn_like(act) * c.policy_noise).clamp(-c.noise_clip, c.noise_clip)
            next_a = (self.actor_target(nxt) + noise).clamp(-1.0, 1.0)
            q_next = torch.min(self.q1_target(nxt, next_a), self.q2_target(nxt, next_a))
            target = batch["reward"] + (1.0 - batch["done"]) * batch["discount"] * q_next
        q1 = self.q1(obs, act)
        return F.mse_loss(q1, target) + F.mse_loss(self.q2(obs, act), target), q1

    def actor_loss(self, batch: dict[str, torch.Tensor], n_demo: int = 0) -> tuple[torch.Tensor, dict[str, float]]:
        """−Q(s, π(s)) (DDPGfD adds its BC term here)."""
        loss = -self.q1(batch["obs"], self.actor(batch["obs"])).mean()
        return loss, {"losses/actor": loss.item()}

    def update(self, batch: dict[str, torch.Tensor], n_demo: int = 0) -> dict[str, float]:
        """One step; the last ``n_demo`` rows of ``batch`` are demonstrations (DDPGfD)."""
        c = self.config
        q_loss, q1 = self.critic_loss(batch)
        self.q_opt.zero_grad(set_to_none=True)
        q_loss.backward()
        self.q_opt.step()
        info = {"losses/q": q_loss.item(), "charts/q_mean": q1.detach().mean().item()}
        if self.steps % c.policy_frequency == 0:
            actor_loss, a_info = self.actor_loss(batch, n_demo)
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            self.actor_opt.step()
            info.update(a_info)
            soft_update(self.actor_target, self.actor, c.tau)
            soft_update(self.q1_target, self.q1, c.tau)
            soft_update(self.q2_target, self.q2, c.tau)
        self.steps += 1
        return info

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"actor": self.actor, "actor_target": self.actor_target, "q1": self.q1, "q2": self.q2,
                "q1_target": self.q1_target, "q2_target": self.q2_target}
