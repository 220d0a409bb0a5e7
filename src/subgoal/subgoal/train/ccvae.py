"""``subgoal train ccvae``: context-conditioned VAE (CC-RIG) from a robomimic-layout HDF5 -> bundle.

Batches pair each frame s_t with the first frame s_0 of its own demo (the context).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from subgoal.models.ccvae import CCVAE, CCVAEConfig, CCVAEDecoderExport, CCVAEEncoderExport
from subgoal.bundle.export import OnnxExport
from subgoal.train import _goal_glue as glue
from subgoal.train import common
from subgoal.train.vae import ImageTrainConfig, load_split, preview_indices, training_card

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    glue.add_common_arguments(parser)
    common.add_dataclass_arguments(parser, CCVAEConfig, "model")
    common.add_dataclass_arguments(parser, ImageTrainConfig, "training")


def run(args: argparse.Namespace) -> int:
    mcfg, tcfg = glue.configs_from_args(args, CCVAEConfig, ImageTrainConfig)
    train(args.dataset, Path(args.out), mcfg, tcfg)
    return 0


def train(dataset: str, out: Path, mcfg: CCVAEConfig, tcfg: ImageTrainConfig) -> dict:
    tr, held = load_split(dataset, tcfg.image_key, tcfg.holdout_fraction, mcfg.image_size)
    gen = glue.seed_everything(tcfg.seed)
    glue.save_config(out, model=mcfg, training=tcfg)
    model = CCVAE(mcfg)

    def loss_fn(g: torch.Generator):
        idx = torch.randint(0, len(tr), (tcfg.batch_size,), generator=g)
        return model.compute_loss(tr.batch(idx), tr.context_batch(idx))

    info = glue.fit(model, loss_fn, tcfg.steps, tcfg.lr, out, gen, tcfg.log_every, tcfg.ckpt_every, "ccvae", "ccvae")
    with torch.no_grad():
        idx = preview_indices(len(held), 256)
        x, x0 = held.batch(idx), held.context_batch(idx)
        mu, _ = model.encode(x, x0)
        recon = torch.sigmoid(model.decode_logits(mu, model.context(x0)))
        metrics = {"eval/heldout_recon_mse": float((recon - x).pow(2).mean()), "losses/final_total": info.get("losses/total")}
        show = torch.from_numpy(np.linspace(0, len(x) - 1, min(8, len(x))).round().astype(np.int64))  # spread over demos
        pairs = torch.stack([x[show], recon[show]], 1).flatten(0, 1).permute(0, 2, 3, 1).numpy()
        glue.save_image_grid(pairs, out / "previews" / "reconstructions.png", ncol=8)
        # per row: the context s_0, then 7 goals imagined for that scene
        demos = np.unique(held.demo_of[idx.numpy()])[:4]
        ctx = held.batch(torch.from_numpy(held.first[demos]))
        samples = model.sample(ctx, 7, torch.Generator().manual_seed(tcfg.seed)).view(len(ctx), 7, 3, *x.shape[2:])
        grid = torch.cat([ctx[:, None], samples], 1).flatten(0, 1).permute(0, 2, 3, 1).numpy()
        glue.save_image_grid(grid, out / "previews" / "samples_per_context.png", ncol=8)
    card = glue.write_bundle(out, name=out.name, kind="encoder", algorithm="ccvae",
                             exports=exports(model, held.images[:4], held.images[held.first[held.demo_of[:4]]]),
                             metrics=metrics, training=training_card(dataset, mcfg, tcfg),
                             extra={"latent_dim": mcfg.encoding_dim, "latent_kind": "continuous",
                                    "context_dim": mcfg.context_dim, "image_key": tcfg.image_key,
                                    "image_shape": [mcfg.image_size, mcfg.image_size, 3],
                                    "encoding": "(mu(s_t, s_0), z_c = e_0(s_0)) (CC-RIG); needs the episode's first image"})
    log.info("ccvae bundle written to %s: %s", out, card.metrics)
    return card.metrics


def exports(model: CCVAE, images: np.ndarray, contexts: np.ndarray) -> dict[str, OnnxExport]:
    img, ctx = torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(np.ascontiguousarray(contexts))
    with torch.no_grad():
        z = CCVAEEncoderExport(model)(img, ctx)
    return {"encoder": OnnxExport(CCVAEEncoderExport(model), {"image": img, "context_image": ctx}, ["latent"]),
            "decoder": OnnxExport(CCVAEDecoderExport(model), {"latent": z}, ["image"])}
