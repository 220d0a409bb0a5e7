"""What every task provides: objects in the scene, reset randomization, success, expert.

A task never owns the physics: it adds bodies to the spec, then reads/writes the ``Sim``'s
``model``/``data`` through the small helpers below. Randomness always comes from the
``np.random.Generator`` passed in, so an episode is reproducible from its seed.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import mujoco
import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from subgoal.sim.core import Sim

ACTION_SCALE = 0.03  # metres of equilibrium motion per unit action per 10 Hz step (0.3 m/s at |a| = 1)
GOAL_RGBA = (0.1, 0.85, 0.2, 0.45)


def free_qpos_adr(model: mujoco.MjModel, body: str) -> int:
    """qpos address of the free joint of ``body``."""
    return int(model.jnt_qposadr[model.body(body).jntadr[0]])


def set_free_pose(model: mujoco.MjModel, data: mujoco.MjData, body: str, pos, quat=(1, 0, 0, 0)) -> None:
    adr = free_qpos_adr(model, body)
    data.qpos[adr:adr + 3] = pos
    data.qpos[adr + 3:adr + 7] = quat
    dadr = int(model.jnt_dofadr[model.body(body).jntadr[0]])
    data.qvel[dadr:dadr + 6] = 0.0


def yaw_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


def add_goal_marker(spec: mujoco.MjSpec, name: str = "goal", size: float = 0.02,
                    shape: mujoco.mjtGeom = mujoco.mjtGeom.mjGEOM_SPHERE) -> None:
    """Visual-only (contype = conaffinity = 0) mocap body, moved at reset without recompiling."""
    body = spec.worldbody.add_body(name=name, mocap=True, pos=[0.5, 0, 0.1])
    body.add_geom(name=f"{name}_geom", type=shape, size=[size, size, size], rgba=list(GOAL_RGBA),
                  contype=0, conaffinity=0, group=2, mass=0.0)


def add_cube(spec: mujoco.MjSpec, name: str, half: float, rgba, mass: float = 0.1) -> None:
    body = spec.worldbody.add_body(name=name, pos=[0.5, 0, half])
    body.add_freejoint(name=f"{name}_free")
    body.add_geom(name=f"{name}_geom", type=mujoco.mjtGeom.mjGEOM_BOX, size=[half] * 3, rgba=list(rgba),
                  mass=mass, friction=[1.0, 0.01, 0.0001], condim=4, group=0)


def toward(sim: "Sim", target: np.ndarray, gripper: float, gain: float = 1.0) -> np.ndarray:
    """Action moving the equilibrium (and so the EE) straight toward ``target`` (clipped to the box)."""
    action = np.empty(4)
    action[:3] = np.clip(gain * (np.asarray(target) - sim.equilibrium_pose()[0]) / ACTION_SCALE, -1.0, 1.0)
    action[3] = gripper
    return action


class Task(ABC):
    """Base class: a task adds objects, randomizes them at reset, judges success, scripts an expert."""

    name: ClassVar[str]
    Config: ClassVar[type]  # the task's config dataclass (kwargs of make_task go to it)
    horizon: ClassVar[int] = 50  # 10 Hz steps in an episode
    initial_gripper: ClassVar[float] = 1.0  # action units: +1 open, -1 closed

    @abstractmethod
    def build(self, spec: mujoco.MjSpec, ee_body: mujoco.MjsBody) -> None:
        """Add the task's bodies (objects, fixtures, goal marker) to ``spec``."""

    def bind(self, model: mujoco.MjModel) -> None:
        """Look up ids once after compile (optional)."""

    @abstractmethod
    def reset(self, sim: "Sim", rng: np.random.Generator) -> None:
        """Randomize objects and goal (robot is already at home)."""

    @abstractmethod
    def success(self, sim: "Sim") -> bool: ...

    @abstractmethod
    def object_state(self, sim: "Sim") -> np.ndarray:
        """State of the task objects (fixed length per task; empty for reach)."""

    @abstractmethod
    def goal_state(self, sim: "Sim") -> np.ndarray:
        """What must be achieved, as a vector (e.g. goal position of the cube)."""

    @abstractmethod
    def reward(self, sim: "Sim") -> float:
        """Dense shaped reward (negative distance); the sparse signal is ``success``."""

    @abstractmethod
    def expert(self, sim: "Sim", rng: np.random.Generator) -> np.ndarray:
        """Scripted expert: a 10 Hz action in [-1, 1]^4 for the current state."""

    def new_episode_expert(self, rng: np.random.Generator) -> None:
        """Reset per-episode expert memory (mode choice, phase)."""

    @abstractmethod
    def goal_scene(self, sim: "Sim") -> tuple[np.ndarray, float]:
        """Put the task objects at their goal in ``sim.data``; return (EE position, gripper action)
        the arm should show in a goal image."""
