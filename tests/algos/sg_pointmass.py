"""A tiny 2-D point-mass goal-reaching world and a robomimic-layout HDF5 writer for the algorithm tests.

pos ∈ [-0.5, 0.5]², action a ∈ [-1, 1]² moves pos by 0.1·a (clipped to the box); an episode succeeds
when ‖pos − goal‖ ≤ 0.1. The data-collecting expert heads straight for the episode's goal, except that
with probability ``p_random`` it takes a uniformly random action (IRIS-style suboptimality knob).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

STEP, BOX, EPS = 0.1, 0.5, 0.1


def step(pos: np.ndarray, action: np.ndarray) -> np.ndarray:
    return np.clip(pos + STEP * np.clip(action, -1, 1), -BOX, BOX)


def expert(pos: np.ndarray, goal: np.ndarray) -> np.ndarray:
    return np.clip((goal - pos) / STEP, -1, 1)


def episodes(n: int, horizon: int, p_random: float, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        pos, goal = rng.uniform(-BOX, BOX, 2), rng.uniform(-BOX, BOX, 2)
        obs, nxt, act = [], [], []
        for _ in range(horizon):
            a = rng.uniform(-1, 1, 2) if rng.random() < p_random else expert(pos, goal)
            new = step(pos, a)
            obs.append(pos); act.append(a); nxt.append(new)
            pos = new
        out.append({"pos": np.array(obs, np.float32), "next_pos": np.array(nxt, np.float32),
                    "actions": np.array(act, np.float32), "goal": np.tile(goal, (horizon, 1)).astype(np.float32)})
    return out


def write_hdf5(path: str | Path, eps: list[dict[str, np.ndarray]], empty_demos: int = 0) -> Path:
    """robomimic layout: data/demo_i/{obs,next_obs}/{ee_pos,goal_state}, actions, rewards, dones."""
    import h5py

    path = Path(path)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        total = 0
        for i, ep in enumerate(eps):
            g = data.create_group(f"demo_{i}")
            n = len(ep["actions"])
            g.create_dataset("obs/ee_pos", data=ep["pos"])
            g.create_dataset("obs/goal_state", data=ep["goal"])
            g.create_dataset("next_obs/ee_pos", data=ep["next_pos"])
            g.create_dataset("next_obs/goal_state", data=ep["goal"])
            g.create_dataset("actions", data=ep["actions"])
            d = np.linalg.norm(ep["next_pos"] - ep["goal"], axis=1)
            g.create_dataset("rewards", data=-(d > EPS).astype(np.float32))
            g.create_dataset("dones", data=(np.arange(n) == n - 1).astype(np.uint8))
            g.attrs["num_samples"] = n
            total += n
        for j in range(empty_demos):
            g = data.create_group(f"demo_{len(eps) + j}")
            for k in ("obs/ee_pos", "obs/goal_state", "next_obs/ee_pos", "next_obs/goal_state"):
                g.create_dataset(k, shape=(0, 2), dtype=np.float32)
            g.create_dataset("actions", shape=(0, 2), dtype=np.float32)
            g.create_dataset("rewards", shape=(0,), dtype=np.float32)
            g.create_dataset("dones", shape=(0,), dtype=np.uint8)
            g.attrs["num_samples"] = 0
        data.attrs["total"] = total
    return path


def success_rate(policy: Callable[[np.ndarray, np.ndarray], np.ndarray], n: int = 200, horizon: int = 20,
                 seed: int = 123) -> float:
    """Fraction of ``n`` seeded episodes (batched) where the policy gets within EPS of the goal."""
    rng = np.random.default_rng(seed)
    pos, goal = rng.uniform(-BOX, BOX, (n, 2)), rng.uniform(-BOX, BOX, (n, 2))
    done = np.zeros(n, bool)
    for _ in range(horizon):
        pos = np.where(done[:, None], pos, step(pos, policy(pos.astype(np.float32), goal.astype(np.float32))))
        done |= np.linalg.norm(pos - goal, axis=1) <= EPS
    return float(done.mean())
