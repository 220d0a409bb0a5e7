"""Core of the scripted teleop node: the sim's scripted expert, acting only on what the ROS topics say.

Honest on purpose: the expert does not peek into the sim process. It keeps a *mirror*
:class:`~subgoal.sim.Sim` (same robot and task, never stepped) and, before each 10 Hz decision,
writes into it what arrived over ROS: arm and finger joints (``joint_states``), the task objects
(``task/object_state``: free-joint poses), the goal (``task/goal_state``) and the current impedance
target (``equilibrium_pose``, as the teleop controller published it). Forward kinematics then gives
the EE pose, and the task's own expert (with the suboptimality knob ``p``, IRIS 3.4) picks the action.
The action leaves as a teleop would send it: a twist ``a[:3] * ACTION_SCALE / POLICY_DT`` (m/s)
and a gripper opening (m) — so the same topics carry scripted and human demos.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import mujoco
import numpy as np

from subgoal.sim.core import POLICY_DT, Sim
from subgoal.sim.scene import scene_names
from subgoal.sim.tasks.base import ACTION_SCALE


@dataclass
class ScriptedTeleopConfig:
    """Parameters of the scripted teleop node."""

    robot: str = "panda"       #: panda | sawyer (must match the sim)
    task: str = "reach"        #: the task whose expert acts (must match the sim)
    p: float = 0.0             #: suboptimality: probability of a random-walk detour per step
    seed: int = 0              #: expert randomness: episode k uses rng([seed, k])
    rate_hz: float = 10.0      #: decision rate (the action rate of the datasets)
    lead_in_steps: int = 3     #: steps that only set the gripper (no motion) when an episode starts

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"ScriptedTeleopConfig.p must be in [0, 1], got {self.p!r}")
        if not self.rate_hz > 0:
            raise ValueError(f"ScriptedTeleopConfig.rate_hz must be > 0, got {self.rate_hz!r}")
        if self.lead_in_steps < 0:
            raise ValueError(f"ScriptedTeleopConfig.lead_in_steps must be >= 0, got {self.lead_in_steps!r}")


@dataclass
class TeleopAction:
    linear: np.ndarray  # m/s
    gripper: float  # opening, m
    action: np.ndarray  # the expert's [-1, 1]^4 action (for logs/tests)


class ExpertMirror:
    """``act(...)`` -> the expert's teleop command for the state the topics describe."""

    def __init__(self, config: ScriptedTeleopConfig | None = None) -> None:
        self.config = c = config or ScriptedTeleopConfig()
        self.sim = Sim(robot=c.robot, task=c.task, seed=c.seed, camera_width=8, camera_height=8)
        m = self.sim.model
        names = scene_names(self.sim.robot)
        ros = list(self.sim.robot.ros_joint_names) + list(self.sim.robot.ros_finger_names)
        mj = list(names.arm_joints) + list(names.finger_joints)
        self._qadr = {r: int(m.jnt_qposadr[m.joint(j).id]) for r, j in zip(ros, mj)}
        self._sign = dict(zip(ros, self.sim.ros_joint_signs()))  # joint_states follow the real-arm convention
        free = [j for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
        self._free_qadr = [int(m.jnt_qposadr[j]) for j in free]
        self.episode = -1
        self.rng = np.random.default_rng([c.seed, 0])
        self._steps = 0

    def new_episode(self) -> int:
        """Forget the expert's per-episode memory (phase, chosen side); returns the episode index."""
        self.episode += 1
        self.rng = np.random.default_rng([self.config.seed, self.episode])
        self.sim.task.new_episode_expert(self.rng)
        self.sim._subopt.reset()
        self._steps = 0
        return self.episode

    def mirror(self, joint_names: Sequence[str], joint_pos: Sequence[float], object_state: np.ndarray,
               goal_state: np.ndarray, equilibrium: np.ndarray | None) -> None:
        """Write the received state into the mirror sim (raises ValueError naming what does not fit)."""
        d = self.sim.data
        missing = [n for n in self._qadr if n not in joint_names]
        if missing:
            raise ValueError(f"joint_states lacks joints {missing} of robot {self.config.robot}")
        for n, q in zip(joint_names, joint_pos):
            if n in self._qadr:
                d.qpos[self._qadr[n]] = q * self._sign[n]
        obj = np.asarray(object_state, float).reshape(-1)
        if obj.size != 7 * len(self._free_qadr):
            raise ValueError(f"task {self.config.task}: object_state has {obj.size} values, the mirror expects "
                             f"{7 * len(self._free_qadr)} (7 per free object)")
        for i, adr in enumerate(self._free_qadr):
            d.qpos[adr:adr + 7] = obj[7 * i:7 * i + 7]
        task = self.sim.task
        goal = np.asarray(goal_state, float).reshape(-1)
        if not hasattr(task, "goal") or np.shape(task.goal) != goal.shape:
            raise ValueError(f"task {self.config.task}: cannot mirror goal_state of shape {goal.shape}")
        task.goal = goal.copy()
        mujoco.mj_forward(self.sim.model, d)
        eq = self.sim.ee_pose()[0] if equilibrium is None else np.asarray(equilibrium, float)
        self.sim.controller.set_target(eq, self.sim.controller.quat_target)

    def act(self) -> TeleopAction:
        """One 10 Hz decision on the mirrored state (call :meth:`mirror` first)."""
        if self._steps < self.config.lead_in_steps:
            a = np.zeros(4)
            a[3] = self.sim.task.initial_gripper
        else:
            a = np.clip(self.sim.expert_action(self.config.p, self.rng), -1.0, 1.0)
        self._steps += 1
        width = (a[3] + 1.0) / 2.0 * self.sim.robot.gripper.max_width
        return TeleopAction(linear=a[:3] * ACTION_SCALE / POLICY_DT, gripper=float(width), action=a)

    def close(self) -> None:
        self.sim.close()
