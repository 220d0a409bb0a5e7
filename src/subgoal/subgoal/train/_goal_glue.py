"""Private training glue of the goal-proposal trainers (vae, ccvae, vqvae, iris_goal, pixelcnn, ptp).

TEMPORARY: minimal stand-ins for ``subgoal.train.common`` (seeding, dataclass->argparse, resumable
safetensors checkpoints, TensorBoard, progress bar) and ``subgoal.bundle`` (ONNX export + model.json)
which another engineer is writing. Kept private (underscore) so nothing outside the goal-proposal
trainers depends on it; to be replaced by the shared modules once they land.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

MODEL_JSON = "model.json"


# ---------------------------------------------------------------- config <-> argparse / YAML
def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, group: str | None = None) -> None:
    """One ``--field`` option per dataclass field (default None = keep the dataclass/YAML value)."""
    target = parser.add_argument_group(group or cls.__name__)
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        kind = type(default) if default is not None else str
        flag = "--" + f.name.replace("_", "-")
        if kind is bool:
            target.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=None,
                                help=f"(default {default})")
        elif kind in (tuple, list):
            target.add_argument(flag, type=int, nargs="+", default=None, help=f"(default {default})")
        else:
            target.add_argument(flag, type=kind, default=None, help=f"(default {default})")


def dataclass_from_args(cls: type, args: argparse.Namespace, yaml_values: dict[str, Any] | None = None):
    """Build ``cls`` from YAML values overridden by explicit CLI options; unknown YAML keys are errors."""
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for k, v in (yaml_values or {}).items():
        if k in names:
            values[k] = tuple(v) if isinstance(v, list) else v
    for k in names:
        v = getattr(args, k, None)
        if v is not None:
            values[k] = tuple(v) if isinstance(v, list) else v
    return cls(**values)


def load_yaml_config(path: str | None, allowed: Iterable[str]) -> dict[str, Any]:
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


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="HDF5 dataset in robomimic layout (data/demo_i/obs/...)")
    parser.add_argument("--out", required=True, help="output bundle folder, e.g. models/vae_push")
    parser.add_argument("--config", default=None, help="YAML file of option: value (CLI options override it)")


def seed_everything(seed: int) -> torch.Generator:
    """Seed numpy and torch; return the torch generator that drives batch sampling."""
    np.random.seed(seed)
    torch.manual_seed(seed)
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
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_image_size(demos: list[np.ndarray], size: int, path: str) -> None:
    h, w = demos[0].shape[1:3]
    if (h, w) != (size, size):
        raise ValueError(f"dataset {path}: images are {h}x{w} but the model expects {size}x{size} "
                         f"(set --image-size {h} if h == w)")


# ---------------------------------------------------------------- checkpoints (safetensors, resumable)
def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {"param_groups": sd["param_groups"], "state": {}}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{idx}.{k}"] = v.detach().clone().contiguous()
            else:
                scalars["state"].setdefault(str(idx), {})[k] = v
    return tensors, scalars


def save_checkpoint(path: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int,
                    gen: torch.Generator) -> None:
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    opt_t, opt_meta = _optimizer_tensors(opt)
    tensors.update(opt_t)
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.batch"] = gen.get_state()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"step": str(step), "optimizer": json.dumps(opt_meta)})
    tmp.replace(path)


def load_checkpoint(path: Path, model: nn.Module, opt: torch.optim.Optimizer | None,
                    gen: torch.Generator | None) -> int:
    """Restore weights, optimizer, RNG; return the step to continue from. No pickle is read."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if opt is not None:
        om = json.loads(meta["optimizer"])
        state: dict[int, dict[str, Any]] = {}
        for k, v in tensors.items():
            if k.startswith("opt."):
                _, idx, name = k.split(".", 2)
                state.setdefault(int(idx), {})[name] = v
        for idx, extra in om["state"].items():
            state.setdefault(int(idx), {}).update(extra)
        opt.load_state_dict({"state": state, "param_groups": om["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    if gen is not None:
        gen.set_state(tensors["rng.batch"])
    return int(meta["step"])


def fit(model: nn.Module, loss_fn: Callable[[torch.Generator], tuple[torch.Tensor, dict[str, float]]],
        steps: int, lr: float, out: Path, gen: torch.Generator, log_every: int = 50,
        ckpt_every: int = 500, desc: str = "train", tag: str = "model") -> dict[str, float]:
    """Adam loop with TensorBoard scalars under ``out/tb``, tqdm bar and a resumable checkpoint
    ``out/ckpt/<tag>.safetensors`` (continues from it when present). Returns the last logged info."""
    from tqdm import tqdm

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ckpt = out / "ckpt" / f"{tag}.safetensors"
    start = 0
    if ckpt.is_file():
        start = load_checkpoint(ckpt, model, opt, gen)
        log.info("resumed %s from %s at step %d", tag, ckpt, start)
    writer = _summary_writer(out / "tb")
    info: dict[str, float] = {}
    model.train()
    t0 = time.time()
    bar = tqdm(range(start, steps), desc=desc, initial=start, total=steps, disable=None, file=sys.stderr)
    for step in bar:
        loss, info = loss_fn(gen)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{tag}: non-finite loss at step {step}: {info}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            for k, v in info.items():
                writer.add_scalar(f"{tag}/{k}", v, step)
            writer.add_scalar(f"{tag}/charts/steps_per_s", (step + 1 - start) / max(time.time() - t0, 1e-6), step)
            bar.set_postfix(loss=f"{info.get('loss/total', float(loss)):.4g}")
        if (step + 1) % ckpt_every == 0 or step == steps - 1:
            save_checkpoint(ckpt, model, opt, step + 1, gen)
    writer.close()
    model.eval()
    return info


class _NullWriter:
    def add_scalar(self, *a: Any, **k: Any) -> None: ...
    def close(self) -> None: ...


def _summary_writer(path: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard missing: keep training, say so
        log.warning("tensorboard not importable; scalars are not written")
        return _NullWriter()
    return SummaryWriter(str(path))


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
def export_onnx(module: nn.Module, example: tuple[torch.Tensor, ...], path: Path, input_names: list[str],
                output_names: list[str], dynamic: dict[str, dict[int, str]] | None = None) -> Path:
    """Export with the TorchScript exporter (no onnxscript dependency), batch axes dynamic."""
    module.eval()
    if dynamic is None:
        dynamic = {n: {0: "batch"} for n in input_names + output_names}
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, str(path), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic, opset_version=17, dynamo=False)
    return path


def onnx_io(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Input/output names, shapes (None = dynamic) and dtypes of an ONNX file, for model.json."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)

    def desc(vi) -> dict[str, Any]:
        t = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        return {"name": vi.name, "shape": shape, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name}

    inits = {i.name for i in m.graph.initializer}
    return {"inputs": [desc(v) for v in m.graph.input if v.name not in inits],
            "outputs": [desc(v) for v in m.graph.output]}


def write_model_json(out: Path, card: dict[str, Any], files: dict[str, str]) -> Path:
    """model.json: the card plus, per role, file name, sha256 and ONNX I/O description."""
    entries = {}
    for role, name in files.items():
        p = out / name
        e: dict[str, Any] = {"path": name, "sha256": file_sha256(p)}
        if name.endswith(".onnx"):
            e.update(onnx_io(p))
        entries[role] = e
    card = dict(card)
    card["files"] = entries
    card.setdefault("command", " ".join(shlex.quote(a) for a in sys.argv))
    card.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S"))
    path = out / MODEL_JSON
    path.write_text(json.dumps(card, indent=2, default=_json_default) + "\n")
    return path


def _json_default(o: Any) -> Any:
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_config(out: Path, **configs: Any) -> None:
    """Resolved configs beside the checkpoints (config.json), so a run can be reproduced."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(configs, indent=2, default=_json_default) + "\n")
