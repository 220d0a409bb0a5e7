"""Convolutional blocks shared by the image models (beta-VAE, CC-VAE, VQ-VAE).

One encoder trunk and one decoder head, sized for small square RGB images (48x48 by default, any
side divisible by 4): two stride-2 convolutions bring the image to a (side/4)^2 feature grid, which
the VAEs flatten into a vector and the VQ-VAE keeps as its code grid (12x12 for 48x48). Keeping the
shapes in one place means the three encoders see images the same way and export the same way.
"""
from __future__ import annotations

import torch
from torch import nn


def check_image_side(side: int) -> int:
    """Return ``side // 4`` (the feature-grid side) or raise if the side does not fit the trunk."""
    if side < 8 or side % 4 != 0:
        raise ValueError(f"image side must be a multiple of 4 and >= 8, got {side}")
    return side // 4


def to_float_nchw(image: torch.Tensor) -> torch.Tensor:
    """uint8 (or float 0..255) images B,H,W,3 -> float B,3,H,W in [0, 1].

    The ONNX graphs take the camera's uint8 HWC frames as they come, so the normalisation lives
    inside the graph and a node cannot get it wrong.
    """
    return image.permute(0, 3, 1, 2).to(torch.float32) / 255.0


def to_nhwc(image: torch.Tensor) -> torch.Tensor:
    """float B,3,H,W -> B,H,W,3 (what people and the ROS Image message expect)."""
    return image.permute(0, 2, 3, 1)


class ConvTrunk(nn.Module):
    """Image B,C,H,W in [0,1] -> features B,``channels``,H/4,W/4."""

    def __init__(self, in_channels: int = 3, hidden: int = 32, channels: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(hidden, channels, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvHead(nn.Module):
    """Features B,``channels``,H/4,W/4 -> image logits B,``out_channels``,H,W (apply sigmoid for pixels)."""

    def __init__(self, channels: int = 64, hidden: int = 32, out_channels: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(),
            nn.ConvTranspose2d(channels, hidden, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(hidden, out_channels, 4, 2, 1),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over the last dim, one value per row."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps (the reparameterisation trick)."""
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
