"""reach: move the EE to a random goal point above the table."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from subgoal.sim.tasks.base import Task, add_goal_marker, toward

if TYPE_CHECKING:  # pragma: no cover
    from subgoal.sim.core import Sim


@dataclass
class ReachConfig:
    goal_low: tuple[float, float, float] = (0.35, -0.25, 0.05)  # goal sampling box (m)
    goal_high: tuple[float, float, float] = (0.7, 0.25, 0.35)
    success_dist: float = 0.02  # EE within this distance of the goal (m)

    def __post_init__(self) -> None:
        if not np.all(np.asarray(self.goal_low) < np.asarray(self.goal_high)):
            raise ValueError(f"ReachConfig goal_low {self.goal_low} must be < goal_high {self.goal_high}")
        if self.success_dist <= 0:
            raise ValueError(f"ReachConfig.success_dist must be > 0, got {self.success_dist}")


class ReachTask(Task):
    name = "reach"
    Config = ReachConfig
    horizon = 30

    def __init__(self, config: ReachConfig | None = None):
        self.config = config or ReachConfig()
        self.goal = np.array([0.5, 0.0, 0.2])

    def build(self, spec: mujoco.MjSpec, ee_body: mujoco.MjsBody) -> None:
        add_goal_marker(spec, size=0.02)

    def reset(self, sim: "Sim", rng: np.random.Generator) -> None:
        self.goal = rng.uniform(self.config.goal_low, self.config.goal_high)
        sim.data.mocap_pos[0] = self.goal

    def success(self, sim: "Sim") -> bool:
        return bool(np.linalg.norm(sim.ee_pose()[0] - self.goal) < self.config.success_dist)

    def object_state(self, sim: "Sim") -> np.ndarray:
        return np.zeros(0)

    def goal_state(self, sim: "Sim") -> np.ndarray:
        return self.goal.copy()

    def reward(self, sim: "Sim") -> float:
        return -float(np.linalg.norm(sim.ee_pose()[0] - self.goal))

    def expert(self, sim: "Sim", rng: np.random.Generator) -> np.ndarray:
        return toward(sim, self.goal, gripper=1.0)

    def goal_scene(self, sim: "Sim") -> tuple[np.ndarray, float]:
        return self.goal.copy(), 1.0
