"""Core of the eval runner: what one evaluation episode records, and where it goes on disk.

The runner node drives ``subgoal eval``: reset the sim, forward the episode's goal (``task/goal_state``
→ ``goal/state``, ``task/goal_image`` → ``goal/image``) to the stack under test, and judge success
from ``task/success`` with :class:`subgoal.runtime.episode_runner.EpisodeJudge` — *ever* reached
counts, as in the direct sim evaluation (``subgoal.train.sim_eval``), so both numbers compare.
Latency per stage = receipt time − header stamp; the stack keeps the camera/state stamp end to end.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class EvalConfig:
    episodes: int = 10                  #: evaluation episodes
    max_episode_s: float = 5.0          #: episode time limit (task horizon × 0.1 s)
    success_hold_s: float = 0.3         #: stop early once success held this long
    settle_s: float = 0.1               #: after the goal is sent, before task/success counts (old samples in flight)
    out_dir: str = "reports/eval"       #: episodes.jsonl, latency.npz, frames_<i>.npz
    video_episodes: int = 3             #: episodes whose camera / subgoal frames are saved
    service_timeout_s: float = 30.0
    lifecycle_nodes: str = ""           #: comma-separated nodes to deactivate around each reset (the
                                        #: stack stops acting while the arm is moved home, then starts fresh)

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"EvalConfig.episodes must be >= 1, got {self.episodes!r}")
        if not self.max_episode_s > 0:
            raise ValueError(f"EvalConfig.max_episode_s must be > 0, got {self.max_episode_s!r}")


@dataclass
class EvalRecorder:
    """Collects per-episode results, latencies and frames; writes them as it goes (a Ctrl-C keeps
    every finished episode)."""

    out: Path
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: {"policy_target": [], "equilibrium_pose": []})

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "episodes.jsonl").write_text("")

    def latency(self, stage: str, ms: float) -> None:
        self.latency_ms.setdefault(stage, []).append(float(ms))

    def episode(self, index: int, seed: int, success: bool, time_to_success_s: float | None, duration_s: float,
                camera: list[np.ndarray], subgoal: list[np.ndarray], trace: "Trace | None" = None) -> None:
        # frames and trace first, each renamed into place when complete; the episode line last: a Ctrl-C
        # at any moment leaves only whole files behind, and every listed episode has its files
        if camera:
            arrays = {"camera": np.stack(camera)}
            if subgoal:
                arrays["subgoal"] = np.stack(subgoal)
            _atomic(self.out / f"frames_{index}.npz", lambda f: np.savez_compressed(f, **arrays))
        if trace is not None:
            _atomic(self.out / f"trace_{index}.npz", trace.save)
        with open(self.out / "episodes.jsonl", "a") as f:
            f.write(json.dumps({"episode": index, "seed": seed, "success": bool(success),
                                "time_to_success_s": time_to_success_s, "duration_s": duration_s}) + "\n")
        self.flush()

    def progress(self, **values: float) -> None:
        """Live numbers for the CLI's progress line (``progress.json``, rewritten atomically)."""
        tmp = self.out / "progress.json.tmp"
        tmp.write_text(json.dumps(values))
        tmp.replace(self.out / "progress.json")

    def flush(self) -> None:
        arrays = {k: np.asarray(v, np.float32) for k, v in self.latency_ms.items()}
        _atomic(self.out / "latency.npz", lambda f: np.savez(f, **arrays))


def _atomic(path: Path, write) -> None:
    """``write(file)`` into ``path`` + ".part", then rename: readers never see half a file."""
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        write(f)
    tmp.replace(path)


@dataclass
class Trace:
    """Per-episode time series for the report's EE trace: the actual end-effector position
    (``ee_pose``), the commanded equilibrium (``equilibrium_pose``, what the arm is told), the policy's
    target (``policy/target_pose``, before the controller's safety limits), the subgoals the planner
    proposed (``subgoal/latent``) and the final goal vector. Times are seconds since the episode started
    (receipt time), so a person sees lag between target and arm as it was on the wire."""

    t0: float
    series: dict[str, tuple[list[float], list[np.ndarray]]] = field(default_factory=dict)
    goal: np.ndarray | None = None

    def add(self, name: str, t: float, value: np.ndarray) -> None:
        ts, vs = self.series.setdefault(name, ([], []))
        ts.append(t - self.t0)
        vs.append(np.asarray(value, np.float32).reshape(-1))

    def save(self, path) -> None:
        arrays: dict[str, np.ndarray] = {}
        for name, (ts, vs) in self.series.items():
            if ts and len({v.size for v in vs}) == 1:
                arrays[f"t_{name}"] = np.asarray(ts, np.float32)
                arrays[name] = np.stack(vs)
        if self.goal is not None:
            arrays["goal"] = np.asarray(self.goal, np.float32).reshape(-1)
        np.savez_compressed(path, **arrays)
