"""Private training glue of the goal-proposal trainers (vae, ccvae, vqvae, iris_goal, pixelcnn, ptp).

Thin layer over the shared ``subgoal.train.common`` (seeding, dataclass->argparse, resumable
safetensors checkpoints, MetricLogger, progress bar) and ``subgoal.bundle.export`` (ONNX export +
parity + model.json): robomimic-layout dataset readers with clear errors, a generic Adam loop, PNG
grids for people, and bundle writing (``subgoal.bundle.export.write_bundle`` + the command line).
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

from subgoal.train import common

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- config <-> argparse / YAML
def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="HDF5 dataset in robomimic layout (data/demo_i/obs/...)")
    parser.add_argument("--out", required=True, help="output bundle folder, e.g. models/vae_push")
    parser.add_argument("--config", default=None, help="YAML file of option: value (CLI options override it)")


def load_yaml_config(path: str | None, allowed: Iterable[str]) -> dict[str, Any]:
    """Values of a YAML config file; unknown keys are an error that lists the allowed ones."""
    if not path:
        return {}
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file not found: {p}")
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"config {p} must be a mapping of option: value, got {type(data).__name__}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"config {p}: unknown keys {unknown}; allowed: {sorted(allowed)}")
    return data


def configs_from_args(args: argparse.Namespace, *classes: type) -> tuple:
    """One instance per dataclass: YAML (``--config``) values, overridden by explicit CLI options."""
    allowed = set().union(*({f.name for f in dataclasses.fields(c)} for c in classes))
    values = load_yaml_config(getattr(args, "config", None), allowed)
    values.update({k: v for k, v in vars(args).items() if k in allowed})
    return tuple(common.dataclass_from_args(c, values) for c in classes)


def set_threads() -> int:
    """torch intra-op threads: ``SUBGOAL_TORCH_THREADS`` or 1. On a shared 2-core machine 2 threads made
    the conv models 6x slower than 1 (oversubscription), so 1 is the default."""
    import os

    n = int(os.environ.get("SUBGOAL_TORCH_THREADS", "1"))
    torch.set_num_threads(max(1, n))
    return n


def seed_everything(seed: int) -> torch.Generator:
    """Seed python/numpy/torch (``train.common``); return the torch generator that draws batches.

    torch's deterministic-algorithms mode is left off: it doubled the CPU conv time and the CPU
    kernels used here are already run-to-run identical (the resume test checks bit-equal losses)."""
    common.seed_everything(seed, deterministic=False)
    set_threads()
    g = torch.Generator()
    g.manual_seed(seed)
    return g


# ---------------------------------------------------------------- datasets (robomimic layout)
def _open_demos(path: str | Path):
    import h5py

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"dataset not found: {p}")
    f = h5py.File(p, "r")
    if "data" not in f or len(f["data"]) == 0:
        f.close()
        raise ValueError(f"dataset {p} has no demos under 'data/' (robomimic layout expected)")
    names = sorted(f["data"].keys(), key=lambda n: (len(n), n))
    return f, names


def load_obs_demos(path: str | Path, key: str, image: bool) -> list[np.ndarray]:
    """Per-demo arrays of ``data/<demo>/obs/<key>``. For ``image`` checks uint8 N,H,W,3."""
    f, names = _open_demos(path)
    try:
        out = []
        for n in names:
            obs = f["data"][n].get("obs")
            if obs is None or key not in obs:
                have = sorted(obs.keys()) if obs is not None else []
                what = "images" if image else "states"
                raise ValueError(
                    f"dataset {path}: demo '{n}' has no obs/{key} ({what} needed by this model); obs keys: {have}")
            a = obs[key][()]
            if image and (a.ndim != 4 or a.shape[-1] != 3 or a.dtype != np.uint8):
                raise ValueError(f"dataset {path}: obs/{key} of '{n}' must be uint8 N,H,W,3 images, "
                                 f"got {a.dtype} {a.shape}")
            if not image and a.ndim == 1:
                a = a[:, None]
            out.append(a)
        return out
    finally:
        f.close()


def load_demo_key(path: str | Path, key: str) -> list[np.ndarray]:
    """Per-demo arrays of ``data/<demo>/<key>`` (e.g. actions, rewards, dones)."""
    f, names = _open_demos(path)
    try:
        out = []
        for n in names:
            if key not in f["data"][n]:
                raise ValueError(f"dataset {path}: demo '{n}' has no '{key}'; keys: {sorted(f['data'][n].keys())}")
            out.append(f["data"][n][key][()])
        return out
    finally:
        f.close()


def file_sha256(path: str | Path) -> str:
    from subgoal.bundle.card import sha256_file

    return sha256_file(path)


def check_image_size(demos: list[np.ndarray], size: int, path: str) -> None:
    h, w = demos[0].shape[1:3]
    if (h, w) != (size, size):
        raise ValueError(f"dataset {path}: images are {h}x{w} but the model expects {size}x{size} "
                         f"(set --image-size {h} if h == w)")


# ---------------------------------------------------------------- training loop
def fit(model: nn.Module, loss_fn: Callable[[torch.Generator], tuple[torch.Tensor, dict[str, float]]],
        steps: int, lr: float, out: Path, gen: torch.Generator, log_every: int = 50,
        ckpt_every: int = 500, desc: str = "train", tag: str = "model",
        after_step: Callable[[], None] | None = None) -> dict[str, float]:
    """Adam loop: metrics (``losses/...``) to TensorBoard + jsonl under ``out/logs/<tag>``, a progress bar,
    and a resumable checkpoint ``out/ckpt_<tag>/checkpoint`` (a rerun continues from it, bit for bit)."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    ckpt_dir = out / f"ckpt_{tag}"
    start = 0
    if common.checkpoint_exists(ckpt_dir):
        state = common.load_checkpoint(ckpt_dir, modules={"model": model}, optimizers={"adam": opt})
        start = int(state["counters"]["step"])
        gen.set_state(state["extra"]["batch_rng"])
        log.info("resumed %s from %s at step %d", tag, ckpt_dir, start)
    info: dict[str, float] = {}
    model.train()
    t0 = time.time()
    with common.MetricLogger(out / "logs" / tag) as logger:
        bar = common.progress(steps, start, desc)
        for step in range(start, steps):
            loss, info = loss_fn(gen)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{tag}: non-finite loss at step {step}: {info}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if after_step is not None:  # e.g. Polyak update of target networks
                after_step()
            bar.update(1)
            if step % log_every == 0 or step == steps - 1:
                rate = (step + 1 - start) / max(time.time() - t0, 1e-6)
                logger.scalars({**info, "charts/steps_per_s": rate}, step)
                bar.set_postfix(loss=f"{info.get('losses/total', loss.item()):.4g}")
            if (step + 1) % ckpt_every == 0 or step == steps - 1:
                common.save_checkpoint(ckpt_dir, modules={"model": model}, optimizers={"adam": opt},
                                       counters={"step": step + 1}, extra_tensors={"batch_rng": gen.get_state()})
        bar.close()
    model.eval()
    return info


def load_weights(out: Path, tag: str, model: nn.Module) -> nn.Module:
    """Weights of a finished run (``out/ckpt_<tag>``) into ``model`` (no optimizer, RNG untouched)."""
    common.load_checkpoint(out / f"ckpt_{tag}", modules={"model": model}, restore_rng=False)
    return model.eval()


# ---------------------------------------------------------------- images for people
def save_image_grid(images: np.ndarray, path: Path, ncol: int = 8, scale: int = 2) -> Path:
    """images float N,H,W,3 in [0,1] (or uint8) -> one PNG grid, upscaled ``scale``x for viewing."""
    import imageio.v3 as iio

    a = np.asarray(images)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    n, h, w, c = a.shape
    rows = (n + ncol - 1) // ncol
    grid = np.full((rows * (h + 2) + 2, min(n, ncol) * (w + 2) + 2, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncol)
        grid[2 + r * (h + 2): 2 + r * (h + 2) + h, 2 + col * (w + 2): 2 + col * (w + 2) + w] = a[i]
    grid = grid.repeat(scale, 0).repeat(scale, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, grid)
    return path


# ---------------------------------------------------------------- ONNX + model.json
def write_bundle(out: Path, *, name: str, kind: str, algorithm: str, exports: dict[str, Any],
                 training: dict[str, Any], metrics: dict[str, Any], extra: dict[str, Any],
                 atol: float = 1e-4) -> "Any":
    """:func:`subgoal.bundle.export.write_bundle` (export, static output sizes, parity <= atol, model.json)
    with the command line recorded and the parity errors also under ``metrics``; returns the ModelCard."""
    from subgoal.bundle.export import write_bundle as _write

    training = dict(training)
    training.setdefault("command", " ".join(shlex.quote(a) for a in sys.argv))
    card = _write(out, name=name, kind=kind, algorithm=algorithm, exports=exports, training=_plain(training),
                  metrics=_plain(metrics), extra=_plain(extra), atol=atol)
    card.metrics.update({f"eval/onnx_max_abs_err_{r}": v for r, v in card.extra["onnx_parity_max_err"].items()})
    card.save(out)
    return card


def _plain(v: Any) -> Any:
    return common.config_to_dict(v)


def save_config(out: Path, **configs: Any) -> None:
    """Resolved configs beside the checkpoints (config.json), so a run can be reproduced."""
    common.save_config(configs, out / "config.json")
