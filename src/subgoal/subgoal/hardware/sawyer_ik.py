"""Sawyer: pose target -> joint command, by damped-least-squares IK on the robosuite Sawyer MJCF.

Why IK on our side: intera (Sawyer's SDK) has no ROS 2 support, and through a ROS 1 bridge the
simplest interface to carry is ``/robot/limb/right/joint_command`` (intera_core_msgs/JointCommand,
POSITION_MODE). Our controller publishes a Cartesian ``equilibrium_pose``; :class:`SawyerIK` turns it
into 7 joint positions on the same kinematic model the sim uses (arm + Rethink gripper from the
robosuite wheel, EE point = the gripper's ``grip_site``, base frame = the arm's base), so a pose a
policy learned in sim means the same joints on the real arm.

- Joint limits are enforced in every iteration (clipped), so a solution never leaves them.
- Targets farther from the shoulder than the arm's reach are refused at once; others that do not
  converge within tolerance raise :class:`Unreachable` with the remaining error (never a silent
  best effort: the adapter then holds the last command).
- :meth:`SawyerIK.joint_command` also limits the change per command (``max_joint_step``), so an IK
  branch flip cannot make the arm jump.
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from subgoal.sim.robots import get_robot
from subgoal.sim.scene import EE_SITE, _attach_robot, scene_names

#: intera_core_msgs/JointCommand modes (msg constants), for the adapter and docs.
POSITION_MODE, VELOCITY_MODE, TORQUE_MODE, TRAJECTORY_MODE = 1, 2, 3, 4


class Unreachable(ValueError):
    """The pose target cannot be reached within tolerance (out of reach, or outside joint limits)."""


@dataclass(frozen=True)
class IKResult:
    q: np.ndarray  #: (7,) joint positions, rad, within limits
    position_error: float  #: m
    rotation_error: float  #: rad
    iterations: int


def _quat_wxyz(quat, order: str) -> np.ndarray:
    q = np.asarray(quat, np.float64).reshape(4)
    if order == "xyzw":
        q = q[[3, 0, 1, 2]]
    elif order != "wxyz":
        raise ValueError(f"quaternion order must be 'xyzw' or 'wxyz', got {order!r}")
    n = np.linalg.norm(q)
    if not np.isfinite(n) or abs(n - 1.0) > 1e-3:
        raise ValueError(f"target orientation must be a unit quaternion, got {quat!r} (norm {n:.4f})")
    return q / n


class SawyerIK:
    """Kinematic Sawyer (+ Rethink gripper) model with FK and damped-least-squares IK."""

    def __init__(self, damping: float = 1e-4, max_iters: int = 200, position_tol: float = 1e-3,
                 rotation_tol: float = 1e-2, max_joint_step: float = 0.3) -> None:
        self.robot = get_robot("sawyer")
        spec = mujoco.MjSpec()
        spec.compiler.degree = False
        _attach_robot(spec, self.robot)  # exactly the sim's arm + gripper, same names
        # Kinematics only: drop geoms and meshes (loading the meshes is most of the build time);
        # bodies keep their MJCF inertials, and massless ones get a bound so the model compiles.
        for geom in list(spec.geoms):
            spec.delete(geom)
        for mesh in list(spec.meshes):
            spec.delete(mesh)
        spec.compiler.boundmass, spec.compiler.boundinertia = 1e-3, 1e-6
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        names = scene_names(self.robot)
        self.joint_names = tuple(self.robot.ros_joint_names)  # right_j0..right_j6, as intera names them
        jids = [self.model.joint(j).id for j in names.arm_joints]
        self._qadr = np.array([self.model.jnt_qposadr[j] for j in jids])
        self._dadr = np.array([self.model.jnt_dofadr[j] for j in jids])
        self.lower, self.upper = self.model.jnt_range[jids].T.copy()
        self._site = self.model.site(EE_SITE).id
        self._shoulder = self.model.body(self.model.jnt_bodyid[jids[1]]).id
        self.damping, self.max_iters = damping, max_iters
        self.position_tol, self.rotation_tol = position_tol, rotation_tol
        self.max_joint_step = max_joint_step
        self.seed = np.clip(np.asarray(self.robot.seed_qpos, np.float64), self.lower, self.upper)
        self.reach = self._estimate_reach()

    # ------------------------------------------------------------------ kinematics
    def fk(self, q) -> tuple[np.ndarray, np.ndarray]:
        """EE (grip site) position (m) and orientation (wxyz) for joints ``q``."""
        self._set(q)
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, self.data.site_xmat[self._site])
        return self.data.site_xpos[self._site].copy(), quat

    def _set(self, q) -> None:
        self.data.qpos[self._qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)

    def _estimate_reach(self, samples: int = 2000) -> float:
        rng = np.random.default_rng(0)
        qs = rng.uniform(self.lower, self.upper, size=(samples, len(self.lower)))
        self._set(self.seed)
        shoulder = self.data.xpos[self._shoulder].copy()
        dist = [np.linalg.norm(self.fk(q)[0] - shoulder) for q in qs]
        self._shoulder_pos = shoulder
        return float(max(dist)) * 1.02  # a little margin over the sampled maximum

    # ------------------------------------------------------------------ IK
    def solve(self, position, quat, seed=None, quat_order: str = "xyzw", restarts: int = 4) -> IKResult:
        """Joints putting the grip site at ``position`` with orientation ``quat``; raises :class:`Unreachable`.

        Tries ``seed`` (e.g. the measured joints: the nearest solution), then the home seed, then
        ``restarts`` random seeds within the limits (fixed RNG: the same target gives the same answer).
        """
        p_goal = np.asarray(position, np.float64).reshape(3)
        if not np.all(np.isfinite(p_goal)):
            raise ValueError(f"target position must be finite, got {position!r}")
        q_goal = _quat_wxyz(quat, quat_order)
        dist = np.linalg.norm(p_goal - self._shoulder_pos)
        if dist > self.reach:
            raise Unreachable(f"target {p_goal.round(3).tolist()} is {dist:.3f} m from the Sawyer shoulder; "
                              f"reach is {self.reach:.3f} m")
        seeds = [self.seed] if seed is None else [np.clip(np.asarray(seed, np.float64), self.lower, self.upper),
                                                  self.seed]
        rng = np.random.default_rng(0)
        seeds += list(rng.uniform(self.lower, self.upper, size=(max(0, restarts), len(self.lower))))
        best = None
        for s in seeds:
            res = self._dls(p_goal, q_goal, s)
            if res.position_error <= self.position_tol and res.rotation_error <= self.rotation_tol:
                return res
            if best is None or res.position_error + 0.1 * res.rotation_error < \
                    best.position_error + 0.1 * best.rotation_error:
                best = res
        raise Unreachable(
            f"no joint solution within limits for target {p_goal.round(3).tolist()}: best remaining error "
            f"{best.position_error * 1e3:.1f} mm / {np.rad2deg(best.rotation_error):.1f} deg after "
            f"{best.iterations} iterations (tolerance {self.position_tol * 1e3:.1f} mm / "
            f"{np.rad2deg(self.rotation_tol):.1f} deg)")

    def _dls(self, p_goal: np.ndarray, q_goal: np.ndarray, seed: np.ndarray) -> IKResult:
        m, d, sid = self.model, self.data, self._site
        q = seed.copy()
        jacp, jacr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        err, cur = np.zeros(6), np.zeros(4)
        it = 0
        for it in range(1, self.max_iters + 1):
            self._set(q)
            err[:3] = p_goal - d.site_xpos[sid]
            mujoco.mju_mat2Quat(cur, d.site_xmat[sid])
            mujoco.mju_subQuat(err[3:], q_goal, cur)  # rotation error in the EE frame ...
            err[3:] = d.site_xmat[sid].reshape(3, 3) @ err[3:]  # ... expressed in the base frame
            if np.linalg.norm(err[:3]) < 0.1 * self.position_tol and np.linalg.norm(err[3:]) < 0.1 * self.rotation_tol:
                break
            mujoco.mj_jacSite(m, d, jacp, jacr, sid)
            jac = np.vstack([jacp, jacr])[:, self._dadr]
            dq = jac.T @ np.linalg.solve(jac @ jac.T + self.damping * np.eye(6), err)
            big = np.max(np.abs(dq))
            if big > 0.2:  # small steps: large DLS steps overshoot and bounce off the limits
                dq *= 0.2 / big
            q = np.clip(q + dq, self.lower, self.upper)
        self._set(q)
        err[:3] = p_goal - d.site_xpos[sid]
        mujoco.mju_mat2Quat(cur, d.site_xmat[sid])
        mujoco.mju_subQuat(err[3:], q_goal, cur)
        return IKResult(q, float(np.linalg.norm(err[:3])), float(np.linalg.norm(err[3:])), it)

    # ------------------------------------------------------------------ the adapter's mapping
    def joint_command(self, position, quat, current_q, quat_order: str = "xyzw", restarts: int = 0) -> dict:
        """intera JointCommand fields for a pose target, seeded at (and step-limited from) ``current_q``.

        Returns ``{"mode": POSITION_MODE, "names": [...], "position": [...]}``; raises
        :class:`Unreachable` (the adapter then holds the last command).
        """
        cur = np.asarray(current_q, np.float64).reshape(len(self.joint_names))
        res = self.solve(position, quat, seed=cur, quat_order=quat_order, restarts=restarts)
        step = res.q - cur
        biggest = float(np.max(np.abs(step)))
        if biggest > self.max_joint_step:  # scale the whole step: the direction in joint space is kept
            step *= self.max_joint_step / biggest
        q = np.clip(cur + step, self.lower, self.upper)
        return {"mode": POSITION_MODE, "names": list(self.joint_names), "position": q.tolist()}
