"""Context-conditioned VAE of CC-RIG (seed 001 ch. 3, eqs. 6-7).

A CVAE q(z|s_t, s_0), p(s_t|z, z_c) whose context z_c = e_0(s_0) comes from a SEPARATE conv encoder
of the episode's first image (the seed: "e and e_0 do not share weights"), plus a deterministic
decoder d_0(z_c) -> s_0. Loss (eq. 7) = CVAE loss + reconstruction of s_0 from z_c. Because only z
is bottlenecked by the KL, scene-constant content flows through z_c and z keeps what changes within
an episode. The state encoding is z_bar = (mu(s_t, s_0), z_c).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from subgoal.models.conv import ConvHead, ConvTrunk, check_image_side, gaussian_kl, reparameterize, to_float_nchw, to_nhwc


@dataclass
class CCVAEConfig:
    image_size: int = 48
    """square RGB image side (pixels), multiple of 4"""
    latent_dim: int = 8
    """size of z (what changes within an episode)"""
    context_dim: int = 8
    """size of z_c = e_0(s_0) (the scene)"""
    beta: float = 1.0
    """KL weight on z only"""
    channels: int = 64
    """feature channels of the conv trunks"""

    def __post_init__(self) -> None:
        check_image_side(self.image_size)
        for name in ("latent_dim", "context_dim", "channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")

    @property
    def encoding_dim(self) -> int:
        """Size of the deploy-time encoding z_bar = (mu, z_c)."""
        return self.latent_dim + self.context_dim


def _bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1).mean()


class CCVAE(nn.Module):
    def __init__(self, config: CCVAEConfig) -> None:
        super().__init__()
        self.config = config
        g = check_image_side(config.image_size)
        self.grid = g
        c = config.channels
        # q(z | s_t, s_0): both images stacked on the channel axis
        self.enc = ConvTrunk(6, 32, c)
        self.to_stats = nn.Linear(c * g * g, 2 * config.latent_dim)
        # e_0(s_0) -> z_c, separate weights
        self.enc0 = ConvTrunk(3, 32, c)
        self.to_context = nn.Linear(c * g * g, config.context_dim)
        # p(s_t | z, z_c) and d_0(z_c) -> s_0
        self.from_latent = nn.Linear(config.latent_dim + config.context_dim, c * g * g)
        self.head = ConvHead(c, 32, 3)
        self.from_context = nn.Linear(config.context_dim, c * g * g)
        self.head0 = ConvHead(c, 32, 3)

    def context(self, x0: torch.Tensor) -> torch.Tensor:
        return self.to_context(self.enc0(x0).flatten(1))

    def encode(self, x: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stats = self.to_stats(self.enc(torch.cat([x, x0], dim=1)).flatten(1))
        mu, logvar = stats.chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)

    def _grid(self, lin: nn.Linear, v: torch.Tensor) -> torch.Tensor:
        return F.relu(lin(v)).view(-1, self.config.channels, self.grid, self.grid)

    def decode_logits(self, z: torch.Tensor, zc: torch.Tensor) -> torch.Tensor:
        return self.head(self._grid(self.from_latent, torch.cat([z, zc], dim=-1)))

    def decode_context_logits(self, zc: torch.Tensor) -> torch.Tensor:
        return self.head0(self._grid(self.from_context, zc))

    def compute_loss(self, x: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 7: -log p(s_t|z,z_c) + beta KL(q(z|s_t,s_0)||p(z)) - log p(s_0|z_c)."""
        zc = self.context(x0)
        mu, logvar = self.encode(x, x0)
        rec = _bce(self.decode_logits(reparameterize(mu, logvar), zc), x)
        rec0 = _bce(self.decode_context_logits(zc), x0)
        kl = gaussian_kl(mu, logvar).mean()
        loss = rec + self.config.beta * kl + rec0
        return loss, {"losses/total": loss.item(), "losses/recon_bce": rec.item(),
                      "losses/context_recon_bce": rec0.item(), "losses/kl": kl.item()}

    @torch.no_grad()
    def sample(self, x0: torch.Tensor, n_per_context: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Goals imagined for each scene: z ~ N(0,I) decoded with z_c(s_0). Returns B*n,3,H,W."""
        zc = self.context(x0).repeat_interleave(n_per_context, dim=0)
        z = torch.randn(zc.shape[0], self.config.latent_dim, generator=generator)
        return torch.sigmoid(self.decode_logits(z, zc))


class CCVAEEncoderExport(nn.Module):
    """ONNX: (image, context_image) uint8 B,H,W,3 -> encoding z_bar = (mu(s_t, s_0), z_c), B,latent+context."""

    def __init__(self, model: CCVAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, context_image: torch.Tensor) -> torch.Tensor:
        x, x0 = to_float_nchw(image), to_float_nchw(context_image)
        return torch.cat([self.model.encode(x, x0)[0], self.model.context(x0)], dim=-1)


class CCVAEDecoderExport(nn.Module):
    """ONNX: encoding z_bar B,latent+context -> image float B,H,W,3 in [0,1]."""

    def __init__(self, model: CCVAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        z, zc = latent.split([self.model.config.latent_dim, self.model.config.context_dim], dim=-1)
        return to_nhwc(torch.sigmoid(self.model.decode_logits(z, zc)))
