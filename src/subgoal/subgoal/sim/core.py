"""``Sim``: the ROS-free simulated arm (MuJoCo + Cartesian impedance controller + task).

This is what the ROS sim node, the gymnasium env and ``subgoal sim`` all drive. Its inputs are
exactly those of a real Franka/Sawyer under a Cartesian impedance controller (an equilibrium pose
and a gripper width) and its outputs those the real arm publishes (joint states, EE pose, external
wrench, camera images). Task-only extras (success, object/goal state, scripted expert) are ground
truth for data collection and evaluation, never inputs of a deployed model.
"""
from __future__ import annotations

import functools
import logging

import mujoco
import numpy as np

from subgoal.sim.controller import CartesianImpedanceController, ImpedanceConfig
from subgoal.sim.render import SceneRenderer
from subgoal.sim.robots import RobotSpec, get_robot
from subgoal.sim.safety import EquilibriumGuard, Workspace
from subgoal.sim.decimate import decimate_visual_meshes
from subgoal.sim.scene import GROUP_ROBOT_VISUAL, build_spec, scene_names, solve_home_qpos
from subgoal.sim.suboptimal import SuboptimalExpert
from subgoal.sim.tasks import Task, make_task
from subgoal.sim.tasks.base import ACTION_SCALE

log = logging.getLogger(__name__)
POLICY_DT = 0.1  # one 10 Hz action
LEASH = 0.05  # max distance (m) of the equilibrium position from the measured EE under actions


@functools.lru_cache(maxsize=16)
def _compiled(robot_name: str, task_name: str, task_kwargs: tuple, control_hz: float, decimate_cell: float
              ) -> tuple[mujoco.MjModel, np.ndarray]:
    """Compile a scene once per process (mesh loading dominates: ~1 s) and solve its home pose."""
    robot = get_robot(robot_name)
    task = make_task(task_name, **dict(task_kwargs))
    spec = build_spec(robot, task, control_hz)
    model = spec.compile()
    if decimate_cell > 0:  # visual meshes only: physics is untouched
        removed = decimate_visual_meshes(spec, model, GROUP_ROBOT_VISUAL, cell=decimate_cell)
        model = spec.compile()
        log.debug("decimated visual meshes: %d faces removed", removed)
    q_home = solve_home_qpos(model, robot)
    return model, q_home


class Sim:
    """One simulated arm doing one task. See the module docstring and docs/sim.md."""

    def __init__(self, robot: str = "panda", task: str = "reach", seed: int = 0, control_hz: float = 500.0,
                 camera_width: int = 48, camera_height: int = 48, camera: str = "front", lowpoly: bool = False,
                 impedance: ImpedanceConfig | None = None, workspace: Workspace | None = None,
                 task_kwargs: dict | None = None, mesh_cell: float = 0.006):
        """``mesh_cell``: vertex-clustering cell (m) for the visual meshes (see ``decimate``); 0 keeps
        the full-detail meshes, ``lowpoly`` draws the collision geoms instead."""
        if not 100.0 <= float(control_hz) <= 2000.0:
            raise ValueError(f"control_hz must be in [100, 2000] (500-1000 recommended), got {control_hz!r}")
        if camera_width <= 0 or camera_height <= 0:
            raise ValueError(f"camera size must be positive, got {camera_width}x{camera_height}")
        self.robot: RobotSpec = get_robot(robot)
        task_kwargs = dict(task_kwargs or {})
        self.task: Task = make_task(task, **task_kwargs)  # validates name + kwargs before compiling
        if not 0.0 <= float(mesh_cell) <= 0.02:
            raise ValueError(f"mesh_cell must be in [0, 0.02] m (0 = full-detail meshes), got {mesh_cell!r}")
        model, q_home = _compiled(robot, task, tuple(sorted(task_kwargs.items())), float(control_hz),
                                  float(mesh_cell))
        self.model = model
        self.data = mujoco.MjData(model)
        self.task.bind(model)
        self.q_home = q_home
        self.control_hz = float(control_hz)
        self.camera_width, self.camera_height, self.camera = int(camera_width), int(camera_height), camera
        self.guard = EquilibriumGuard(workspace or Workspace())

        names = scene_names(self.robot)
        self._names = names
        self._arm_joint_ids = np.array([model.joint(j).id for j in names.arm_joints])
        self._arm_qadr = model.jnt_qposadr[self._arm_joint_ids]
        self._arm_dofs = model.jnt_dofadr[self._arm_joint_ids]
        self._arm_act = np.array([self._actuator_of(j) for j in self._arm_joint_ids])
        self._finger_ids = np.array([model.joint(j).id for j in names.finger_joints])
        self._finger_qadr = model.jnt_qposadr[self._finger_ids]
        self._finger_dofs = model.jnt_dofadr[self._finger_ids]
        self._finger_act = np.array([model.actuator(a).id for a in names.finger_actuators])
        self._ee_site = model.site(names.ee_site).id
        self._gripper_bodies = self._subtree(model.body(names.gripper_root).id)
        torque_limits = model.actuator_ctrlrange[self._arm_act, 1]
        self.controller = CartesianImpedanceController(
            model, names.ee_site, self._arm_dofs, self._arm_qadr, q_home, torque_limits, impedance)
        self._home_quat = np.array(self.robot.home_quat, float)
        self._home_pos: np.ndarray | None = None
        self._renderer: SceneRenderer | None = None
        self._lowpoly = lowpoly
        self._subopt = SuboptimalExpert()
        self._rng = np.random.default_rng(seed)
        self._expert_rng = np.random.default_rng([seed, 1])
        self._gripper_width = 0.0
        self._goal_image: np.ndarray | None = None
        self.reset(seed)

    # ------------------------------------------------------------------ setup helpers
    def _actuator_of(self, joint_id: int) -> int:
        for i in range(self.model.nu):
            if self.model.actuator_trntype[i] == mujoco.mjtTrn.mjTRN_JOINT and self.model.actuator_trnid[i, 0] == joint_id:
                return i
        raise RuntimeError(f"no actuator drives joint {self.model.joint(joint_id).name}")

    def _subtree(self, root: int) -> set[int]:
        bodies = {root}
        for b in range(root + 1, self.model.nbody):
            if self.model.body_parentid[b] in bodies:
                bodies.add(b)
        return bodies

    # ------------------------------------------------------------------ episode
    def reset(self, seed: int | None = None) -> None:
        """New episode: arm at home, task objects randomized (from ``seed`` if given)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._expert_rng = np.random.default_rng([seed, 1])
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self._arm_qadr] = self.q_home
        self._gripper_width = self._width_from_action(self.task.initial_gripper)
        self._set_finger_ctrl(self._gripper_width)
        d.qpos[self._finger_qadr] = d.ctrl[self._finger_act]
        mujoco.mj_forward(m, d)
        self.task.reset(self, self._rng)
        mujoco.mj_forward(m, d)
        pos, quat = self.ee_pose()
        self._home_pos = pos.copy()
        self.controller.reset(pos, self._home_quat)
        self._subopt.reset()
        self.task.new_episode_expert(self._rng)
        self._goal_image = None

    @property
    def time(self) -> float:
        return float(self.data.time)

    # ------------------------------------------------------------------ commands
    def set_equilibrium_pose(self, pos: np.ndarray, quat_wxyz: np.ndarray) -> bool:
        """Target of the impedance controller; False if rejected (the arm keeps the last target)."""
        checked = self.guard.check(pos, quat_wxyz)
        if checked is None:
            return False
        self.controller.set_target(*checked)
        return True

    def set_gripper(self, width_m: float) -> None:
        """Commanded opening between the finger pads (m), clipped to what the gripper can do."""
        width = float(width_m)
        if not np.isfinite(width):
            self.guard.event("rejected_nan_gripper", f"width={width_m!r}")
            return
        self._gripper_width = float(np.clip(width, 0.0, self.robot.gripper.max_width))
        self._set_finger_ctrl(self._gripper_width)

    def _set_finger_ctrl(self, width: float) -> None:
        g = self.robot.gripper
        for act, sign in zip(self._finger_act, g.signs):
            lo, hi = self.model.actuator_ctrlrange[act]
            self.data.ctrl[act] = np.clip(sign * (width - g.width_offset) / 2.0, lo, hi)

    def step(self, duration_s: float) -> None:
        """Advance physics and the impedance controller by ``duration_s`` (rounded to whole steps)."""
        n = int(round(float(duration_s) * self.control_hz))
        if n < 0:
            raise ValueError(f"step duration must be >= 0, got {duration_s!r}")
        m, d = self.model, self.data
        for _ in range(n):
            mujoco.mj_step1(m, d)
            d.ctrl[self._arm_act] = self.controller.torques(d)
            mujoco.mj_step2(m, d)
        if not np.all(np.isfinite(d.qpos)):
            raise FloatingPointError("simulation diverged (NaN in qpos)")

    # ------------------------------------------------------------------ state
    def joint_state(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """Names, positions, velocities, efforts of the 7 arm joints then the 2 finger joints (ROS convention)."""
        d = self.data
        names = list(self.robot.ros_joint_names) + list(self.robot.ros_finger_names)
        qadr = np.concatenate([self._arm_qadr, self._finger_qadr])
        dofs = np.concatenate([self._arm_dofs, self._finger_dofs])
        # fingers as a real arm reports them: positive = opening (Franka: each 0..0.04 m), so the sum
        # of the finger joints is the opening beyond width_offset on every robot
        sign = self.ros_joint_signs()
        return names, d.qpos[qadr] * sign, d.qvel[dofs] * sign, d.qfrc_actuator[dofs] * sign

    def ros_joint_signs(self) -> np.ndarray:
        """Per joint of :meth:`joint_state`: +1 for arm joints, the opening sign for fingers."""
        return np.concatenate([np.ones(len(self._arm_qadr)), np.asarray(self.robot.gripper.signs, float)])

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """EE (gripper TCP) position (3,) and orientation quaternion wxyz (4,) in the base frame."""
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, self.data.site_xmat[self._ee_site])
        return self.data.site_xpos[self._ee_site].copy(), quat

    def gripper_width(self) -> float:
        g = self.robot.gripper
        q = self.data.qpos[self._finger_qadr]
        return float(g.width_offset + sum(s * v for s, v in zip(g.signs, q)))

    def ee_wrench(self) -> tuple[np.ndarray, np.ndarray]:
        """External force (N) and torque (Nm, about the TCP) the environment applies to the gripper,
        in the base frame: the sum of contact forces on the gripper subtree."""
        m, d = self.model, self.data
        force, torque = np.zeros(3), np.zeros(3)
        tcp = d.site_xpos[self._ee_site]
        f6 = np.zeros(6)
        for i in range(d.ncon):
            c = d.contact[i]
            b1, b2 = m.geom_bodyid[c.geom1], m.geom_bodyid[c.geom2]
            in1, in2 = b1 in self._gripper_bodies, b2 in self._gripper_bodies
            if in1 == in2:
                continue
            mujoco.mj_contactForce(m, d, i, f6)
            f_world = c.frame.reshape(3, 3).T @ f6[:3]  # force of geom1 on geom2
            f_on_gripper = f_world if in2 else -f_world
            force += f_on_gripper
            torque += np.cross(c.pos - tcp, f_on_gripper)
        return force, torque

    def home_pose(self) -> tuple[np.ndarray, np.ndarray]:
        return self._home_pos.copy(), self._home_quat.copy()

    def equilibrium_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The last accepted target (what the arm is holding)."""
        return self.controller.pos_target.copy(), self.controller.quat_target.copy()

    # ------------------------------------------------------------------ task
    def success(self) -> bool:
        return self.task.success(self)

    def reward(self) -> float:
        return self.task.reward(self)

    def object_state(self) -> np.ndarray:
        return np.asarray(self.task.object_state(self), dtype=np.float64)

    def goal_state(self) -> np.ndarray:
        return np.asarray(self.task.goal_state(self), dtype=np.float64)

    def expert_action(self, p: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
        """10 Hz action in [-1, 1]^4 (EE delta / ACTION_SCALE, gripper +1 open / -1 closed) from the
        scripted expert, with random-walk detours taken with probability ``p`` (IRIS 3.4)."""
        rng = self._expert_rng if rng is None else rng
        action = np.asarray(self.task.expert(self, rng), dtype=np.float64)
        return self._subopt(action, p, rng)

    def _width_from_action(self, g: float) -> float:
        return float((np.clip(g, -1.0, 1.0) + 1.0) / 2.0 * self.robot.gripper.max_width)

    def apply_action(self, action: np.ndarray, duration_s: float = POLICY_DT) -> bool:
        """Execute one 10 Hz action and step ``duration_s``. Returns False if the target was rejected.

        The equilibrium position moves by ``a[:3] * ACTION_SCALE`` from where it was (like a teleop
        twist integrated into the equilibrium pose), kept on a ``LEASH`` around the measured EE so
        a blocked arm cannot wind up a large spring force; orientation stays at home; ``a[3]``
        maps [-1, 1] to the gripper width [0, max].
        """
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (4,):
            raise ValueError(f"action must have 4 values (dx, dy, dz, gripper), got shape {action.shape}")
        ok = True
        if np.all(np.isfinite(action)):
            a = np.clip(action, -1.0, 1.0)
            ee = self.ee_pose()[0]
            target = self.controller.pos_target + a[:3] * ACTION_SCALE
            offset = target - ee
            dist = np.linalg.norm(offset)
            if dist > LEASH:
                target = ee + offset * (LEASH / dist)
            ok = self.set_equilibrium_pose(target, self._home_quat)
            self.set_gripper(self._width_from_action(a[3]))
        else:
            ok = False
            self.guard.event("rejected_nan_action", f"action={action}")
        self.step(duration_s)
        return ok

    # ------------------------------------------------------------------ images
    def render(self, width: int | None = None, height: int | None = None, camera: str | None = None,
               shadows: bool = False) -> np.ndarray:
        """RGB uint8 image (H, W, 3) from a scene camera (default: the learning camera)."""
        if self._renderer is None:
            self._renderer = SceneRenderer(self.model, lowpoly=self._lowpoly)
        return self._renderer.render(self.data, width or self.camera_width, height or self.camera_height,
                                     camera or self.camera, shadows)

    def goal_image(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """Image of the goal configuration: objects at the goal, arm at the task's goal EE pose.

        Rendered on a scratch copy of the state (the episode is not touched), cached per episode.
        """
        if self._goal_image is not None and width is None and height is None:
            return self._goal_image
        m = self.model
        scratch = mujoco.MjData(m)
        scratch.qpos[:], scratch.mocap_pos[:], scratch.mocap_quat[:] = self.data.qpos, self.data.mocap_pos, self.data.mocap_quat
        saved = self.data
        self.data = scratch
        try:
            ee_goal, grip = self.task.goal_scene(self)
            self._ik_into(scratch, ee_goal)
            width_m = self._width_from_action(grip)
            g = self.robot.gripper
            for adr, sign in zip(self._finger_qadr, g.signs):
                scratch.qpos[adr] = sign * (width_m - g.width_offset) / 2.0
            mujoco.mj_forward(m, scratch)
            image = self.render(width, height)
        finally:
            self.data = saved
        if width is None and height is None:
            self._goal_image = image
        return image

    def _ik_into(self, data: mujoco.MjData, target: np.ndarray, iters: int = 100) -> None:
        """Kinematic damped-least-squares IK of the arm to ``target`` (home orientation)."""
        m = self.model
        jacp, jacr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        lo, hi = m.jnt_range[self._arm_joint_ids].T
        cur = np.zeros(4)
        for _ in range(iters):
            mujoco.mj_kinematics(m, data)
            mujoco.mj_comPos(m, data)
            err = np.zeros(6)
            err[:3] = target - data.site_xpos[self._ee_site]
            mujoco.mju_mat2Quat(cur, data.site_xmat[self._ee_site])
            mujoco.mju_subQuat(err[3:], self._home_quat, cur)
            err[3:] = data.site_xmat[self._ee_site].reshape(3, 3) @ err[3:]
            if np.linalg.norm(err) < 1e-5:
                break
            mujoco.mj_jacSite(m, data, jacp, jacr, self._ee_site)
            jac = np.vstack([jacp, jacr])[:, self._arm_dofs]
            dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err)
            data.qpos[self._arm_qadr] = np.clip(data.qpos[self._arm_qadr] + dq, lo, hi)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> "Sim":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
