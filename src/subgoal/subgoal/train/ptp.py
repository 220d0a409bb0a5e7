"""``subgoal train ptp``: PTP multi-horizon subgoal generators (eq. 50) -> goal-proposal bundle.

Plans in a state space (``--obs-key``, e.g. robot/object state) or in an encoder's latent space
(``--encoder models/<vae bundle>``: images are encoded with the bundle's ONNX encoder first, so the
planner's space is exactly what the perception node publishes). Bundle: ``generator_l<i>.onnx``
(state, z) -> subgoal per level, plus the planner defaults and the per-step scale used by the
distance-based value stand-in.
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from subgoal.bundle.export import OnnxExport
from subgoal.models.subgoal_cvae import GeneratorExport, SubgoalCVAE, SubgoalCVAEConfig, sample_chains
from subgoal.train import _goal_glue as glue
from subgoal.train import common

log = logging.getLogger(__name__)


@dataclass
class PTPTrainConfig:
    steps: int = 3000
    """gradient steps (all levels are trained together each step)"""
    batch_size: int = 256
    """sequences per level per step"""
    lr: float = 3e-4
    """Adam learning rate (seed: 3e-4)"""
    seed: int = 0
    """seeds torch/numpy and the sequence sampler"""
    obs_key: str = "state"
    """obs key planned over (ignored with --encoder, which encodes images instead)"""
    encoder: str = ""
    """optional encoder bundle (vae/ccvae/vqvae): plan in its latent space"""
    holdout_fraction: float = 0.1
    """last demos kept out of training (reported held-out loss)"""
    log_every: int = 50
    """metric period (steps)"""
    ckpt_every: int = 1000
    """checkpoint period (steps)"""

    def __post_init__(self) -> None:
        common.require(self.steps >= 1, "steps", self.steps, "must be >= 1")
        common.require(self.batch_size >= 1, "batch_size", self.batch_size, "must be >= 1")
        common.require(self.lr > 0, "lr", self.lr, "must be > 0")
        common.require(0.0 <= self.holdout_fraction < 1.0, "holdout_fraction", self.holdout_fraction, "must be in [0, 1)")


@dataclass
class PTPModelConfig:
    horizons: tuple[int, ...] = (60, 30, 15)
    """steps per subgoal on each level, coarsest first (seed: 60/30/15, M = 2)"""
    latent_dim: int = 8
    """size of the generator latent z (seed: 8)"""
    hidden: int = 128
    """MLP width (128 keeps a two-level N=1024 plan near 200 ms on 2 cores, bench/planner.py; 256 ~3x slower)"""
    beta: float = 1.0
    """KL weight of eq. 50"""
    chain: int = 2
    """subgoals chained per training sequence (the recursive multi-step term)"""
    jitter: float = 0.25
    """Delta t ~ U[ceil((1 - jitter) h), h]"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    glue.add_common_arguments(parser)
    common.add_dataclass_arguments(parser, PTPModelConfig, "model")
    common.add_dataclass_arguments(parser, PTPTrainConfig, "training")


def run(args: argparse.Namespace) -> int:
    mcfg, tcfg = glue.configs_from_args(args, PTPModelConfig, PTPTrainConfig)
    train(args.dataset, Path(args.out), mcfg, tcfg)
    return 0


def load_planning_states(dataset: str, tcfg: PTPTrainConfig) -> tuple[list[np.ndarray], dict]:
    """Per-demo float32 arrays in the planning space, and what produced them (for model.json)."""
    if not tcfg.encoder:
        demos = [d.reshape(len(d), -1).astype(np.float32) for d in glue.load_obs_demos(dataset, tcfg.obs_key, image=False)]
        return demos, {"space": "state", "obs_key": tcfg.obs_key}
    from subgoal.bundle import load_bundle

    enc = load_bundle(tcfg.encoder, kind="encoder")
    extra = enc.card.extra
    if extra.get("algorithm_needs_context") or enc.card.algorithm == "ccvae":
        raise ValueError(f"encoder {tcfg.encoder} is a CC-VAE (needs the episode's first image); "
                         "use a vae or vqvae bundle for planning")
    images = glue.load_obs_demos(dataset, extra.get("image_key", "image"), image=True)
    want = tuple(extra["image_shape"])
    if images[0].shape[1:] != want:
        raise ValueError(f"dataset {dataset}: images are {images[0].shape[1:]}, encoder {tcfg.encoder} takes {want}")
    out_name = "latent"
    demos = []
    for d in images:
        z = np.concatenate([enc.run("encoder", {"image": d[i: i + 256]})[out_name] for i in range(0, len(d), 256)])
        demos.append(z.astype(np.float32))
    if demos[0].shape[1] != int(extra["latent_dim"]):
        raise ValueError(f"encoder {tcfg.encoder}: card says latent_dim={extra['latent_dim']}, "
                         f"graph gives {demos[0].shape[1]}")
    return demos, {"space": "latent", "encoder": {"name": enc.card.name, "path": str(tcfg.encoder),
                                                   "encoder_sha256": enc.card.files["encoder"].sha256,
                                                   "latent_dim": int(extra["latent_dim"])}}


def train(dataset: str, out: Path, mcfg: PTPModelConfig, tcfg: PTPTrainConfig) -> dict:
    demos, space = load_planning_states(dataset, tcfg)  # every input error happens here, before training
    n_hold = min(int(round(len(demos) * tcfg.holdout_fraction)), len(demos) - 1)
    train_demos, held = demos[: len(demos) - n_hold], demos[len(demos) - n_hold:] or demos[-1:]
    cfg = SubgoalCVAEConfig(state_dim=demos[0].shape[1], horizons=mcfg.horizons, latent_dim=mcfg.latent_dim,
                            hidden=mcfg.hidden, beta=mcfg.beta, chain=mcfg.chain, jitter=mcfg.jitter)
    for lvl in range(len(cfg.horizons)):  # fail now, not after training the other levels
        sample_chains(train_demos, cfg, lvl, 1, np.random.default_rng(0))
    gen = glue.seed_everything(tcfg.seed)
    rng = np.random.default_rng(tcfg.seed)
    glue.save_config(out, model=mcfg, training=tcfg)
    model = SubgoalCVAE(cfg)
    all_states = torch.from_numpy(np.concatenate(train_demos))
    model.set_normalization(all_states)
    step_scale = float(np.mean(np.concatenate([np.linalg.norm(np.diff(d, axis=0), axis=1) for d in train_demos])))

    def loss_fn(_g: torch.Generator):
        total, info = 0.0, {}
        for lvl in range(len(cfg.horizons)):
            seq = torch.from_numpy(sample_chains(train_demos, cfg, lvl, tcfg.batch_size, rng))
            loss, i = model.elbo_loss(lvl, seq)
            total = total + loss
            info.update(i)
        info["losses/total"] = total.item()
        return total, info

    info = glue.fit(model, loss_fn, tcfg.steps, tcfg.lr, out, gen, tcfg.log_every, tcfg.ckpt_every, "ptp", "ptp")
    metrics: dict = {"losses/final_total": info.get("losses/total")}
    with torch.no_grad():
        hrng = np.random.default_rng(tcfg.seed + 1)
        for lvl in range(len(cfg.horizons)):
            seq = torch.from_numpy(sample_chains(held, cfg, lvl, 512, hrng))
            metrics[f"eval/heldout_l{lvl}_elbo"] = model.elbo_loss(lvl, seq)[0].item()
    ex = torch.from_numpy(np.concatenate(train_demos)[:4])
    exports = {f"generator_l{lvl}": OnnxExport(_LevelExport(model, lvl), {"state": ex, "z": torch.zeros(4, cfg.latent_dim)},
                                               ["subgoal"]) for lvl in range(len(cfg.horizons))}
    card = glue.write_bundle(out, name=out.name, kind="goal_proposal", algorithm="ptp", exports=exports,
                             metrics=metrics, training=_training_card(dataset, mcfg, tcfg),
                             extra={"method": "ptp", "horizons": list(cfg.horizons), "state_dim": cfg.state_dim,
                                    "z_dim": cfg.latent_dim, "step_scale": step_scale, **space,
                                    "value": "distance stand-in V(s,s') = -||s-s'|| / step_scale (no learned critic yet)"})
    log.info("ptp bundle written to %s: %s", out, card.metrics)
    return card.metrics


def _training_card(dataset: str, *configs) -> dict:
    return {"dataset": str(dataset), "dataset_sha256": glue.file_sha256(dataset), "steps": configs[-1].steps,
            "seed": configs[-1].seed, "config": {type(c).__name__: c for c in configs}}


class _LevelExport(torch.nn.Module):
    def __init__(self, model: SubgoalCVAE, level: int) -> None:
        super().__init__()
        self.inner = GeneratorExport(model.levels[level])

    def forward(self, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.inner(state, z)
