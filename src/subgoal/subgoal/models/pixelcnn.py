"""Conditional PixelCNN over VQ-VAE code grids: the VAL affordance model p(z_t | z_0) (seed 001 ch. 9.5.1).

Autoregressive over the G x G grid of code indices in raster order. Masked convolutions (mask "A" on
the first layer: a cell never sees itself; "B" after) with gated activations tanh(.) * sigmoid(.), and a
spatial conditioning map computed by an unmasked conv stack from the embedding of z_0 (the current
scene's codes) added inside every gate. Trained with cross-entropy, maximising E[log p(z_t | z_0)]
over (s_0, s_t) pairs of the same demo. Sampling (numpy, ``subgoal.planning.val.sample_codes``)
draws one cell at a time with the torch module or its ONNX graph.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class PixelCNNConfig:
    num_codes: int = 64
    """K: codebook size of the VQ-VAE"""
    grid: int = 12
    """G: side of the code grid"""
    channels: int = 64
    """feature channels"""
    layers: int = 6
    """gated masked layers after the first"""
    embed_dim: int = 32
    """embedding size of a code index"""

    def __post_init__(self) -> None:
        for name in ("num_codes", "grid", "channels", "layers", "embed_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


class MaskedConv2d(nn.Conv2d):
    """Conv whose kernel only sees cells above, and to the left on the same row (and itself for 'B')."""

    def __init__(self, mask_type: str, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        k = self.kernel_size[0]
        mask = torch.ones_like(self.weight)
        mask[:, :, k // 2, k // 2 + (mask_type == "B"):] = 0
        mask[:, :, k // 2 + 1:] = 0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding)


class GatedLayer(nn.Module):
    def __init__(self, channels: int, mask_type: str, kernel: int) -> None:
        super().__init__()
        self.conv = MaskedConv2d(mask_type, channels, 2 * channels, kernel, padding=kernel // 2)
        self.cond = nn.Conv2d(channels, 2 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        self.residual = mask_type == "B"

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        a, b = (self.conv(x) + self.cond(h)).chunk(2, 1)
        y = self.out(torch.tanh(a) * torch.sigmoid(b))
        return x + y if self.residual else y


class ConditionalPixelCNN(nn.Module):
    def __init__(self, config: PixelCNNConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.num_codes, c.embed_dim)
        self.cond_embed = nn.Embedding(c.num_codes, c.embed_dim)
        self.cond_net = nn.Sequential(nn.Conv2d(c.embed_dim, c.channels, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(c.channels, c.channels, 3, padding=1), nn.ReLU())
        self.inp = nn.Conv2d(c.embed_dim, c.channels, 1)
        self.first = GatedLayer(c.channels, "A", 5)
        self.body = nn.ModuleList(GatedLayer(c.channels, "B", 3) for _ in range(c.layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c.channels, c.channels, 1), nn.ReLU(),
                                  nn.Conv2d(c.channels, c.num_codes, 1))

    def forward(self, codes: torch.Tensor, cond_codes: torch.Tensor) -> torch.Tensor:
        """codes, cond_codes: int64 B,G,G -> logits B,K,G,G (cell (i,j) depends on earlier cells only)."""
        h = self.cond_net(self.cond_embed(cond_codes).permute(0, 3, 1, 2))
        x = self.inp(self.embed(codes).permute(0, 3, 1, 2))
        x = self.first(x, h)
        for layer in self.body:
            x = layer(x, h)
        return self.head(x)

    def compute_loss(self, codes: torch.Tensor, cond_codes: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Negative log-likelihood of z_t given z_0 (mean per cell, nats)."""
        loss = F.cross_entropy(self(codes, cond_codes), codes)
        return loss, {"losses/total": loss.item(), "losses/nll_per_cell": loss.item()}
