"""Networks shared by the online actor-critic algorithms (SAC, TD3, DDPGfD) of residual RL.

Every network starts with :class:`ResidualFeatures`: the controller observation ``concat(ee_pos,
goal_pos, force, torque)`` (what the deployed node feeds the residual ONNX graph, raw, in metres,
newtons and newton-metres) becomes ``[(ee − goal) / 2 cm, tanh(force / 10 N), tanh(5 f_xy / (|f_z| + 1 N)),
tanh(torque / 0.5 Nm), tanh(τ_xy / (|f_z| + 1 N) / 5 mm)]``. The third group is the tilt of the net
force; the last is the lever arm of the contact, i.e. *where* under the peg the contact is: a peg
stuck on the rim of a tilted hole is held by friction with the net force nearly vertical whichever
side the hole is on, but the lever arm's sign says which side of the peg rests on the rim (the hole
is on the other side). The features live *inside* the exported graph, so the node needs no
normalization constants, and they are translation invariant: the residual depends on where the peg
is relative to the commanded goal, not where on the table the hole happens to be.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

POS_SCALE = 0.02  # m
FORCE_SCALE = 10.0  # N
TORQUE_SCALE = 0.5  # Nm
LEVER_SCALE = 0.005  # m


class ResidualFeatures(nn.Module):
    feature_dim = 13

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        rel = (obs[:, 0:3] - obs[:, 3:6]) / POS_SCALE
        force, torque = obs[:, 6:9], obs[:, 9:12]
        fz = force[:, 2:3].abs() + 1.0
        normal_tilt = torch.tanh(5.0 * force[:, 0:2] / fz)
        lever = torch.tanh(torque[:, 0:2] / fz / LEVER_SCALE)
        return torch.cat([rel, torch.tanh(force / FORCE_SCALE), normal_tilt, torch.tanh(torque / TORQUE_SCALE),
                          lever], dim=1)


def mlp(inp: int, out: int, hidden: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(inp, h), nn.ReLU()]
        inp = h
    layers.append(nn.Linear(inp, out))
    return nn.Sequential(*layers)


class QNetwork(nn.Module):
    """Q(s, a): features(s) ⊕ a → scalar."""

    def __init__(self, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.features = ResidualFeatures()
        self.net = mlp(ResidualFeatures.feature_dim + act_dim, 1, hidden)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([self.features(obs), action], 1)).squeeze(-1)


class DeterministicActor(nn.Module):
    """π(s) = tanh(MLP(features(s))) ∈ [-1, 1]^A (TD3, DDPGfD; also the exported graph of SAC's mean)."""

    def __init__(self, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.features = ResidualFeatures()
        self.net = mlp(ResidualFeatures.feature_dim, act_dim, hidden)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(self.features(obs)))


class TanhGaussianActor(nn.Module):
    """SAC actor: a = tanh(μ + σ ε); log-prob with the tanh change of variables (CleanRL sac_continuous)."""

    LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0

    def __init__(self, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.features = ResidualFeatures()
        self.trunk = mlp(ResidualFeatures.feature_dim, 2 * act_dim, hidden)
        self.act_dim = act_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic action tanh(μ) — what is exported and evaluated."""
        return torch.tanh(self.trunk(self.features(obs))[:, : self.act_dim])

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.trunk(self.features(obs))
        mean, log_std = out[:, : self.act_dim], torch.tanh(out[:, self.act_dim:])
        log_std = self.LOG_STD_MIN + 0.5 * (self.LOG_STD_MAX - self.LOG_STD_MIN) * (log_std + 1)
        normal = torch.distributions.Normal(mean, log_std.exp())
        x = normal.rsample()
        a = torch.tanh(x)
        log_prob = (normal.log_prob(x) - torch.log(1 - a.pow(2) + 1e-6)).sum(1)
        return a, log_prob


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.lerp_(s, tau)
