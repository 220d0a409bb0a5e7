"""VQ-VAE image encoder of VAL (seed 001 ch. 9; van den Oord et al. 2017).

The encoder keeps a spatial grid (12x12 for 48x48 images) of ``code_dim``-vectors, each snapped to
its nearest entry of a learned codebook. Deterministic encoding: the code indices (what the
`latent` topic carries as an HxW 32FC1 grid and what the PixelCNN models) and the quantised vectors
(flattened: the continuous latent used by planners, seed PTP's "720-dimensional encoding").
Loss = reconstruction MSE + ||sg[z_e] - e||^2 (codebook) + commitment * ||z_e - sg[e]||^2, with the
straight-through gradient estimator.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from subgoal.models.conv import ConvHead, ConvTrunk, check_image_side, to_float_nchw, to_nhwc


@dataclass
class VQVAEConfig:
    image_size: int = 48
    """square RGB image side (pixels), multiple of 4 -> code grid side image_size/4"""
    num_codes: int = 64
    """codebook size K"""
    code_dim: int = 5
    """size of each codebook vector (12*12*5 = 720 like the seed)"""
    commitment: float = 0.25
    """weight of the commitment term"""
    channels: int = 64
    """feature channels of the conv trunk"""

    def __post_init__(self) -> None:
        check_image_side(self.image_size)
        if self.num_codes < 2:
            raise ValueError(f"num_codes must be >= 2, got {self.num_codes}")
        for name in ("code_dim", "channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.commitment >= 0:
            raise ValueError(f"commitment must be >= 0, got {self.commitment}")

    @property
    def grid(self) -> int:
        return self.image_size // 4

    @property
    def latent_dim(self) -> int:
        """Size of the flattened quantised latent (grid * grid * code_dim)."""
        return self.grid * self.grid * self.code_dim


class VQVAE(nn.Module):
    def __init__(self, config: VQVAEConfig) -> None:
        super().__init__()
        self.config = config
        check_image_side(config.image_size)
        self.trunk = ConvTrunk(3, 32, config.channels)
        self.pre_quant = nn.Conv2d(config.channels, config.code_dim, 1)
        self.codebook = nn.Embedding(config.num_codes, config.code_dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / config.num_codes, 1.0 / config.num_codes)
        # set from the first training batch's encoder outputs (see init_codebook)
        self.register_buffer("codebook_ready", torch.zeros((), dtype=torch.bool))
        self.post_quant = nn.Conv2d(config.code_dim, config.channels, 1)
        self.head = ConvHead(config.channels, 32, 3)

    def encode_continuous(self, x: torch.Tensor) -> torch.Tensor:
        """x float B,3,H,W -> z_e B,D,G,G (before quantisation)."""
        return self.pre_quant(self.trunk(x))

    def nearest_codes(self, ze: torch.Tensor) -> torch.Tensor:
        """z_e B,D,G,G -> code indices B,G,G (nearest codebook entry per cell)."""
        b, d, g, _ = ze.shape
        flat = ze.permute(0, 2, 3, 1).reshape(-1, d)
        w = self.codebook.weight
        dist = flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ w.t() + w.pow(2).sum(1)[None, :]
        return dist.argmin(dim=1).view(b, g, g)

    def codes_to_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """indices B,G,G -> quantised z_q B,D,G,G."""
        return self.codebook(codes).permute(0, 3, 1, 2)

    def decode_latent(self, zq: torch.Tensor) -> torch.Tensor:
        """z_q B,D,G,G -> image B,3,H,W in [0,1]."""
        return torch.sigmoid(self.head(F.relu(self.post_quant(zq))))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        ze = self.encode_continuous(x)
        codes = self.nearest_codes(ze)
        zq = self.codes_to_latent(codes)
        zq_st = ze + (zq - ze).detach()  # straight-through
        return self.decode_latent(zq_st), ze, zq, codes

    @torch.no_grad()
    def init_codebook(self, x: torch.Tensor) -> None:
        """Codebook <- random encoder outputs of a batch. With a tiny random init and Adam (steps of ~lr),
        codes could not follow encoder outputs of magnitude ~10-50 and most codes went unused."""
        ze = self.encode_continuous(x).permute(0, 2, 3, 1).reshape(-1, self.config.code_dim)
        idx = torch.randint(0, ze.shape[0], (self.config.num_codes,))
        self.codebook.weight.copy_(ze[idx] + 1e-3 * torch.randn_like(ze[idx]))
        self.codebook_ready.fill_(True)

    def compute_loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        if self.training and not bool(self.codebook_ready):
            self.init_codebook(x)
        recon, ze, zq, codes = self(x)
        rec = F.mse_loss(recon, x, reduction="none").flatten(1).sum(1).mean()
        # all terms summed per image (like the reconstruction), so no term dwarfs the others
        codebook = (zq - ze.detach()).pow(2).flatten(1).sum(1).mean()
        commit = (ze - zq.detach()).pow(2).flatten(1).sum(1).mean()
        loss = rec + codebook + self.config.commitment * commit
        used = torch.unique(codes).numel() / self.config.num_codes
        return loss, {"losses/total": loss.item(), "losses/recon_mse": rec.item(), "losses/codebook": codebook.item(),
                      "losses/commitment": commit.item(), "charts/codes_used_fraction": float(used)}


class VQEncoderExport(nn.Module):
    """ONNX: uint8 image B,H,W,3 -> (codes int64 B,G,G, latent float B,G*G*D flattened in HWC order)."""

    def __init__(self, model: VQVAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = self.model.nearest_codes(self.model.encode_continuous(to_float_nchw(image)))
        latent = self.model.codebook(codes).flatten(1)
        return codes, latent


class VQDecoderExport(nn.Module):
    """ONNX: flattened latent B,G*G*D (HWC order, e.g. a planner's subgoal) -> image float B,H,W,3."""

    def __init__(self, model: VQVAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        c = self.model.config
        zq = latent.view(-1, c.grid, c.grid, c.code_dim).permute(0, 3, 1, 2)
        return to_nhwc(self.model.decode_latent(zq))


class VQCodesDecoderExport(nn.Module):
    """ONNX: code indices int64 B,G,G (e.g. PixelCNN samples) -> image float B,H,W,3."""

    def __init__(self, model: VQVAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return to_nhwc(self.model.decode_latent(self.model.codes_to_latent(codes)))


class VQCodesToLatentExport(nn.Module):
    """ONNX: code indices int64 B,G,G -> flattened quantised latent B,G*G*D (HWC order, as the encoder gives)."""

    def __init__(self, model: VQVAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.codebook(codes).flatten(1)
