"""``subgoal train vqvae``: VQ-VAE image encoder (VAL) from a robomimic-layout HDF5 -> model bundle.

Bundle: encoder.onnx (uint8 image -> code grid + flattened quantised latent), decoder.onnx
(flattened latent -> image), decoder_codes.onnx (code grid -> image, for PixelCNN samples),
codes_to_latent.onnx (code grid -> flattened latent, for sampled goals).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from subgoal.models.vqvae import (VQVAE, VQCodesDecoderExport, VQCodesToLatentExport, VQDecoderExport, VQEncoderExport,
                                  VQVAEConfig)
from subgoal.bundle.export import OnnxExport
from subgoal.train import _goal_glue as glue
from subgoal.train import common
from subgoal.train.vae import ImageTrainConfig, load_split, preview_indices, training_card

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    glue.add_common_arguments(parser)
    common.add_dataclass_arguments(parser, VQVAEConfig, "model")
    common.add_dataclass_arguments(parser, ImageTrainConfig, "training")


def run(args: argparse.Namespace) -> int:
    mcfg, tcfg = glue.configs_from_args(args, VQVAEConfig, ImageTrainConfig)
    train(args.dataset, Path(args.out), mcfg, tcfg)
    return 0


def train(dataset: str, out: Path, mcfg: VQVAEConfig, tcfg: ImageTrainConfig) -> dict:
    tr, held = load_split(dataset, tcfg.image_key, tcfg.holdout_fraction, mcfg.image_size)
    gen = glue.seed_everything(tcfg.seed)
    glue.save_config(out, model=mcfg, training=tcfg)
    model = VQVAE(mcfg)

    def loss_fn(g: torch.Generator):
        idx = torch.randint(0, len(tr), (tcfg.batch_size,), generator=g)
        return model.compute_loss(tr.batch(idx))

    info = glue.fit(model, loss_fn, tcfg.steps, tcfg.lr, out, gen, tcfg.log_every, tcfg.ckpt_every, "vqvae", "vqvae")
    with torch.no_grad():
        x = held.batch(preview_indices(len(held), 256))
        recon, _, _, codes = model(x)
        metrics = {"eval/heldout_recon_mse": float((recon - x).pow(2).mean()), "losses/final_total": info.get("losses/total"),
                   "eval/heldout_codes_used_fraction": torch.unique(codes).numel() / mcfg.num_codes}
        show = torch.from_numpy(np.linspace(0, len(x) - 1, min(8, len(x))).round().astype(np.int64))  # spread over demos
        pairs = torch.stack([x[show], recon[show]], 1).flatten(0, 1).permute(0, 2, 3, 1).numpy()
        glue.save_image_grid(pairs, out / "previews" / "reconstructions.png", ncol=8)
    card = glue.write_bundle(out, name=out.name, kind="encoder", algorithm="vqvae",
                             exports=exports(model, held.images[:4]), metrics=metrics,
                             training=training_card(dataset, mcfg, tcfg),
                             extra={"latent_dim": mcfg.latent_dim, "latent_kind": "vq_grid",
                                    "code_grid": [mcfg.grid, mcfg.grid], "num_codes": mcfg.num_codes,
                                    "code_dim": mcfg.code_dim, "image_key": tcfg.image_key,
                                    "image_shape": [mcfg.image_size, mcfg.image_size, 3],
                                    "encoding": "code indices (grid) + flattened quantised latent (HWC order)"})
    log.info("vqvae bundle written to %s: %s", out, card.metrics)
    return card.metrics


def exports(model: VQVAE, images: np.ndarray) -> dict[str, OnnxExport]:
    """encoder (image -> codes, latent), decoder (latent -> image), decoder_codes (codes -> image)."""
    img = torch.from_numpy(np.ascontiguousarray(images))
    with torch.no_grad():
        codes, z = VQEncoderExport(model)(img)
    return {"encoder": OnnxExport(VQEncoderExport(model), {"image": img}, ["codes", "latent"]),
            "decoder": OnnxExport(VQDecoderExport(model), {"latent": z}, ["image"]),
            "decoder_codes": OnnxExport(VQCodesDecoderExport(model), {"codes": codes}, ["image"]),
            "codes_to_latent": OnnxExport(VQCodesToLatentExport(model), {"codes": codes}, ["latent"])}
