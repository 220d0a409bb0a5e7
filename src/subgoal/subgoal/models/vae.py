"""beta-VAE image encoder of RIG (seed 001 ch. 2, eq. 2).

Loss = Bernoulli cross-entropy of the pixels (the seed's decoder "parameterizes a Bernoulli
distribution for each pixel value") + beta * KL(q(z|s) || N(0, I)). The state encoding used by the
rest of the stack is the encoder MEAN, z = mu(s) (seed: "we use the mean of the encoder as the state
encoding"), so encoding is deterministic at deploy time.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from subgoal.models.conv import ConvHead, ConvTrunk, check_image_side, gaussian_kl, reparameterize, to_float_nchw, to_nhwc


@dataclass
class VAEConfig:
    image_size: int = 48
    """square RGB image side (pixels), multiple of 4"""
    latent_dim: int = 16
    """size of the latent z (the `latent` topic vector)"""
    beta: float = 1.0
    """KL weight of eq. 2 (beta-VAE)"""
    channels: int = 64
    """feature channels of the conv trunk"""

    def __post_init__(self) -> None:
        check_image_side(self.image_size)
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        if self.channels < 1:
            raise ValueError(f"channels must be >= 1, got {self.channels}")


def vae_loss(
    target: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """Negative eq. 2 per image: BCE(pixels) summed over pixels + beta * KL, averaged over the batch."""
    rec = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1).mean()
    kl = gaussian_kl(mu, logvar).mean()
    loss = rec + beta * kl
    return loss, {"losses/total": loss.item(), "losses/recon_bce": rec.item(), "losses/kl": kl.item()}


class BetaVAE(nn.Module):
    """Conv encoder q(z|s) -> (mu, logvar); conv decoder p(s|z) -> Bernoulli logits per pixel."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        g = check_image_side(config.image_size)
        self.grid = g
        self.trunk = ConvTrunk(3, 32, config.channels)
        self.to_stats = nn.Linear(config.channels * g * g, 2 * config.latent_dim)
        self.from_latent = nn.Linear(config.latent_dim, config.channels * g * g)
        self.head = ConvHead(config.channels, 32, 3)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: float B,3,H,W in [0,1] -> (mu, logvar), each B,latent_dim."""
        stats = self.to_stats(self.trunk(x).flatten(1))
        mu, logvar = stats.chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.from_latent(z)).view(-1, self.config.channels, self.grid, self.grid)
        return self.head(h)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        return self.decode_logits(reparameterize(mu, logvar)), mu, logvar

    def compute_loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        logits, mu, logvar = self(x)
        return vae_loss(x, logits, mu, logvar, self.config.beta)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images (float B,3,H,W) decoded from prior samples z ~ N(0, I)."""
        z = torch.randn(n, self.config.latent_dim, generator=generator)
        return torch.sigmoid(self.decode_logits(z))


class VAEEncoderExport(nn.Module):
    """ONNX graph: uint8 image B,H,W,3 -> latent mean B,latent_dim (the deploy-time encoding)."""

    def __init__(self, vae: BetaVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(to_float_nchw(image))[0]


class VAEDecoderExport(nn.Module):
    """ONNX graph: latent B,latent_dim -> image float B,H,W,3 in [0,1] (previews for people)."""

    def __init__(self, vae: BetaVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return to_nhwc(torch.sigmoid(self.vae.decode_logits(latent)))
