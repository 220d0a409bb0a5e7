"""Bags of a recording session -> one HDF5 dataset in robomimic layout.

Each episode bag is read (rosbags), every configured topic is sampled on a ``rate_hz`` action
clock (nearest-before, bounded staleness; policy in :class:`DatasetConfig` and docs/data.md),
images are decoded and resized, and the demos are written to ``data/demo_<i>``. A bag that cannot
be used (unreadable, a required topic missing, images changing size, a gap in a stream, actions
out of the declared range) raises :class:`DatasetBuildError` naming the bag and topic, or with
``skip_bad`` is left out and listed in the report.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from subgoal.runtime.observations import gripper_width, joint_obs
from subgoal.data.bag_metadata import METADATA_FILE, read_metadata
from subgoal.data.bag_reader import BagReadError, decode_rgb, decode_vector, list_topics, read_series
from subgoal.data.dataset_config import EXTRACTORS, DatasetConfig, ObsSource
from subgoal.data.hdf5 import HASH_ATTR, Demo, dataset_hash, validate_demo
from subgoal.data.session import INDEX_FILE, Session, is_bag_dir

log = logging.getLogger(__name__)


class DatasetBuildError(RuntimeError):
    """A bag cannot become a demo (or no demo could be built); the message names file and topic."""


@dataclass
class BuildReport:
    """What :func:`build_dataset` did."""

    output: Path
    demos: list[tuple[str, str, int]] = field(default_factory=list)  # (demo, source bag, samples)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (bag, reason)
    dropped_keys: list[str] = field(default_factory=list)  # optional keys not in every demo
    sha256: str = ""

    @property
    def total(self) -> int:
        return sum(n for _, _, n in self.demos)


# ---------------------------------------------------------------------------------------- inputs
def find_episode_bags(inputs: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Bag directories to build from, with episode info (task, success) from session.json.

    An input is a session directory (its non-discarded episodes, in order) or one bag directory.
    """
    out: list[tuple[Path, dict[str, Any]]] = []
    for p in map(Path, inputs):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such session or bag directory")
        if is_bag_dir(p):
            out.append((p, {}))
            continue
        if (p / INDEX_FILE).is_file():
            s = Session(p, create=False)
            for rec in s.episodes():
                out.append((s.episode_dir(rec.name), {"task": rec.task, "success": rec.success, "status": rec.status}))
            continue
        bags = sorted(d for d in p.iterdir() if is_bag_dir(d))
        if not bags:
            raise FileNotFoundError(f"{p}: neither a bag directory nor a session with episode bags")
        out += [(b, {}) for b in bags]
    return out


def _resolve_topic(rel: str, namespace: str | None, available: dict[str, str]) -> str | None:
    if rel.startswith("/"):
        return rel if rel in available else None
    if namespace is not None:
        full = f"{namespace.rstrip('/')}/{rel}"
        return full if full in available else None
    hits = [t for t in available if t == f"/{rel}" or t.endswith(f"/{rel}")]
    if len(hits) > 1:
        raise DatasetBuildError(f"topic {rel!r} is ambiguous without a namespace: {sorted(hits)}; set --namespace")
    return hits[0] if hits else None


# ---------------------------------------------------------------------------------------- decoding
def _make_topic_decoder(sources: list[ObsSource], cfg: DatasetConfig) -> Callable[[Any, str], dict[str, np.ndarray]]:
    """One decoder per topic producing every key that topic feeds (e.g. ee_pos and ee_quat)."""
    state: dict[str, Any] = {}
    finger = cfg.finger_joint_substring

    def decode(msg: Any, where: str) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for s in sources:
            kind = s.extract
            if kind == "image":
                raw = (int(msg.height), int(msg.width), str(msg.encoding))
                first = state.setdefault("image_shape", raw)
                if raw != first:
                    raise BagReadError(
                        f"{where}: image size/encoding changed from {first[1]}x{first[0]} {first[2]} "
                        f"to {raw[1]}x{raw[0]} {raw[2]} within the episode"
                    )
                out[s.key] = decode_rgb(msg, cfg.image_size, where)
            elif kind == "vector":
                v = decode_vector(msg, where)
                first = state.setdefault(f"dim:{s.key}", v.shape)
                if v.shape != first:
                    raise BagReadError(f"{where}: vector length changed from {first[0]} to {v.shape[0]}")
                out[s.key] = v
            elif kind == "pose.position":
                p = msg.pose.position
                out[s.key] = np.array([p.x, p.y, p.z], np.float32)
            elif kind == "pose.orientation":  # x, y, z, w like the message (runtime.observations)
                q = msg.pose.orientation
                out[s.key] = np.array([q.x, q.y, q.z, q.w], np.float32)
            elif kind in ("joints.arm", "joints.finger_width"):
                names = list(msg.name)
                ref = state.setdefault("joint_names", names)
                pos = np.asarray(msg.position, np.float64)
                if names != ref:
                    if sorted(names) != sorted(ref):
                        raise BagReadError(f"{where}: joint names changed from {ref} to {names}")
                    pos = pos[[names.index(n) for n in ref]]
                if pos.shape[0] != len(ref):
                    raise BagReadError(f"{where}: {len(ref)} joint names but {pos.shape[0]} positions")
                if kind == "joints.arm":
                    out[s.key] = joint_obs(ref, pos, finger)["joint_pos"]
                else:
                    try:
                        out[s.key] = np.array([gripper_width(ref, pos, finger)], np.float32)
                    except ValueError as exc:
                        raise BagReadError(f"{where}: {exc} for {s.key}") from exc
            elif kind == "float":
                out[s.key] = np.array([msg.data], np.float32)
            elif kind == "bool":
                out[s.key] = np.array([float(bool(msg.data))], np.float32)
        return out

    return decode


def _pose_position(msg: Any, where: str) -> np.ndarray:
    p = msg.pose.position
    return np.array([p.x, p.y, p.z], np.float64)


def _float(msg: Any, where: str) -> float:
    return float(msg.data)


def _bool(msg: Any, where: str) -> float:
    return float(bool(msg.data))


# ---------------------------------------------------------------------------------------- alignment
def nearest_before(times: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """Index of the newest sample at or before each tick (-1: none yet)."""
    return np.searchsorted(times, ticks, side="right") - 1


def _check_types(bag: Path, topic: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise DatasetBuildError(f"{bag}: topic {topic} has type {actual}, expected {expected}")


def episode_to_demo(bag: Path, cfg: DatasetConfig, episode_info: dict[str, Any] | None = None) -> Demo:
    """Turn one bag into a demo (arrays + attrs), or raise DatasetBuildError saying why not."""
    episode_info = dict(episode_info or {})
    try:
        available = list_topics(bag)
    except BagReadError as exc:
        raise DatasetBuildError(str(exc)) from exc
    ns = cfg.namespace

    def need(rel: str, what: str, expected_type: str) -> str:
        full = _resolve_topic(rel, ns, available)
        if full is None:
            shown = f"{ns.rstrip('/')}/{rel}" if ns is not None and not rel.startswith("/") else rel
            raise DatasetBuildError(
                f"{bag}: required topic {shown} ({what}) is missing; the bag has {sorted(available)}"
            )
        _check_types(bag, full, available[full], expected_type)
        return full

    try:
        return _episode_to_demo(bag, cfg, episode_info, available, need)
    except DatasetBuildError as exc:
        if str(bag) in str(exc):
            raise
        raise DatasetBuildError(f"{bag}: {exc}") from exc


def _episode_to_demo(bag: Path, cfg: DatasetConfig, episode_info: dict[str, Any], available: dict[str, str], need) -> Demo:
    ns = cfg.namespace
    act_topic = need(cfg.action_pose_topic, "actions", "geometry_msgs/msg/PoseStamped")
    grip_topic = need(cfg.gripper_command_topic, "gripper action", "std_msgs/msg/Float64")
    succ_topic = _resolve_topic(cfg.success_topic, ns, available) if cfg.success_topic else None
    if succ_topic:
        _check_types(bag, succ_topic, available[succ_topic], "std_msgs/msg/Bool")

    by_topic: dict[str, list[ObsSource]] = {}
    for src in cfg.obs:
        full = need(src.topic, f"obs {src.key}", EXTRACTORS[src.extract]) if src.required else _resolve_topic(src.topic, ns, available)
        if full is None:
            continue
        _check_types(bag, full, available[full], EXTRACTORS[src.extract])
        by_topic.setdefault(full, []).append(src)
    decoders: dict[str, Callable[[Any, str], Any]] = {t: _make_topic_decoder(srcs, cfg) for t, srcs in by_topic.items()}
    for t, fn in ((act_topic, _pose_position), (grip_topic, _float)):
        if t in decoders:
            raise DatasetBuildError(f"{bag}: topic {t} is used both as an action and an observation")
        decoders[t] = fn
    if succ_topic:
        decoders[succ_topic] = _bool
    try:
        series = read_series(bag, decoders)
    except BagReadError as exc:
        raise DatasetBuildError(str(exc)) from exc
    for t in [act_topic, grip_topic] + [t for t, srcs in by_topic.items() if any(s.required for s in srcs)]:
        if t not in series or len(series[t].times) == 0:
            raise DatasetBuildError(f"{bag}: required topic {t} has no messages")
    obs_series = {t: s for t, s in series.items() if t in by_topic and len(s.times) > 0}

    # ---- the action clock
    period = int(round(cfg.period_s * 1e9))
    stale = int(round(cfg.max_staleness_s * 1e9))
    act, grip = series[act_topic], series[grip_topic]
    anchor = int(act.times[0]) + int(round(cfg.tick_phase_s * 1e9))
    start = max(int(grip.times[0]), max(int(s.times[0]) for s in obs_series.values()))
    k0 = max(0, -(-(start - anchor) // period))
    # the last tick: while every observation can still be fresh, and no later than the tick that
    # sees the last command (after it the target only holds: no more demonstration)
    held = {t for t in obs_series if any(src.held for src in by_topic[t])}
    streaming = [s for t, s in obs_series.items() if t not in held] or list(obs_series.values())
    end = min(min(int(s.times[-1]) for s in streaming) + stale, int(act.times[-1]) + int(round(cfg.tick_phase_s * 1e9)))
    if end < anchor + k0 * period:
        raise DatasetBuildError(f"{bag}: the streams do not overlap in time; nothing to align")
    ticks = anchor + period * np.arange(k0, (end - anchor) // period + 1, dtype=np.int64)

    idx: dict[str, np.ndarray] = {}
    ok = np.ones(len(ticks), bool)
    for t, s in obs_series.items():
        i = nearest_before(s.times, ticks)
        age = ticks - np.where(i >= 0, s.times[np.maximum(i, 0)], np.iinfo(np.int64).min // 2)
        fresh = (i >= 0) & ((age <= stale) | (t in held))  # a held (latched) topic never goes stale
        idx[t] = i
        ok &= fresh
    valid = np.flatnonzero(ok)
    if len(valid) == 0:
        raise DatasetBuildError(f"{bag}: no tick has every observation within {cfg.max_staleness_s} s")
    first, last = int(valid[0]), int(valid[-1])
    if len(valid) != last - first + 1:
        gap = int(np.flatnonzero(~ok[first:last + 1])[0]) + first
        culprits = [t for t in obs_series if not (idx[t][gap] >= 0 and (t in held or ticks[gap] - obs_series[t].times[idx[t][gap]] <= stale))]
        raise DatasetBuildError(
            f"{bag}: topic {', '.join(culprits)} has a gap longer than max_staleness_s={cfg.max_staleness_s} "
            f"at t={(ticks[gap] - ticks[0]) / 1e9:.2f} s into the episode"
        )
    ticks = ticks[first:last + 1]
    idx = {t: i[first:last + 1] for t, i in idx.items()}
    m = len(ticks)
    n = m - 1
    if n < cfg.min_samples:
        raise DatasetBuildError(f"{bag}: only {max(n, 0)} aligned transitions at {cfg.rate_hz} Hz (min_samples={cfg.min_samples})")

    # ---- observations on the ticks
    obs_all: dict[str, np.ndarray] = {}
    for t, srcs in by_topic.items():
        if t not in obs_series:
            continue
        vals = obs_series[t].values
        for s in srcs:
            obs_all[s.key] = np.stack([vals[j][s.key] for j in idx[t]])
    # ---- actions: equilibrium position delta to the next tick + gripper command in force then
    ai = nearest_before(act.times, ticks)
    gi = nearest_before(grip.times, ticks)
    eq = np.stack([act.values[j] for j in ai])
    gripper = np.array([grip.values[j] for j in gi], np.float64)
    actions = np.concatenate([eq[1:] - eq[:-1], gripper[1:, None]], axis=1).astype(np.float32)
    # ---- rewards / dones: success state at the next tick (latched, no staleness)
    if succ_topic and succ_topic in series and len(series[succ_topic].times):
        si = nearest_before(series[succ_topic].times, ticks[1:])
        vals = np.asarray(series[succ_topic].values)
        rewards = np.where(si >= 0, vals[np.maximum(si, 0)], 0.0).astype(np.float32)
        success = bool(rewards.any())
    else:
        success = bool(episode_info.get("success"))
        rewards = np.zeros(n, np.float32)
        rewards[-1] = float(success)
    dones = rewards.copy()
    dones[-1] = 1.0

    meta: dict[str, str] = {}
    if (bag / METADATA_FILE).is_file():
        try:
            meta = read_metadata(bag).custom_data
        except ValueError:
            pass
    demo = Demo(
        name="",
        obs={k: v[:-1] for k, v in obs_all.items()},
        next_obs={k: v[1:] for k, v in obs_all.items()},
        actions=actions,
        rewards=rewards,
        dones=dones,
        attrs={
            "num_samples": n,
            "source_bag": str(bag),
            "task": str(episode_info.get("task") or meta.get("task", "")),
            "success": success,
            "start_time_ns": int(ticks[0]),
        },
    )
    problems = validate_demo(demo, np.asarray(cfg.action_low), np.asarray(cfg.action_high))
    if problems:
        raise DatasetBuildError(f"{bag}: " + "; ".join(problems))
    return demo


# ---------------------------------------------------------------------------------------- output
def _write_hdf5(path: Path, demos: list[Demo], cfg: DatasetConfig, env_args: dict[str, Any], sha: str) -> None:
    import h5py

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w") as f:
            data = f.create_group("data")
            for d in demos:
                g = data.create_group(d.name)
                for k, v in d.attrs.items():
                    g.attrs[k] = v
                for group, arrays in (("obs", d.obs), ("next_obs", d.next_obs)):
                    gg = g.create_group(group)
                    for k, v in arrays.items():
                        kw = {"compression": "gzip", "compression_opts": 4} if v.ndim >= 3 else {}
                        gg.create_dataset(k, data=v, **kw)
                g.create_dataset("actions", data=d.actions)
                g.create_dataset("rewards", data=d.rewards)
                g.create_dataset("dones", data=d.dones)
            data.attrs["total"] = sum(d.num_samples for d in demos)
            data.attrs["env_args"] = json.dumps(env_args)
            data.attrs[HASH_ATTR] = sha
            data.attrs["action_low"] = np.asarray(cfg.action_low, np.float32)
            data.attrs["action_high"] = np.asarray(cfg.action_high, np.float32)
            data.attrs["build_config"] = json.dumps(cfg.to_dict())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def build_dataset(
    inputs: list[str | Path],
    output: str | Path,
    config: DatasetConfig | None = None,
    skip_bad: bool = False,
    overwrite: bool = False,
) -> BuildReport:
    """Build ``output`` (HDF5, robomimic layout) from session or bag directories."""
    cfg = config or DatasetConfig()
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass overwrite=True (--force) to replace it")
    report = BuildReport(output=output)
    demos: list[Demo] = []
    tasks: set[str] = set()
    for bag, info in find_episode_bags([Path(p) for p in inputs]):
        try:
            demo = episode_to_demo(bag, cfg, info)
        except DatasetBuildError as exc:
            if not skip_bad:
                raise
            log.warning("skipping %s", exc)
            report.skipped.append((str(bag), str(exc)))
            continue
        demo.name = f"demo_{len(demos)}"
        demos.append(demo)
        if demo.attrs["task"]:
            tasks.add(str(demo.attrs["task"]))
        report.demos.append((demo.name, str(bag), demo.num_samples))
    if not demos:
        why = "; ".join(r for _, r in report.skipped) or "no episodes found"
        raise DatasetBuildError(f"no usable episodes in {[str(p) for p in inputs]}: {why}")
    # optional keys stay only if every demo has them (robomimic needs one key set)
    common = set.intersection(*(set(d.obs) for d in demos))
    report.dropped_keys = sorted(set.union(*(set(d.obs) for d in demos)) - common)
    for k in report.dropped_keys:
        log.warning("obs key %r is not in every demo; leaving it out", k)
    shapes: dict[str, tuple[int, ...]] = {}
    for d in demos:
        d.obs = {k: v for k, v in d.obs.items() if k in common}
        d.next_obs = {k: v for k, v in d.next_obs.items() if k in common}
        for k, v in d.obs.items():
            if shapes.setdefault(k, v.shape[1:]) != v.shape[1:]:
                raise DatasetBuildError(
                    f"{d.attrs['source_bag']}: obs {k} has shape {v.shape[1:]}, other demos {shapes[k]}"
                )
    env_args = {
        "env_name": cfg.env_name or (sorted(tasks)[0] if len(tasks) == 1 else "+".join(sorted(tasks)) or "subgoal"),
        "type": "subgoal_ros2",
        "env_kwargs": {
            "rate_hz": cfg.rate_hz,
            "image_size": cfg.image_size,
            "namespace": cfg.namespace,
            "action_space": "equilibrium position delta (m, 3) + gripper opening command (m, 1)",
            "obs_keys": sorted(common),
            **cfg.extra_env_kwargs,
        },
    }
    report.sha256 = dataset_hash(demos)
    output.parent.mkdir(parents=True, exist_ok=True)
    _write_hdf5(output, demos, cfg, env_args, report.sha256)
    log.info("wrote %s: %d demos, %d samples, sha256 %s", output, len(demos), report.total, report.sha256[:12])
    return report
