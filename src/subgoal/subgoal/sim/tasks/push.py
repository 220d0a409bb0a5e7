"""push: slide a cube to a goal on the table with the closed gripper.

The expert has two solution modes, picked at random per episode: it comes down beside the cube on
its left or on its right and walks around it to the pushing side, so the demos are multimodal
(the case IRIS / goal-conditioned BC must cope with).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from subgoal.sim.tasks.base import Task, add_cube, add_goal_marker, free_qpos_adr, set_free_pose, toward, yaw_quat

if TYPE_CHECKING:  # pragma: no cover
    from subgoal.sim.core import Sim

CUBE = "cube"
HALF = 0.02
PUSH_Z = 0.025  # TCP height while pushing: fingertips just above the table
BEHIND = 0.045  # TCP distance behind the cube centre when starting to push
SIDE = 0.075  # lateral offset of the side waypoints (left / right of the cube)
PUSH_CONTACT = 0.028  # TCP-to-cube-centre distance while the fingers push the cube
PUSH_SPEED = 0.5  # action magnitude while pushing (slower = fewer cube spins)


@dataclass
class PushConfig:
    cube_low: tuple[float, float] = (0.45, -0.12)  # cube xy sampling box (m)
    cube_high: tuple[float, float] = (0.6, 0.12)
    goal_dist: tuple[float, float] = (0.1, 0.18)  # goal distance from the cube (m)
    success_dist: float = 0.03  # cube centre within this xy distance of the goal (m)

    def __post_init__(self) -> None:
        if not 0 < self.goal_dist[0] <= self.goal_dist[1]:
            raise ValueError(f"PushConfig.goal_dist must be 0 < min <= max, got {self.goal_dist}")
        if self.success_dist <= 0:
            raise ValueError(f"PushConfig.success_dist must be > 0, got {self.success_dist}")


class PushTask(Task):
    name = "push"
    Config = PushConfig
    horizon = 100
    initial_gripper = -1.0

    def __init__(self, config: PushConfig | None = None):
        self.config = config or PushConfig()
        self.goal = np.array([0.5, 0.0, HALF])
        self.side = 1.0
        self.phase = 0

    def build(self, spec: mujoco.MjSpec, ee_body: mujoco.MjsBody) -> None:
        add_cube(spec, CUBE, HALF, rgba=(0.85, 0.2, 0.15, 1.0))
        add_goal_marker(spec, size=HALF, shape=mujoco.mjtGeom.mjGEOM_BOX)

    def cube_pos(self, sim: "Sim") -> np.ndarray:
        adr = free_qpos_adr(sim.model, CUBE)
        return sim.data.qpos[adr:adr + 3].copy()

    def reset(self, sim: "Sim", rng: np.random.Generator) -> None:
        c = self.config
        while True:
            cube = rng.uniform(c.cube_low, c.cube_high)
            ang = rng.uniform(-np.pi, np.pi)
            goal = cube + rng.uniform(*c.goal_dist) * np.array([np.cos(ang), np.sin(ang)])
            if 0.4 <= goal[0] <= 0.68 and abs(goal[1]) <= 0.2:
                break
        set_free_pose(sim.model, sim.data, CUBE, [cube[0], cube[1], HALF], yaw_quat(rng.uniform(-0.3, 0.3)))
        self.goal = np.array([goal[0], goal[1], HALF])
        sim.data.mocap_pos[0] = self.goal

    def new_episode_expert(self, rng: np.random.Generator) -> None:
        self.side = float(rng.choice([-1.0, 1.0]))
        self.phase = 0

    def success(self, sim: "Sim") -> bool:
        return bool(np.linalg.norm(self.cube_pos(sim)[:2] - self.goal[:2]) < self.config.success_dist)

    def object_state(self, sim: "Sim") -> np.ndarray:
        adr = free_qpos_adr(sim.model, CUBE)
        return sim.data.qpos[adr:adr + 7].copy()

    def goal_state(self, sim: "Sim") -> np.ndarray:
        return self.goal.copy()

    def reward(self, sim: "Sim") -> float:
        return -float(np.linalg.norm(self.cube_pos(sim)[:2] - self.goal[:2]))

    def expert(self, sim: "Sim", rng: np.random.Generator) -> np.ndarray:
        cube = self.cube_pos(sim)
        ee = sim.ee_pose()[0]
        d = self.goal[:2] - cube[:2]
        dist = np.linalg.norm(d)
        if dist < 0.012:
            return toward(sim, ee, -1.0)  # done: hold still
        u = d / dist
        n = np.array([-u[1], u[0]])
        rel = ee[:2] - cube[:2]
        along, lat = rel @ u, rel @ n
        side_xy = cube[:2] + self.side * SIDE * n
        corner_xy = side_xy - BEHIND * u
        behind_xy = cube[:2] - BEHIND * u
        if self.phase == 3 and (abs(lat) > 0.03 or along > -0.015 or ee[2] > PUSH_Z + 0.02):
            self.phase = 0  # lost the cube (it turned, or a detour moved us): go around again
        if self.phase == 0:  # above the side waypoint
            target = np.array([*side_xy, 0.08])
            if np.linalg.norm(ee[:2] - side_xy) < 0.015:
                self.phase = 1
        if self.phase == 1:  # down beside the cube
            target = np.array([*side_xy, PUSH_Z])
            if abs(ee[2] - PUSH_Z) < 0.008:
                self.phase = 2
        if self.phase == 2:  # around the corner to behind the cube
            target = np.array([*corner_xy, PUSH_Z])
            if np.linalg.norm(ee[:2] - corner_xy) < 0.012:
                self.phase = 4
        if self.phase == 4:
            target = np.array([*behind_xy, PUSH_Z])
            if np.linalg.norm(ee[:2] - behind_xy) < 0.01:
                self.phase = 3
        if self.phase == 3:  # push: TCP toward the point that leaves the cube on the goal
            aim = self.goal[:2] - PUSH_CONTACT * u
            action = toward(sim, np.array([*aim, PUSH_Z]), -1.0)
            speed = np.linalg.norm(action[:3])
            if speed > PUSH_SPEED:
                action[:3] *= PUSH_SPEED / speed
            return action
        return toward(sim, target, -1.0)

    def goal_scene(self, sim: "Sim") -> tuple[np.ndarray, float]:
        set_free_pose(sim.model, sim.data, CUBE, self.goal, (1, 0, 0, 0))
        ee = self.goal.copy()
        ee[0] -= BEHIND  # arm just behind the cube, pushed from the robot side
        ee[2] = PUSH_Z
        return ee, -1.0
