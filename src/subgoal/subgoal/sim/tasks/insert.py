"""insert: put a square peg held in the gripper into a hole with ~1 mm clearance per side.

The residual-RL benchmark (seed 001, ch. 5-6). Two knobs make the hand-designed expert (a P
controller on the believed hole position) imperfect, as in the thesis:
- ``tilt``: at each reset the hole fixture is rotated about the world x axis by a random angle in
  [-tilt, tilt] rad (ch. 5: blocks rotated 0 to 0.3 rad), so a vertical descent jams;
- ``goal_noise``: the expert believes the hole is at the true position plus uniform noise of
  ±goal_noise metres per axis (ch. 6: ±1 mm goal perturbations make the P controller struggle).
Both default to 0 (the expert then succeeds); the peg is rigidly held (no slip) so the task is about
alignment and contact, not grasping.
- ``start_height``: > 0 starts the episode with the peg tip this far above the believed rim (plus a
  random ``start_offset`` in xy), placed by IK, as in ch. 6 (reset 5 cm above the goal) — residual RL
  then spends its steps on the insertion, not on the approach. 0 (default) starts at home.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from subgoal.sim.scene import ROBOT_PREFIX
from subgoal.sim.tasks.base import Task, toward

if TYPE_CHECKING:  # pragma: no cover
    from subgoal.sim.core import Sim

PEG_HALF = 0.01  # square peg 20 mm
PEG_LEN = 0.08
PEG_TIP = 0.07  # peg tip distance below the TCP (m)
BLOCK_HALF = 0.045
BLOCK_H = 0.04  # hole depth = fixture height


@dataclass
class InsertConfig:
    clearance: float = 0.001  # gap between peg and hole wall on each side (m)
    tilt: float = 0.0  # max |tilt| of the hole fixture about world x (rad), sampled per reset
    goal_noise: float = 0.0  # expert's hole-position error, uniform ±goal_noise per axis (m)
    hole_low: tuple[float, float] = (0.45, -0.15)
    hole_high: tuple[float, float] = (0.6, 0.15)
    success_depth: float = 0.025  # peg tip this far below the hole rim, inside the hole (m)
    start_height: float = 0.0  # > 0: start with the peg tip this high above the believed rim (m); 0: home
    start_offset: float = 0.0  # with start_height: uniform ±start_offset (m) xy offset of the start

    def __post_init__(self) -> None:
        if not 0 < self.clearance < 0.02:
            raise ValueError(f"InsertConfig.clearance must be in (0, 0.02) m, got {self.clearance!r}")
        if not 0 <= self.tilt <= 0.5:
            raise ValueError(f"InsertConfig.tilt must be in [0, 0.5] rad, got {self.tilt!r}")
        if not 0 <= self.goal_noise <= 0.02:
            raise ValueError(f"InsertConfig.goal_noise must be in [0, 0.02] m, got {self.goal_noise!r}")
        if not 0 < self.success_depth < BLOCK_H:
            raise ValueError(f"InsertConfig.success_depth must be in (0, {BLOCK_H}), got {self.success_depth!r}")
        if not 0 <= self.start_height <= 0.2:
            raise ValueError(f"InsertConfig.start_height must be in [0, 0.2] m, got {self.start_height!r}")
        if not 0 <= self.start_offset <= 0.05:
            raise ValueError(f"InsertConfig.start_offset must be in [0, 0.05] m, got {self.start_offset!r}")


class InsertTask(Task):
    name = "insert"
    Config = InsertConfig
    horizon = 60
    initial_gripper = -1.0  # closed on the peg (finger-peg contacts are excluded)

    def __init__(self, config: InsertConfig | None = None):
        self.config = config or InsertConfig()
        self.hole = np.array([0.5, 0.0, 0.0])
        self.hole_quat = np.array([1.0, 0.0, 0.0, 0.0])
        self.belief = self.hole.copy()

    def build(self, spec: mujoco.MjSpec, ee_body: mujoco.MjsBody) -> None:
        peg = ee_body.add_body(name="peg", pos=[0, 0, PEG_TIP - PEG_LEN / 2])
        peg.add_geom(name="peg_geom", type=mujoco.mjtGeom.mjGEOM_BOX, size=[PEG_HALF, PEG_HALF, PEG_LEN / 2],
                     rgba=[0.9, 0.75, 0.1, 1], mass=0.05, friction=[0.3, 0.005, 0.0001], group=0)
        for body in spec.bodies:
            if body.name.startswith(ROBOT_PREFIX) and "finger" in body.name:
                spec.add_exclude(bodyname1="peg", bodyname2=body.name)
        a = PEG_HALF + self.config.clearance
        wall = (BLOCK_HALF - a) / 2
        block = spec.worldbody.add_body(name="hole_block", mocap=True, pos=[0.5, 0, 0])
        rgba = [0.35, 0.4, 0.5, 1]
        for i, (x, y, hx, hy) in enumerate([(a + wall, 0, wall, BLOCK_HALF), (-a - wall, 0, wall, BLOCK_HALF),
                                            (0, a + wall, a, wall), (0, -a - wall, a, wall)]):
            block.add_geom(name=f"hole_wall{i}", type=mujoco.mjtGeom.mjGEOM_BOX, size=[hx, hy, BLOCK_H / 2],
                           pos=[x, y, BLOCK_H / 2], rgba=rgba, friction=[0.3, 0.005, 0.0001], group=0)

    def reset(self, sim: "Sim", rng: np.random.Generator) -> None:
        c = self.config
        xy = rng.uniform(c.hole_low, c.hole_high)
        angle = rng.uniform(-c.tilt, c.tilt) if c.tilt > 0 else 0.0
        self.hole = np.array([xy[0], xy[1], 0.0])
        self.hole_quat = np.array([np.cos(angle / 2), np.sin(angle / 2), 0.0, 0.0])
        sim.data.mocap_pos[0] = self.hole
        sim.data.mocap_quat[0] = self.hole_quat
        noise = rng.uniform(-c.goal_noise, c.goal_noise, size=2) if c.goal_noise > 0 else np.zeros(2)
        self.belief = self.hole + np.array([noise[0], noise[1], 0.0])
        if c.start_height > 0:  # arm placed above the believed hole (kinematic IK, before the episode)
            off = rng.uniform(-c.start_offset, c.start_offset, size=2) if c.start_offset > 0 else np.zeros(2)
            tip = self.belief + np.array([off[0], off[1], BLOCK_H + c.start_height])
            sim._ik_into(sim.data, tip + np.array([0.0, 0.0, PEG_TIP]))

    def _rim_center(self) -> np.ndarray:
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, self.hole_quat)
        return self.hole + mat.reshape(3, 3) @ np.array([0.0, 0.0, BLOCK_H])

    def peg_tip(self, sim: "Sim") -> np.ndarray:
        pos, quat = sim.ee_pose()
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, quat)
        return pos + mat.reshape(3, 3)[:, 2] * PEG_TIP  # TCP z axis points along the peg

    def success(self, sim: "Sim") -> bool:
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, self.hole_quat)
        local = mat.reshape(3, 3).T @ (self.peg_tip(sim) - self.hole)
        a = PEG_HALF + self.config.clearance
        inside = abs(local[0]) < a + 0.002 and abs(local[1]) < a + 0.002
        return bool(inside and local[2] < BLOCK_H - self.config.success_depth)

    def object_state(self, sim: "Sim") -> np.ndarray:
        return np.concatenate([self.hole, self.hole_quat, self.peg_tip(sim)])

    def goal_state(self, sim: "Sim") -> np.ndarray:
        return self._rim_center() - np.array([0.0, 0.0, self.config.success_depth + 0.005])

    def commanded_goal(self) -> np.ndarray:
        """EE goal a user commands: the peg tip at the goal depth below the *believed*, untilted rim.

        What the P controller (and the residual on top of it) is given; the true goal differs by the goal
        noise and the tilt. Shared by the residual env and the sim node (``task/commanded_pose``) so the
        in-process and the over-DDS stacks chase the same point."""
        depth = BLOCK_H - self.config.success_depth - 0.005
        return self.belief + np.array([0.0, 0.0, depth + PEG_TIP])

    def reward(self, sim: "Sim") -> float:
        return -float(np.linalg.norm(self.peg_tip(sim) - self.goal_state(sim)))

    def expert(self, sim: "Sim", rng: np.random.Generator) -> np.ndarray:
        """P controller on the believed hole: align above it, then descend (lift if jammed aside)."""
        tip = self.peg_tip(sim)
        ee = sim.ee_pose()[0]
        rim = self.belief[2] + BLOCK_H
        xy_err = np.linalg.norm(tip[:2] - self.belief[:2])
        if tip[2] > rim + 0.004:  # above the fixture: align, then come down
            height = rim + 0.02 if xy_err > 0.002 else tip[2] - 0.03
            target = ee + np.array([self.belief[0] - tip[0], self.belief[1] - tip[1], height - tip[2]])
            return toward(sim, target, -1.0, gain=0.8)
        if xy_err > PEG_HALF + self.config.clearance:  # down but beside the hole: back up
            return toward(sim, ee + np.array([0.0, 0.0, 0.03]), -1.0)
        target = ee + np.array([self.belief[0] - tip[0], self.belief[1] - tip[1], -0.02])
        return toward(sim, target, -1.0, gain=0.8)

    def goal_scene(self, sim: "Sim") -> tuple[np.ndarray, float]:
        goal_tip = self.goal_state(sim)
        return goal_tip + np.array([0.0, 0.0, PEG_TIP]), -1.0
