"""pick_place: grasp a cube and bring it to a goal point in the air (Fetch PickAndPlace style)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from subgoal.sim.tasks.base import Task, add_cube, add_goal_marker, free_qpos_adr, set_free_pose, yaw_quat
from subgoal.sim.tasks.grasping import carry_action, holding, pick_action

if TYPE_CHECKING:  # pragma: no cover
    from subgoal.sim.core import Sim

CUBE = "cube"
HALF = 0.02


@dataclass
class PickPlaceConfig:
    cube_low: tuple[float, float] = (0.45, -0.15)
    cube_high: tuple[float, float] = (0.62, 0.15)
    goal_low: tuple[float, float, float] = (0.42, -0.2, 0.08)  # goal point box (m), above the table
    goal_high: tuple[float, float, float] = (0.65, 0.2, 0.2)
    success_dist: float = 0.03  # cube centre within this 3D distance of the goal (m)

    def __post_init__(self) -> None:
        if self.success_dist <= 0:
            raise ValueError(f"PickPlaceConfig.success_dist must be > 0, got {self.success_dist}")
        if not np.all(np.asarray(self.goal_low) < np.asarray(self.goal_high)):
            raise ValueError(f"PickPlaceConfig goal_low {self.goal_low} must be < goal_high {self.goal_high}")


class PickPlaceTask(Task):
    name = "pick_place"
    Config = PickPlaceConfig
    horizon = 80

    def __init__(self, config: PickPlaceConfig | None = None):
        self.config = config or PickPlaceConfig()
        self.goal = np.array([0.5, 0.0, 0.15])

    def build(self, spec: mujoco.MjSpec, ee_body: mujoco.MjsBody) -> None:
        add_cube(spec, CUBE, HALF, rgba=(0.2, 0.35, 0.9, 1.0))
        add_goal_marker(spec, size=HALF, shape=mujoco.mjtGeom.mjGEOM_BOX)

    def cube_pos(self, sim: "Sim") -> np.ndarray:
        adr = free_qpos_adr(sim.model, CUBE)
        return sim.data.qpos[adr:adr + 3].copy()

    def reset(self, sim: "Sim", rng: np.random.Generator) -> None:
        c = self.config
        cube = rng.uniform(c.cube_low, c.cube_high)
        while True:
            goal = rng.uniform(c.goal_low, c.goal_high)
            if np.linalg.norm(goal[:2] - cube) > 0.08:
                break
        set_free_pose(sim.model, sim.data, CUBE, [cube[0], cube[1], HALF], yaw_quat(rng.uniform(-0.3, 0.3)))
        self.goal = goal
        sim.data.mocap_pos[0] = goal

    def success(self, sim: "Sim") -> bool:
        return bool(np.linalg.norm(self.cube_pos(sim) - self.goal) < self.config.success_dist)

    def object_state(self, sim: "Sim") -> np.ndarray:
        adr = free_qpos_adr(sim.model, CUBE)
        return sim.data.qpos[adr:adr + 7].copy()

    def goal_state(self, sim: "Sim") -> np.ndarray:
        return self.goal.copy()

    def reward(self, sim: "Sim") -> float:
        return -float(np.linalg.norm(self.cube_pos(sim) - self.goal))

    def expert(self, sim: "Sim", rng: np.random.Generator) -> np.ndarray:
        cube = self.cube_pos(sim)
        if holding(sim, cube, HALF):
            return carry_action(sim, self.goal)
        return pick_action(sim, cube, HALF)

    def goal_scene(self, sim: "Sim") -> tuple[np.ndarray, float]:
        set_free_pose(sim.model, sim.data, CUBE, self.goal, (1, 0, 0, 0))
        return self.goal.copy(), 2 * HALF / sim.robot.gripper.max_width * 2 - 1
