"""Shared training utilities: one implementation each, used by every ``subgoal train NAME`` module.

What lives here (and nowhere else):

* ``seed_everything`` — python / numpy / torch seeding with deterministic kernels, returns a numpy Generator.
* ``add_dataclass_arguments`` / ``dataclass_from_args`` — a typed config dataclass *is* the CLI: each field
  becomes ``--field-name`` and the string literal written under the field (CleanRL/tyro style) is its
  ``--help`` text. Configs validate themselves in ``__post_init__`` with ``require(...)``, which quotes
  the bad value.
* ``save_checkpoint`` / ``load_checkpoint`` — model + optimizer + RNG + step counters, tensors in
  safetensors and everything else in JSON: no pickle is ever written or read, and a resumed run
  continues bit-for-bit (tested).
* ``save_config`` — the resolved config as JSON/YAML beside every checkpoint and bundle.
* ``MetricLogger`` — TensorBoard scalars with enforced prefixes (``losses/``, ``charts/``, ``eval/``)
  plus a ``metrics.jsonl`` copy that scripts and tests can read without TensorBoard.
* ``progress`` — the tqdm bar; ``soft_update`` — Polyak averaging of target networks.

Usage (a trainer module)::

    @dataclass
    class RunConfig:
        steps: int = 1000
        \"\"\"gradient steps\"\"\"
        def __post_init__(self):
            require(self.steps > 0, "steps", self.steps, "must be > 0")

    add_dataclass_arguments(parser, RunConfig)           # in add_arguments(parser)
    cfg = dataclass_from_args(RunConfig, args)           # in run(args); raises ConfigError
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import logging
import os
import random
import shutil
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, TypeVar

import numpy as np

log = logging.getLogger(__name__)

METRIC_PREFIXES = ("losses/", "charts/", "eval/")
CHECKPOINT_DIRNAME = "checkpoint"
_TENSORS = "tensors.safetensors"
_STATE = "state.json"
T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is invalid; the message names the field and quotes the bad value."""


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or does not fit the modules it is loaded into."""


def require(ok: bool, name: str, value: Any, why: str) -> None:
    """Raise ``ConfigError("<name>=<value!r>: <why>")`` unless ``ok`` (for ``__post_init__`` checks)."""
    if not ok:
        raise ConfigError(f"{name}={value!r}: {why}")


# --------------------------------------------------------------------------------------------- seeding
def seed_everything(seed: int, deterministic: bool = True) -> np.random.Generator:
    """Seed python, numpy and torch; with ``deterministic`` also ask torch for deterministic kernels.

    Returns a fresh ``np.random.Generator`` for the caller's own sampling (batch indices, relabeling):
    passing a Generator around beats relying on numpy's global state, which libraries may touch.
    """
    import torch

    require(isinstance(seed, (int, np.integer)) and seed >= 0, "seed", seed, "must be an int >= 0")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # warn_only: a few CPU ops have no deterministic variant; the run still proceeds, with a warning.
        torch.use_deterministic_algorithms(True, warn_only=True)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------- dataclass -> argparse
def field_docs(cls: type) -> dict[str, str]:
    """Per-field docs of a dataclass: the string literal written right under each field.

    Falls back to ``field(metadata={"help": ...})``. Inherited fields keep their base-class docs.
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in zip(body, body[1:] + [None]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    for f in dataclasses.fields(cls):
        if "help" in f.metadata:
            docs[f.name] = str(f.metadata["help"])
    return docs


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else tp), True
    return tp, False


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, title: str | None = None) -> None:
    """Add one ``--field-name`` option per field of dataclass ``cls`` (help text from ``field_docs``).

    Supported field types: int, float, str, bool (``--x/--no-x``), Path, Literal[...] (choices),
    tuple[int|float|str, ...] (``nargs='+'``) and Optional of those. Defaults are left to the
    dataclass (argparse default ``SUPPRESS``) so the dataclass stays the single source of truth.
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    group = parser.add_argument_group(title or cls.__name__, (cls.__doc__ or "").strip().split("\n")[0])
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        tp, optional = _unwrap_optional(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # type: ignore[misc]
        flag = "--" + f.name.replace("_", "-")
        helptext = docs.get(f.name, "")
        shown = str(default) if isinstance(default, Path) else repr(default)
        helptext = f"{helptext} (default: {shown})" if helptext else f"(default: {shown})"
        kw: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": helptext.replace("%", "%%")}
        origin = typing.get_origin(tp)
        if tp is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif origin is Literal:
            choices = typing.get_args(tp)
            kw.update(type=type(choices[0]), choices=choices)
        elif origin in (tuple, list):
            inner = [a for a in typing.get_args(tp) if a is not Ellipsis]
            kw.update(type=inner[0] if inner else str, nargs="+")
        elif tp in (int, float, str, Path):
            kw["type"] = tp
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported field type {tp!r} for the CLI")
        if optional and kw.get("type") is not None and "nargs" not in kw:
            base = kw["type"]
            kw["type"] = lambda s, _b=base: None if s.lower() in ("none", "null") else _b(s)
        group.add_argument(flag, **kw)


def dataclass_from_args(cls: type[T], args: argparse.Namespace | Mapping[str, Any], **overrides: Any) -> T:
    """Build ``cls`` from the parsed options that name its fields (others are ignored).

    Tuples given as lists are converted back to tuples; ``__post_init__`` validation runs as usual and
    raises ``ConfigError`` quoting the bad value.
    """
    values = dict(vars(args) if isinstance(args, argparse.Namespace) else args)
    values.update(overrides)
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.init and f.name in values:
            v = values[f.name]
            tp, _ = _unwrap_optional(hints[f.name])
            if typing.get_origin(tp) is tuple and isinstance(v, list):
                v = tuple(v)
            if tp is Path and isinstance(v, str):
                v = Path(v)
            kwargs[f.name] = v
    return cls(**kwargs)


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass (possibly nested, with Paths/tuples) as plain JSON-able values."""
    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Mapping):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, np.generic):
            return v.item()
        return v
    return plain(config)


def save_config(config: Any, path: str | Path) -> Path:
    """Write the resolved config to ``path`` (``.json`` or ``.yaml``/``.yml`` by suffix)."""
    path = Path(path)
    data = config_to_dict(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".yaml", ".yml"):
        import yaml
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    else:
        path.write_text(json.dumps(data, indent=2) + "\n")
    return path


# --------------------------------------------------------------------------------------- checkpoints
def _flatten_optimizer(prefix: str, sd: dict[str, Any], tensors: dict[str, Any]) -> dict[str, Any]:
    """Split an optimizer state_dict into tensors (into ``tensors``) and a JSON-able remainder."""
    import torch

    state_json: dict[str, dict[str, Any]] = {}
    for pid, pstate in sd["state"].items():
        entry: dict[str, Any] = {}
        for k, v in pstate.items():
            if isinstance(v, torch.Tensor):
                key = f"{prefix}/state/{pid}/{k}"
                tensors[key] = v
                entry[k] = {"__tensor__": key}
            else:
                entry[k] = v
        state_json[str(pid)] = entry
    return {"state": state_json, "param_groups": sd["param_groups"]}


def _unflatten_optimizer(js: dict[str, Any], tensors: Mapping[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for pid, entry in js["state"].items():
        state[int(pid)] = {k: (tensors[v["__tensor__"]] if isinstance(v, dict) and "__tensor__" in v else v)
                           for k, v in entry.items()}
    return {"state": state, "param_groups": js["param_groups"]}


def save_checkpoint(directory: str | Path, *, modules: Mapping[str, Any], optimizers: Mapping[str, Any] = {},
                    counters: Mapping[str, Any] | None = None, np_rng: np.random.Generator | None = None,
                    config: Any = None, extra_tensors: Mapping[str, Any] | None = None) -> Path:
    """Write ``directory/checkpoint/`` atomically: tensors in safetensors, the rest in ``state.json``.

    ``modules`` and ``optimizers`` are anything with ``state_dict()`` (nn.Module, Optimizer); counters
    are the step counters etc. (JSON-able); the numpy Generator and torch's CPU RNG are saved so that a
    resumed run draws the same batches. ``config`` (a dataclass) is saved as ``config.json`` beside it.
    """
    import torch
    from safetensors.torch import save_file

    directory = Path(directory)
    final = directory / CHECKPOINT_DIRNAME
    tmp = directory / (CHECKPOINT_DIRNAME + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, mod in modules.items():
        for k, v in mod.state_dict().items():
            tensors[f"model/{name}/{k}"] = v
    optim_js = {name: _flatten_optimizer(f"optim/{name}", opt.state_dict(), tensors)
                for name, opt in optimizers.items()}
    tensors["rng/torch"] = torch.get_rng_state()
    for k, v in (extra_tensors or {}).items():
        tensors[f"extra/{k}"] = v
    # safetensors refuses shared storage / non-contiguous views: store independent contiguous copies.
    save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, str(tmp / _TENSORS))
    state = {
        "format": "subgoal-checkpoint/1",
        "modules": sorted(modules),
        "optimizers": optim_js,
        "counters": dict(counters or {}),
        "np_rng": np_rng.bit_generator.state if np_rng is not None else None,
    }
    (tmp / _STATE).write_text(json.dumps(state, default=_json_default))
    if config is not None:
        save_config(config, tmp / "config.json")
    old = directory / (CHECKPOINT_DIRNAME + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, (tuple, set)):
        return list(v)
    raise TypeError(f"not JSON-serialisable in a checkpoint: {type(v).__name__}")


def checkpoint_exists(directory: str | Path) -> bool:
    d = Path(directory) / CHECKPOINT_DIRNAME
    return (d / _TENSORS).is_file() and (d / _STATE).is_file()


def load_checkpoint(directory: str | Path, *, modules: Mapping[str, Any], optimizers: Mapping[str, Any] = {},
                    np_rng: np.random.Generator | None = None, restore_rng: bool = True) -> dict[str, Any]:
    """Load what ``save_checkpoint`` wrote into the given modules/optimizers (in place).

    Returns ``{"counters": ..., "extra": {name: tensor}}``. Raises ``CheckpointError`` naming what is
    missing or mismatched (module names, parameter keys or shapes) instead of a bare KeyError.
    """
    import torch
    from safetensors.torch import load_file

    d = Path(directory) / CHECKPOINT_DIRNAME
    if not checkpoint_exists(directory):
        raise CheckpointError(f"no checkpoint in {d} (expected {_TENSORS} and {_STATE})")
    tensors = load_file(str(d / _TENSORS))
    state = json.loads((d / _STATE).read_text())
    if state.get("format") != "subgoal-checkpoint/1":
        raise CheckpointError(f"{d}: unknown checkpoint format {state.get('format')!r}")
    missing = sorted(set(modules) - set(state["modules"]))
    if missing:
        raise CheckpointError(f"{d}: checkpoint has no module(s) {missing}; it holds {state['modules']}")
    for name, mod in modules.items():
        prefix = f"model/{name}/"
        sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            mod.load_state_dict(sd)
        except RuntimeError as exc:
            raise CheckpointError(f"{d}: module {name!r} does not fit the checkpoint: {exc}") from exc
    for name, opt in optimizers.items():
        if name not in state["optimizers"]:
            raise CheckpointError(f"{d}: checkpoint has no optimizer {name!r}; it holds {sorted(state['optimizers'])}")
        try:
            opt.load_state_dict(_unflatten_optimizer(state["optimizers"][name], tensors))
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"{d}: optimizer {name!r} does not fit the checkpoint: {exc}") from exc
    if restore_rng:
        torch.set_rng_state(tensors["rng/torch"])
        if np_rng is not None and state.get("np_rng") is not None:
            np_rng.bit_generator.state = state["np_rng"]
    extra = {k[len("extra/"):]: v for k, v in tensors.items() if k.startswith("extra/")}
    return {"counters": state["counters"], "extra": extra}


# ------------------------------------------------------------------------------------------- logging
class MetricLogger:
    """TensorBoard scalars (``torch.utils.tensorboard``) + a ``metrics.jsonl`` copy, prefixes enforced.

    Every name must start with one of ``METRIC_PREFIXES`` so runs from different trainers line up in
    TensorBoard; a wrong name is a programming error and raises immediately.
    """

    def __init__(self, log_dir: str | Path | None, tensorboard: bool = True) -> None:
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self._writer = None
        self._jsonl = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._jsonl = open(self.log_dir / "metrics.jsonl", "a", encoding="utf-8")
            if tensorboard:
                from torch.utils.tensorboard import SummaryWriter
                self._writer = SummaryWriter(str(self.log_dir))

    def scalars(self, metrics: Mapping[str, float], step: int) -> None:
        bad = [k for k in metrics if not k.startswith(METRIC_PREFIXES)]
        if bad:
            raise ValueError(f"metric names {bad} lack a prefix; use one of {METRIC_PREFIXES}")
        values = {k: float(v) for k, v in metrics.items()}
        if self._writer is not None:
            for k, v in values.items():
                self._writer.add_scalar(k, v, step)
        if self._jsonl is not None:
            self._jsonl.write(json.dumps({"step": int(step), **values}) + "\n")
            self._jsonl.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None

    def __enter__(self) -> "MetricLogger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_metrics(log_dir: str | Path) -> list[dict[str, float]]:
    """The rows a ``MetricLogger`` wrote to ``log_dir/metrics.jsonl``."""
    path = Path(log_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def progress(total: int, initial: int = 0, desc: str = "", disable: bool | None = None):
    """The tqdm bar every trainer uses (``disable=None``: off when stderr is not a terminal)."""
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, desc=desc, disable=disable, dynamic_ncols=True,
                smoothing=0.05, unit="step")


# ------------------------------------------------------------------------------------- target nets
def soft_update(target: Any, source: Any, tau: float) -> None:
    """Polyak averaging ``target <- (1 - tau) * target + tau * source`` over parameters (and buffers).

    One fused ``torch._foreach_lerp_`` call over all tensors instead of a Python loop per tensor.
    """
    import torch

    require(0.0 <= tau <= 1.0, "tau", tau, "must be in [0, 1]")
    with torch.no_grad():
        tp = [p for p in target.parameters()]
        sp = [p for p in source.parameters()]
        if len(tp) != len(sp):
            raise ValueError(f"soft_update: target has {len(tp)} parameters, source {len(sp)}")
        torch._foreach_lerp_(tp, sp, tau)
        for tb, sb in zip(target.buffers(), source.buffers()):
            tb.copy_(sb)


def run_name(algo: str, dataset: str | Path, seed: int) -> str:
    """CleanRL-style run name ``<dataset>__<algo>__<seed>__<unix time>`` for log folders."""
    import time
    return f"{Path(dataset).stem}__{algo}__{seed}__{int(time.time())}"


def iter_chunks(n: int, size: int) -> Iterable[tuple[int, int]]:
    """``(start, stop)`` pairs covering ``range(n)`` in chunks of ``size`` (evaluation over a dataset)."""
    for start in range(0, n, size):
        yield start, min(n, start + size)
