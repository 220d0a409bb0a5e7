"""PTP multi-horizon conditional subgoal generators g_l(s, z) (seed 001 ch. 10.5.1, eq. 50).

One conditional VAE per planning level, level 0 the coarsest: horizons (60, 30, 15) steps with
multiplier M = 2 between levels (Delta t_i = M * Delta t_{i+1}). Each works on any vector space (raw
robot state or an encoder's latent). Training objective per level (eq. 50, summed over a chain):

    sum_{k=1..n} E_q(z|s^_{k-1}, s_k) ||s_k - g(s^_{k-1}, z)||^2 + beta * KL[q(z|s^_{k-1}, s_k) || p(z)]

with s^_0 = s_t (data) and s^_k = the subgoal RECONSTRUCTED at the previous step (the seed's
"recursive multi-step term": the generator learns to continue from its own, slightly wrong, outputs
so compounding errors stay small when plans chain K subgoals). Delta t is drawn per sequence from
[ceil((1 - jitter) * h), h] ("we sample Delta t from a range").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from subgoal.models.goal_cvae import CVAEDecoderExport, VectorCVAE, VectorCVAEConfig


@dataclass
class SubgoalCVAEConfig:
    state_dim: int
    """size of the planning space (state or latent)"""
    horizons: tuple[int, ...] = (60, 30, 15)
    """steps between consecutive subgoals per level, coarsest first (seed: 60/30/15)"""
    latent_dim: int = 8
    """size of z (seed: 8)"""
    hidden: int = 256
    """hidden units of the encoder/decoder MLPs"""
    beta: float = 1.0
    """KL weight (eq. 50 has 1)"""
    chain: int = 2
    """n: subgoals chained per training sequence (1 = plain CVAE, >1 adds the recursive term)"""
    jitter: float = 0.25
    """Delta t ~ U[ceil((1 - jitter) h), h]"""

    def __post_init__(self) -> None:
        self.horizons = tuple(int(h) for h in self.horizons)
        if self.state_dim < 1:
            raise ValueError(f"state_dim must be >= 1, got {self.state_dim}")
        if not self.horizons or any(h < 1 for h in self.horizons):
            raise ValueError(f"horizons must be positive step counts, got {self.horizons}")
        if any(a <= b for a, b in zip(self.horizons, self.horizons[1:])):
            raise ValueError(f"horizons must be strictly decreasing (coarsest first), got {self.horizons}")
        if self.chain < 1:
            raise ValueError(f"chain must be >= 1, got {self.chain}")
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")

    def min_dt(self, level: int) -> int:
        h = self.horizons[level]
        return max(1, math.ceil((1.0 - self.jitter) * h))


class SubgoalCVAE(nn.Module):
    """L per-level generators sharing one config."""

    def __init__(self, config: SubgoalCVAEConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.levels = nn.ModuleList(
            VectorCVAE(VectorCVAEConfig(c.state_dim, c.state_dim, c.latent_dim, c.hidden, c.beta, residual=True))
            for _ in c.horizons)

    def set_normalization(self, states: torch.Tensor) -> None:
        for g in self.levels:
            g.set_normalization(states, states)

    def generate(self, level: int, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """g_level(s, z): a subgoal about ``horizons[level]`` steps after ``state``."""
        return self.levels[level].decode(z, state)

    def elbo_loss(self, level: int, seq: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 50 with the recursive term. seq: B, chain+1, D (s_t, s_{t+dt}, s_{t+2dt}, ...)."""
        g = self.levels[level]
        context = seq[:, 0]
        total, recs, kls = 0.0, [], []
        for k in range(1, seq.shape[1]):
            rec, kl, pred = g.loss_terms(seq[:, k], context)
            total = total + (rec + self.config.beta * kl).mean()
            recs.append(rec.mean().item())
            kls.append(kl.mean().item())
            context = pred  # the reconstructed subgoal is the next step's context
        loss = total / (seq.shape[1] - 1)
        info = {f"losses/l{level}_total": loss.item(), f"losses/l{level}_recon_step1": recs[0],
                f"losses/l{level}_kl": float(np.mean(kls))}
        if len(recs) > 1:
            info[f"losses/l{level}_recon_recursive"] = float(np.mean(recs[1:]))
        return loss, info


def sample_chains(demos: list[np.ndarray], config: SubgoalCVAEConfig, level: int, batch: int,
                  rng: np.random.Generator) -> np.ndarray:
    """batch sequences (s_t, s_{t+dt}, ..., s_{t+n dt}) from demos long enough for them; B, n+1, D.

    The chain length shrinks to what the longest demo allows (at least one step); a dataset whose demos
    are all shorter than the level's minimum Delta t is an error that names the level and lengths.
    """
    lo, hi = config.min_dt(level), config.horizons[level]
    longest = max(len(d) for d in demos)
    n = config.chain
    while n > 1 and longest <= n * lo:
        n -= 1
    if longest <= n * lo:
        raise ValueError(f"level {level} (horizon {hi}) needs demos longer than {n * lo} steps; "
                         f"the longest has {longest}")
    lengths = np.array([len(d) for d in demos])
    usable = np.flatnonzero(lengths > n * lo)
    flat = np.concatenate(demos) if len(demos) > 1 else demos[0]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pick = usable[rng.integers(len(usable), size=batch)]
    dt_hi = np.minimum(hi, (lengths[pick] - 1) // n)
    dt = lo + (rng.random(batch) * (dt_hi - lo + 1)).astype(np.int64)
    t = (rng.random(batch) * (lengths[pick] - n * dt)).astype(np.int64)
    idx = offsets[pick, None] + t[:, None] + dt[:, None] * np.arange(n + 1)[None, :]
    return flat[idx].astype(np.float32, copy=False)


class GeneratorExport(CVAEDecoderExport):
    """ONNX per level: (state B,D, z B,Z) -> subgoal B,D."""
