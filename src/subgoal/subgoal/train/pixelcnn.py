"""``subgoal train pixelcnn``: VAL affordance model p(z_t | z_0) over a VQ-VAE bundle's code grids.

Images are encoded with the VQ-VAE bundle's ONNX encoder (``--encoder``, required), pairs (z_0 = the
demo's first frame, z_t = a later frame of the same demo) train the conditional PixelCNN. Bundle:
prior.onnx (codes, cond_codes) -> logits; the sampler runs on ONNX Runtime (``subgoal.planning.val``).
Previews: per held-out demo, its first image then goals sampled for that scene, decoded.
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from subgoal.bundle.export import OnnxExport
from subgoal.models.pixelcnn import ConditionalPixelCNN, PixelCNNConfig
from subgoal.planning.val import sample_codes
from subgoal.train import _goal_glue as glue
from subgoal.train import common

log = logging.getLogger(__name__)


@dataclass
class PixelCNNTrainConfig:
    encoder: str = ""
    """VQ-VAE bundle (required): its encoder gives the code grids, its decoder the previews"""
    steps: int = 2000
    """gradient steps"""
    batch_size: int = 32
    """(z_0, z_t) pairs per step"""
    lr: float = 1e-3
    """Adam learning rate"""
    seed: int = 0
    """seeds torch/numpy and the pair sampler"""
    holdout_fraction: float = 0.1
    """last demos kept out (held-out NLL, previews)"""
    preview_samples: int = 7
    """goals sampled per held-out scene in the preview"""
    log_every: int = 50
    """metric period (steps)"""
    ckpt_every: int = 500
    """checkpoint period (steps)"""

    def __post_init__(self) -> None:
        common.require(bool(self.encoder), "encoder", self.encoder, "a VQ-VAE bundle is required (--encoder models/<vqvae>)")
        common.require(self.steps >= 1, "steps", self.steps, "must be >= 1")
        common.require(self.batch_size >= 1, "batch_size", self.batch_size, "must be >= 1")


@dataclass
class PixelCNNModelArgs:
    channels: int = 64
    """feature channels"""
    layers: int = 6
    """gated masked layers"""
    embed_dim: int = 32
    """code embedding size"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    glue.add_common_arguments(parser)
    common.add_dataclass_arguments(parser, PixelCNNModelArgs, "model")
    common.add_dataclass_arguments(parser, PixelCNNTrainConfig, "training")


def run(args: argparse.Namespace) -> int:
    mcfg, tcfg = glue.configs_from_args(args, PixelCNNModelArgs, PixelCNNTrainConfig)
    train(args.dataset, Path(args.out), mcfg, tcfg)
    return 0


def load_vq_encoder(path: str):
    """The VQ-VAE bundle, refused with a clear message if it is another kind of encoder."""
    from subgoal.bundle import BundleError, load_bundle

    enc = load_bundle(path, kind="encoder")
    if enc.card.extra.get("latent_kind") != "vq_grid":
        raise BundleError(f"{path}: encoder {enc.card.name!r} is {enc.card.algorithm!r} with a "
                          f"{enc.card.extra.get('latent_kind')!r} latent; the PixelCNN needs a VQ-VAE (code grid) bundle")
    return enc


def encode_demos(enc, dataset: str) -> list[np.ndarray]:
    extra = enc.card.extra
    images = glue.load_obs_demos(dataset, extra.get("image_key", "image"), image=True)
    if list(images[0].shape[1:]) != list(extra["image_shape"]):
        raise ValueError(f"dataset {dataset}: images are {list(images[0].shape[1:])}, the encoder takes {extra['image_shape']}")
    return [np.concatenate([enc.run("encoder", {"image": d[i: i + 256]})["codes"] for i in range(0, len(d), 256)])
            for d in images]


def train(dataset: str, out: Path, mcfg: PixelCNNModelArgs, tcfg: PixelCNNTrainConfig) -> dict:
    enc = load_vq_encoder(tcfg.encoder)  # errors before any training
    codes = encode_demos(enc, dataset)
    extra = enc.card.extra
    cfg = PixelCNNConfig(num_codes=int(extra["num_codes"]), grid=int(extra["code_grid"][0]), channels=mcfg.channels,
                         layers=mcfg.layers, embed_dim=mcfg.embed_dim)
    n_hold = min(int(round(len(codes) * tcfg.holdout_fraction)), len(codes) - 1)
    tr, held = codes[: len(codes) - n_hold], codes[len(codes) - n_hold:] or codes[-1:]
    flat = torch.from_numpy(np.concatenate(tr))
    lengths = np.array([len(c) for c in tr])
    first = torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]]))
    demo_of = torch.from_numpy(np.repeat(np.arange(len(tr)), lengths))
    gen = glue.seed_everything(tcfg.seed)
    glue.save_config(out, model=mcfg, training=tcfg)
    model = ConditionalPixelCNN(cfg)

    def loss_fn(g: torch.Generator):
        i = torch.randint(0, len(flat), (tcfg.batch_size,), generator=g)
        return model.compute_loss(flat[i], flat[first[demo_of[i]]])

    info = glue.fit(model, loss_fn, tcfg.steps, tcfg.lr, out, gen, tcfg.log_every, tcfg.ckpt_every, "pixelcnn", "pixelcnn")
    with torch.no_grad():
        hz = torch.from_numpy(np.concatenate(held))
        h0 = torch.from_numpy(np.concatenate([np.repeat(c[:1], len(c), 0) for c in held]))
        metrics = {"losses/final_total": info.get("losses/total"),
                   "eval/heldout_nll_per_cell": model.compute_loss(hz[:512], h0[:512])[0].item()}
    _previews(model, enc, held, out, tcfg)
    ex = torch.from_numpy(np.concatenate(tr)[:2])
    card = glue.write_bundle(out, name=out.name, kind="goal_proposal", algorithm="val_pixelcnn",
                             exports={"prior": OnnxExport(model, {"codes": ex, "cond_codes": ex}, ["logits"])},
                             metrics=metrics,
                             training={"dataset": str(dataset), "dataset_sha256": glue.file_sha256(dataset),
                                       "steps": tcfg.steps, "seed": tcfg.seed, "config": {"model": mcfg, "training": tcfg}},
                             extra={"method": "val", "num_codes": cfg.num_codes, "code_grid": [cfg.grid, cfg.grid],
                                    "encoder": {"name": enc.card.name, "path": str(tcfg.encoder),
                                                "encoder_sha256": enc.card.files["encoder"].sha256,
                                                "latent_dim": int(extra["latent_dim"])}})
    log.info("pixelcnn bundle written to %s: %s", out, card.metrics)
    return card.metrics


def _previews(model: ConditionalPixelCNN, enc, held: list[np.ndarray], out: Path, tcfg: PixelCNNTrainConfig) -> None:
    """Row per held-out scene: decoded s_0, then goals sampled from p(z_t | z_0), decoded."""
    rng = np.random.default_rng(tcfg.seed)
    scenes = held[:4]
    k = tcfg.preview_samples
    cond = np.concatenate([np.repeat(c[:1], k, 0) for c in scenes])

    def logits(codes, cnd):
        with torch.no_grad():
            return model(torch.from_numpy(codes), torch.from_numpy(cnd)).numpy()

    sampled = sample_codes(logits, cond, model.config.num_codes, rng)
    rows = []
    for i, c in enumerate(scenes):
        rows.append(enc.run("decoder_codes", {"codes": c[:1]})["image"])
        rows.append(enc.run("decoder_codes", {"codes": sampled[i * k: (i + 1) * k]})["image"])
    glue.save_image_grid(np.concatenate(rows), out / "previews" / "samples_per_scene.png", ncol=k + 1)
