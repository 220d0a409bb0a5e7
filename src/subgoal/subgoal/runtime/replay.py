"""Open-loop replay of dataset actions in the sim: the check that bag -> dataset alignment is right.

A dataset action is ``(Δ equilibrium position over one 10 Hz tick (m), gripper opening (m))``
(docs/data.md). :meth:`subgoal.sim.Sim.apply_action` takes ``Δ / ACTION_SCALE`` and maps
``[-1, 1]`` to ``[0, max_width]``, so the conversion is exact and the replay from the episode's
seed re-creates the recorded episode as closely as the (asynchronous, real-time) ROS run allows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from subgoal.sim.tasks.base import ACTION_SCALE


@dataclass
class ReplayResult:
    success: bool            # task success after the last action
    ever_success: bool       # success at any tick
    final_ee: np.ndarray
    steps: int


def dataset_to_sim_actions(actions: np.ndarray, max_width: float) -> np.ndarray:
    """(N, 4) metres -> (N, 4) sim action units (may exceed ±1 only if the data does)."""
    a = np.asarray(actions, np.float64)
    if a.ndim != 2 or a.shape[1] != 4:
        raise ValueError(f"actions must be (N, 4) (dx, dy, dz, gripper m), got shape {a.shape}")
    out = np.empty_like(a)
    out[:, :3] = a[:, :3] / ACTION_SCALE
    out[:, 3] = 2.0 * a[:, 3] / max_width - 1.0
    return out


def replay(actions: np.ndarray, task: str, seed: int, robot: str = "panda") -> ReplayResult:
    """Reset a fresh sim to ``seed`` and apply the dataset ``actions`` open loop at 10 Hz."""
    from subgoal.sim import Sim

    with Sim(robot=robot, task=task, seed=seed, camera_width=8, camera_height=8) as sim:
        sim_actions = dataset_to_sim_actions(actions, sim.robot.gripper.max_width)
        ever = False
        for a in sim_actions:
            sim.apply_action(a)
            ever = ever or sim.success()
        return ReplayResult(bool(sim.success()), ever, sim.ee_pose()[0], len(sim_actions))
