"""Load robomimic-layout HDF5 datasets into numpy for the trainers, with validation.

Layout (robomimic): ``data/demo_<i>/{obs/<key>, next_obs/<key>, actions, rewards, dones}``,
``demo_<i>.attrs['num_samples']``, ``data.attrs['total']`` and ``data.attrs['env_args']`` (JSON).
Our builder adds ``data.attrs['dataset_sha256']`` (see :func:`dataset_hash`; model bundles
record it) and the declared action range ``action_low`` / ``action_high``.

Datasets made elsewhere (robomimic's own ``low_dim``/``image`` files: ``agentview_image``,
``robot0_eef_pos`` ...) load through a key mapping, e.g. :data:`ROBOMIMIC_KEY_MAP`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)

HASH_ATTR = "dataset_sha256"

# robomimic / robosuite observation names -> ours
ROBOMIMIC_KEY_MAP: dict[str, str] = {
    "agentview_image": "image",
    "robot0_eef_pos": "ee_pos",
    "robot0_eef_quat": "ee_quat",
    "robot0_joint_pos": "joint_pos",
    "robot0_gripper_qpos": "gripper_qpos",
    "object": "object_state",
}


class DatasetError(ValueError):
    """A dataset file or one of its demos is unusable; the message names file, demo and problem."""


@dataclass
class Demo:
    """One demonstration as numpy arrays (N transitions)."""

    name: str
    obs: dict[str, np.ndarray]
    next_obs: dict[str, np.ndarray]
    actions: np.ndarray  # (N, A) float32
    rewards: np.ndarray  # (N,) float32
    dones: np.ndarray  # (N,) float32
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def num_samples(self) -> int:
        return int(self.actions.shape[0])


@dataclass
class Dataset:
    """A loaded dataset plus what was skipped and why."""

    path: Path
    demos: list[Demo]
    env_args: dict[str, Any]
    sha256: str | None  # None for datasets made elsewhere
    action_low: np.ndarray | None
    action_high: np.ndarray | None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (demo, reason)

    @property
    def total(self) -> int:
        return sum(d.num_samples for d in self.demos)

    @property
    def obs_keys(self) -> list[str]:
        return sorted(self.demos[0].obs) if self.demos else []


def demo_sort_key(name: str) -> tuple[int, str]:
    """demo_2 before demo_10 (robomimic names are not zero-padded)."""
    m = re.search(r"(\d+)$", name)
    return (int(m.group(1)) if m else -1, name)


def _update_array(h: "hashlib._Hash", name: str, arr: np.ndarray) -> None:
    arr = np.ascontiguousarray(arr)
    h.update(f"{name}|{arr.dtype.str}|{arr.shape}\n".encode())
    h.update(arr.tobytes())


def dataset_hash(demos: Iterable[Demo]) -> str:
    """sha256 over every array of every demo, in demo order and sorted key order.

    Names, dtypes and shapes are hashed with the bytes, so a reshaped or retyped array changes it.
    """
    h = hashlib.sha256()
    for d in demos:
        h.update(f"demo:{d.name}\n".encode())
        for group, arrays in (("obs", d.obs), ("next_obs", d.next_obs)):
            for k in sorted(arrays):
                _update_array(h, f"{group}/{k}", arrays[k])
        _update_array(h, "actions", d.actions)
        _update_array(h, "rewards", d.rewards)
        _update_array(h, "dones", d.dones)
    return h.hexdigest()


def validate_demo(
    demo: Demo, action_low: np.ndarray | None = None, action_high: np.ndarray | None = None, tol: float = 1e-6
) -> list[str]:
    """Problems of one demo (empty list: fine)."""
    problems: list[str] = []
    n = demo.num_samples
    if n == 0:
        return ["zero-length episode (no transitions)"]
    for what, arr in (("rewards", demo.rewards), ("dones", demo.dones)):
        if arr.shape[0] != n:
            problems.append(f"{what} has {arr.shape[0]} rows, actions have {n}")
        elif not np.all(np.isfinite(arr)):
            problems.append(f"{what} contains NaN/inf at rows {np.flatnonzero(~np.isfinite(arr))[:5].tolist()}")
    for group, arrays in (("obs", demo.obs), ("next_obs", demo.next_obs)):
        for k, arr in arrays.items():
            if arr.shape[0] != n:
                problems.append(f"{group}/{k} has {arr.shape[0]} rows, actions have {n}")
            elif arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                problems.append(f"{group}/{k} contains NaN/inf")
    if not np.all(np.isfinite(demo.actions)):
        problems.append("actions contain NaN/inf")
    elif action_low is not None and action_high is not None:
        low = demo.actions < np.asarray(action_low) - tol
        high = demo.actions > np.asarray(action_high) + tol
        if low.any() or high.any():
            rows, cols = np.nonzero(low | high)
            problems.append(
                f"actions outside the declared range [{np.asarray(action_low).tolist()}, "
                f"{np.asarray(action_high).tolist()}]: e.g. row {rows[0]} dim {cols[0]} = {demo.actions[rows[0], cols[0]]:.4g}"
            )
    return problems


def _as_2d(a: np.ndarray) -> np.ndarray:
    return a[:, None] if a.ndim == 1 else a.reshape(a.shape[0], int(np.prod(a.shape[1:])))


def _read_group(g: Any, key_map: Mapping[str, str], keys: Sequence[str] | None) -> dict[str, np.ndarray]:
    out = {}
    for name in g:
        ours = key_map.get(name, name)
        if keys is None or ours in keys:
            out[ours] = np.asarray(g[name][()])
    return out


def load_dataset(
    path: str | Path,
    obs_keys: Sequence[str] | None = None,
    key_map: Mapping[str, str] | None = None,
    demos: Sequence[str] | None = None,
    on_bad: str = "error",
    verify_hash: bool = True,
    action_low: Sequence[float] | None = None,
    action_high: Sequence[float] | None = None,
) -> Dataset:
    """Load (some) demos of a robomimic-layout HDF5 file into numpy.

    ``obs_keys``: keys to load (after mapping; default all). ``key_map``: file key -> our key
    (e.g. :data:`ROBOMIMIC_KEY_MAP`). ``on_bad``: ``'error'`` raises :class:`DatasetError` on the
    first bad demo, ``'skip'`` drops it and lists it in ``Dataset.skipped``. The action range is the
    file's declared one unless given. The stored hash is checked when all demos are loaded intact.
    """
    import h5py

    if on_bad not in ("error", "skip"):
        raise ValueError(f"load_dataset(on_bad={on_bad!r}): expected 'error' or 'skip'")
    path = Path(path)
    key_map = dict(key_map or {})
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot open as HDF5 ({exc})") from exc
    with f:
        if "data" not in f:
            raise DatasetError(f"{path}: no 'data' group; not a robomimic-layout dataset")
        data = f["data"]
        try:
            env_args = json.loads(data.attrs.get("env_args", "{}"))
        except ValueError as exc:
            raise DatasetError(f"{path}: data.attrs['env_args'] is not JSON ({exc})") from exc
        stored_hash = data.attrs.get(HASH_ATTR)
        low = np.asarray(action_low if action_low is not None else data.attrs.get("action_low", []), np.float32)
        high = np.asarray(action_high if action_high is not None else data.attrs.get("action_high", []), np.float32)
        low_, high_ = (low, high) if low.size and high.size else (None, None)
        names = sorted((k for k in data if k.startswith("demo")), key=demo_sort_key)
        if demos is not None:
            missing = sorted(set(demos) - set(names))
            if missing:
                raise DatasetError(f"{path}: no demos {missing}")
            names = [n for n in names if n in set(demos)]
        loaded: list[Demo] = []
        skipped: list[tuple[str, str]] = []
        for name in names:
            g = data[name]
            try:
                obs = _read_group(g["obs"], key_map, obs_keys)
                if "next_obs" in g:
                    next_obs = _read_group(g["next_obs"], key_map, obs_keys)
                else:  # some robomimic files omit next_obs: shift obs, repeat the last
                    next_obs = {k: np.concatenate([v[1:], v[-1:]]) for k, v in obs.items()}
                n = int(g["actions"].shape[0])
                demo = Demo(
                    name=name,
                    obs=obs,
                    next_obs=next_obs,
                    actions=_as_2d(np.asarray(g["actions"][()], np.float32)),
                    rewards=np.asarray(g["rewards"][()], np.float32) if "rewards" in g else np.zeros(n, np.float32),
                    dones=np.asarray(g["dones"][()], np.float32) if "dones" in g else np.zeros(n, np.float32),
                    attrs={k: (v.item() if hasattr(v, "item") else v) for k, v in g.attrs.items()},
                )
            except KeyError as exc:
                problems = [f"missing {exc}"]
            else:
                problems = validate_demo(demo, low_, high_)
                if obs_keys is not None:
                    absent = sorted(set(obs_keys) - set(obs))
                    if absent:
                        problems.append(f"obs keys {absent} absent (has {sorted(obs)}; key_map {key_map or 'none'})")
                attr_n = g.attrs.get("num_samples")
                if attr_n is not None and int(attr_n) != n and n > 0:
                    problems.append(f"attrs num_samples={int(attr_n)} but actions have {n} rows")
            if problems:
                msg = f"{path} {name}: " + "; ".join(problems)
                if on_bad == "error":
                    raise DatasetError(msg)
                log.warning("skipping %s", msg)
                skipped.append((name, "; ".join(problems)))
                continue
            loaded.append(demo)
    sha = str(stored_hash) if stored_hash is not None else None
    if verify_hash and sha and not skipped and demos is None and obs_keys is None and not key_map:
        actual = dataset_hash(loaded)
        if actual != sha:
            raise DatasetError(f"{path}: content hash {actual[:12]}… does not match the stored {sha[:12]}… (file modified?)")
    return Dataset(path, loaded, env_args, sha, low_, high_, skipped)
