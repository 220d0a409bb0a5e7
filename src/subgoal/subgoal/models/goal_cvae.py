"""Conditional VAEs over vectors: the IRIS goal cVAE p(s_{t+T} | s_t) and action cVAE p(a | s) (seed 000).

``VectorCVAE`` is the one implementation: encoder q(z | x, c) -> (mu, logvar), decoder D(z, c) -> x,
loss ||x - D(z, c)||^2 + beta * KL(q || N(0, I)) (Algorithm 1 lines 7 and 9; beta = beta_g or beta_a).
At test time z ~ N(0, I) and the decoder is the conditional generator. Inputs are normalised inside
the module (fixed dataset mean/std buffers), so exported graphs take raw states and return raw
states/actions. PTP's per-horizon subgoal generators (``subgoal_cvae``) reuse it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from subgoal.models.conv import gaussian_kl, reparameterize
from subgoal.models.mlp import MLP


@dataclass
class VectorCVAEConfig:
    x_dim: int
    """size of what is generated (future state, subgoal or action)"""
    c_dim: int
    """size of the condition (current state)"""
    latent_dim: int = 8
    """size of z (seed IRIS: 8)"""
    hidden: int = 256
    """hidden units of both MLPs (2 layers each)"""
    beta: float = 0.5
    """KL weight (beta_g for goals, beta_a for actions)"""
    residual: bool = True
    """decode x = c + delta (x and c live in the same space, e.g. future state given current state)"""

    def __post_init__(self) -> None:
        for name in ("x_dim", "c_dim", "latent_dim", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        if self.residual and self.x_dim != self.c_dim:
            raise ValueError(f"residual=True needs x_dim == c_dim, got x_dim={self.x_dim} c_dim={self.c_dim}")


class VectorCVAE(nn.Module):
    def __init__(self, config: VectorCVAEConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.encoder = MLP(c.x_dim + c.c_dim, 2 * c.latent_dim, (c.hidden, c.hidden))
        self.decoder = MLP(c.c_dim + c.latent_dim, c.x_dim, (c.hidden, c.hidden))
        self.register_buffer("x_mean", torch.zeros(c.x_dim))
        self.register_buffer("x_std", torch.ones(c.x_dim))
        self.register_buffer("c_mean", torch.zeros(c.c_dim))
        self.register_buffer("c_std", torch.ones(c.c_dim))

    def set_normalization(self, x: torch.Tensor, c: torch.Tensor) -> None:
        """Dataset statistics (std floored so constant dims do not blow up)."""
        self.x_mean.copy_(x.mean(0))
        self.x_std.copy_(x.std(0).clamp_min(1e-3))
        self.c_mean.copy_(c.mean(0))
        self.c_std.copy_(c.std(0).clamp_min(1e-3))
        if self.config.residual:  # x and c share a space: one scale so "c + delta" is consistent
            self.x_mean.copy_(self.c_mean)
            self.x_std.copy_(self.c_std)

    def encode(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xn, cn = (x - self.x_mean) / self.x_std, (c - self.c_mean) / self.c_std
        mu, logvar = self.encoder(torch.cat([xn, cn], -1)).chunk(2, -1)
        return mu, logvar.clamp(-10.0, 6.0)

    def decode_normalized(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Decoder output in normalised x units."""
        cn = (c - self.c_mean) / self.c_std
        out = self.decoder(torch.cat([cn, z], -1))
        return out + cn if self.config.residual else out

    def decode(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """D(z, c) in raw x units (the generator used at test time)."""
        return self.decode_normalized(z, c) * self.x_std + self.x_mean

    def loss_terms(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction error per row in normalised units, KL per row, reconstruction in raw units)."""
        mu, logvar = self.encode(x, c)
        pred_n = self.decode_normalized(reparameterize(mu, logvar), c)
        xn = (x - self.x_mean) / self.x_std
        rec = (pred_n - xn).pow(2).sum(-1)
        return rec, gaussian_kl(mu, logvar), pred_n * self.x_std + self.x_mean

    def compute_loss(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        rec, kl, _ = self.loss_terms(x, c)
        loss = (rec + self.config.beta * kl).mean()
        return loss, {"losses/total": loss.item(), "losses/recon": rec.mean().item(), "losses/kl": kl.mean().item()}

    @torch.no_grad()
    def sample(self, c: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples per condition row: returns B, n, x_dim."""
        cc = c.repeat_interleave(n, 0)
        z = torch.randn(cc.shape[0], self.config.latent_dim, generator=generator)
        return self.decode(z, cc).view(c.shape[0], n, -1)


class CVAEDecoderExport(nn.Module):
    """ONNX: (state B,c_dim, z B,latent_dim) -> generated x B,x_dim in raw units."""

    def __init__(self, cvae: VectorCVAE) -> None:
        super().__init__()
        self.cvae = cvae

    def forward(self, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.cvae.decode(z, state)


# --------------------------------------------------------------------------- IRIS value (BCQ-style)
@dataclass
class IrisValueConfig:
    state_dim: int
    """size of the state (or latent) the value is defined on"""
    action_dim: int
    """size of the action"""
    hidden: int = 256
    """hidden units of the Q network and the action cVAE"""
    latent_dim: int = 8
    """z of the action cVAE"""
    beta_a: float = 0.5
    """KL weight of the action cVAE"""
    gamma: float = 0.99
    """discount"""
    num_action_proposals: int = 10
    """M: action proposals maximised over in the target (and in V(s) = max_i Q(s, a_i))"""

    def __post_init__(self) -> None:
        for name in ("state_dim", "action_dim", "hidden", "latent_dim", "num_action_proposals"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {self.gamma}")


class IrisValue(nn.Module):
    """Q_psi(s, a) plus the action cVAE {E_omega, D_omega} whose proposals constrain the max (BCQ)."""

    def __init__(self, config: IrisValueConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.q = MLP(c.state_dim + c.action_dim, 1, (c.hidden, c.hidden))
        self.action_cvae = VectorCVAE(VectorCVAEConfig(c.action_dim, c.state_dim, c.latent_dim, c.hidden, c.beta_a,
                                                       residual=False))
        self.register_buffer("s_mean", torch.zeros(c.state_dim))
        self.register_buffer("s_std", torch.ones(c.state_dim))

    def set_normalization(self, states: torch.Tensor, actions: torch.Tensor) -> None:
        self.s_mean.copy_(states.mean(0))
        self.s_std.copy_(states.std(0).clamp_min(1e-3))
        self.action_cvae.set_normalization(actions, states)

    def q_value(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        an = (a - self.action_cvae.x_mean) / self.action_cvae.x_std
        return self.q(torch.cat([(s - self.s_mean) / self.s_std, an], -1)).squeeze(-1)

    def state_value(self, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """V(s) = max_i Q(s, D_omega(z_i, s)); z: B, M, latent (given, so exported graphs are deterministic)."""
        b, m, _ = z.shape
        ss = s[:, None].expand(b, m, s.shape[-1]).reshape(b * m, -1)
        a = self.action_cvae.decode(z.reshape(b * m, -1), ss)
        return self.q_value(ss, a).view(b, m).max(1).values


def bcq_q_loss(value: IrisValue, target: IrisValue, s: torch.Tensor, a: torch.Tensor, r: torch.Tensor,
               s2: torch.Tensor, done: torch.Tensor, generator: torch.Generator | None = None,
               discount: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """(Q(s,a) - [r + gamma (1 - done) max_{a_i ~ D_omega(z, s')} Q'(s', a_i)])^2 (seed 000, Alg. 1 l. 10-12).

    ``discount`` (per row) replaces gamma for n-step targets (r = discounted n-step return, s' = s_{t+n})."""
    c = value.config
    with torch.no_grad():
        z = torch.randn(s2.shape[0], c.num_action_proposals, c.latent_dim, generator=generator)
        g = c.gamma if discount is None else discount
        y = r + g * (1.0 - done) * target.state_value(s2, z)
    q = value.q_value(s, a)
    loss = (q - y).pow(2).mean()
    return loss, {"losses/q": loss.item(), "charts/q_mean": q.mean().item(), "charts/target_mean": y.mean().item()}


class StateValueExport(nn.Module):
    """ONNX: (state B,D, z B,M,Z) -> value B (max over the M action proposals)."""

    def __init__(self, value: IrisValue) -> None:
        super().__init__()
        self.value = value

    def forward(self, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.value.state_value(state, z)
