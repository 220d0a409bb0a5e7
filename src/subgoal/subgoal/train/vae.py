"""``subgoal train vae``: beta-VAE image encoder (RIG) from a robomimic-layout HDF5 -> model bundle.

Also holds the small image-trainer pieces the ccvae and vqvae trainers share (config, batch
sampling over demos, held-out split, ONNX parity check).
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from subgoal.models.vae import BetaVAE, VAEConfig, VAEDecoderExport, VAEEncoderExport
from subgoal.bundle.export import OnnxExport
from subgoal.train import _goal_glue as glue
from subgoal.train import common

log = logging.getLogger(__name__)


@dataclass
class ImageTrainConfig:
    steps: int = 2000
    """gradient steps"""
    batch_size: int = 64
    """images per step"""
    lr: float = 1e-3
    """Adam learning rate"""
    seed: int = 0
    """seeds torch/numpy and the batch sampler"""
    image_key: str = "image"
    """obs key of the uint8 N,H,W,3 images"""
    holdout_fraction: float = 0.1
    """last demos kept out of training for the reported metrics"""
    log_every: int = 50
    """TensorBoard scalar period (steps)"""
    ckpt_every: int = 500
    """checkpoint period (steps)"""

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction must be in [0, 1), got {self.holdout_fraction}")


class ImageDemos:
    """Images of all demos in one uint8 array, with the demo each frame belongs to (for s_0 lookups)."""

    def __init__(self, demos: list[np.ndarray]) -> None:
        self.images = np.concatenate(demos, axis=0)
        lengths = np.array([len(d) for d in demos])
        self.demo_of = np.repeat(np.arange(len(demos)), lengths)
        self.first = np.concatenate([[0], np.cumsum(lengths)[:-1]])

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        return _to_float(self.images[idx.numpy()])

    def context_batch(self, idx: torch.Tensor) -> torch.Tensor:
        """The first image of the demo of each index (the CC-VAE context s_0)."""
        return _to_float(self.images[self.first[self.demo_of[idx.numpy()]]])


def preview_indices(n: int, k: int) -> torch.Tensor:
    """k indices spread evenly over n frames (different demos and times, not one demo's first frames)."""
    return torch.from_numpy(np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(np.int64)))


def _to_float(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255.0


def load_split(dataset: str, key: str, holdout: float, image_size: int) -> tuple[ImageDemos, ImageDemos]:
    """Train/held-out split by demo (never by frame, so held-out frames are from unseen episodes)."""
    demos = glue.load_obs_demos(dataset, key, image=True)
    glue.check_image_size(demos, image_size, dataset)
    n_hold = int(round(len(demos) * holdout)) if len(demos) > 1 else 0
    n_hold = min(n_hold, len(demos) - 1)
    train = demos[: len(demos) - n_hold]
    held = demos[len(demos) - n_hold:] or demos[-1:]
    return ImageDemos(train), ImageDemos(held)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    glue.add_common_arguments(parser)
    common.add_dataclass_arguments(parser, VAEConfig, "model")
    common.add_dataclass_arguments(parser, ImageTrainConfig, "training")


def run(args: argparse.Namespace) -> int:
    mcfg, tcfg = glue.configs_from_args(args, VAEConfig, ImageTrainConfig)
    train(args.dataset, Path(args.out), mcfg, tcfg)
    return 0


def train(dataset: str, out: Path, mcfg: VAEConfig, tcfg: ImageTrainConfig) -> dict:
    """Train, save previews, export the bundle; returns the metrics written into model.json."""
    tr, held = load_split(dataset, tcfg.image_key, tcfg.holdout_fraction, mcfg.image_size)  # errors before training
    gen = glue.seed_everything(tcfg.seed)
    glue.save_config(out, model=mcfg, training=tcfg)
    model = BetaVAE(mcfg)

    def loss_fn(g: torch.Generator):
        idx = torch.randint(0, len(tr), (tcfg.batch_size,), generator=g)
        return model.compute_loss(tr.batch(idx))

    info = glue.fit(model, loss_fn, tcfg.steps, tcfg.lr, out, gen, tcfg.log_every, tcfg.ckpt_every, "vae", "vae")
    with torch.no_grad():
        x = held.batch(preview_indices(len(held), 256))
        mu, _ = model.encode(x)
        recon = torch.sigmoid(model.decode_logits(mu))
        metrics = {"eval/heldout_recon_mse": float((recon - x).pow(2).mean()), "losses/final_total": info.get("losses/total")}
        show = torch.from_numpy(np.linspace(0, len(x) - 1, min(8, len(x))).round().astype(np.int64))  # spread over demos
        pairs = torch.stack([x[show], recon[show]], 1).flatten(0, 1).permute(0, 2, 3, 1).numpy()
        glue.save_image_grid(pairs, out / "previews" / "reconstructions.png", ncol=8)
        glue.save_image_grid(model.sample(16, torch.Generator().manual_seed(tcfg.seed)).permute(0, 2, 3, 1).numpy(),
                             out / "previews" / "samples.png", ncol=8)
    card = glue.write_bundle(out, name=out.name, kind="encoder", algorithm="beta_vae",
                             exports=exports(model, held.images[:4]), metrics=metrics,
                             training=training_card(dataset, mcfg, tcfg),
                             extra={"latent_dim": mcfg.latent_dim, "latent_kind": "continuous",
                                    "image_shape": [mcfg.image_size, mcfg.image_size, 3], "image_key": tcfg.image_key,
                                    "encoding": "encoder mean mu(s) (RIG eq. 2)"})
    log.info("vae bundle written to %s: %s", out, card.metrics)
    return card.metrics


def training_card(dataset: str, *configs) -> dict:
    return {"dataset": str(dataset), "dataset_sha256": glue.file_sha256(dataset), "steps": configs[-1].steps,
            "seed": configs[-1].seed, "config": {type(c).__name__: c for c in configs}}


def exports(model: BetaVAE, images: np.ndarray) -> dict[str, OnnxExport]:
    """encoder.onnx (uint8 image -> latent mean), decoder.onnx (latent -> image in [0,1])."""
    img = torch.from_numpy(np.ascontiguousarray(images))
    with torch.no_grad():
        z = VAEEncoderExport(model)(img)
    return {"encoder": OnnxExport(VAEEncoderExport(model), {"image": img}, ["latent"]),
            "decoder": OnnxExport(VAEDecoderExport(model), {"latent": z}, ["image"])}
