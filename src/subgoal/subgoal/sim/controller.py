"""Cartesian impedance controller run inside the sim at the physics rate (500 Hz - 1 kHz).

It tracks an *equilibrium pose* the way Franka's ``cartesian_impedance_example_controller`` does:
the commanded pose is first low-pass filtered toward the latest target (Franka: ``filter_params``),
then a spring-damper wrench pulls the EE to the filtered pose, a null-space term pulls the joints
toward the home posture, and Coriolis/gravity are compensated (the real arm compensates gravity
itself). Unlike the Franka example it uses operational-space control (the wrench is shaped by the
task-space inertia Λ): with a plain ``Jᵀ·K·err`` the lightly damped wrist joints of the robosuite
models oscillate instead of settling, while ``Jᵀ Λ (kp err − kd v)`` behaves like a critically
damped unit mass on every axis, for both the Panda and the Sawyer, with the same gains.
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np


@dataclass
class ImpedanceConfig:
    """Gains of the Cartesian impedance law (task-space accelerations per metre / radian)."""

    kp_pos: float = 150.0  # translational stiffness (1/s^2 after Λ shaping)
    kp_rot: float = 150.0  # rotational stiffness (1/s^2)
    damping_ratio: float = 1.0  # kd = 2 * damping_ratio * sqrt(kp)
    kp_null: float = 10.0  # null-space posture stiffness toward the home joints (1/s^2)
    filter_tau: float = 0.05  # time constant (s) of the equilibrium-pose low-pass filter; 0 = off
    max_pos_error: float = 0.1  # error clip (m) so a far target cannot command a huge wrench
    dynamics_rate_hz: float = 125.0  # refresh rate of M, Λ and the null-space projector (they
    # change slowly with the pose; refreshing them every physics step costs ~4x the whole step)

    def __post_init__(self) -> None:
        for name in ("kp_pos", "kp_rot", "kp_null", "damping_ratio"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"ImpedanceConfig.{name} must be a positive number, got {value!r}")
        if not np.isfinite(self.filter_tau) or self.filter_tau < 0:
            raise ValueError(f"ImpedanceConfig.filter_tau must be >= 0, got {self.filter_tau!r}")
        if not np.isfinite(self.dynamics_rate_hz) or self.dynamics_rate_hz <= 0:
            raise ValueError(f"ImpedanceConfig.dynamics_rate_hz must be > 0, got {self.dynamics_rate_hz!r}")
        if not np.isfinite(self.max_pos_error) or self.max_pos_error <= 0:
            raise ValueError(f"ImpedanceConfig.max_pos_error must be > 0, got {self.max_pos_error!r}")


def quat_error_world(quat_goal: np.ndarray, quat_cur: np.ndarray, mat_cur: np.ndarray) -> np.ndarray:
    """Rotation vector (world frame) that turns ``quat_cur`` into ``quat_goal``."""
    err = np.zeros(3)
    mujoco.mju_subQuat(err, quat_goal, quat_cur)  # expressed in the current frame
    return mat_cur @ err


class CartesianImpedanceController:
    """Computes arm joint torques for one physics step from the current state and the target pose."""

    def __init__(self, model: mujoco.MjModel, site: str, dofs: np.ndarray, qpos_adr: np.ndarray,
                 q_home: np.ndarray, torque_limits: np.ndarray, config: ImpedanceConfig | None = None):
        self.model = model
        self.config = config or ImpedanceConfig()
        self.site_id = model.site(site).id
        self.dofs = np.asarray(dofs)
        self.qpos_adr = np.asarray(qpos_adr)
        self.q_home = np.asarray(q_home, float)
        self.torque_limits = np.asarray(torque_limits, float)
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._mfull = np.zeros((model.nv, model.nv))
        self._quat = np.zeros(4)
        self.pos_d = np.zeros(3)  # filtered equilibrium pose (what the spring pulls toward)
        self.quat_d = np.array([1.0, 0.0, 0.0, 0.0])
        self.pos_target = np.zeros(3)  # latest accepted equilibrium pose
        self.quat_target = np.array([1.0, 0.0, 0.0, 0.0])
        cfg = self.config
        self._kp = np.array([cfg.kp_pos] * 3 + [cfg.kp_rot] * 3)
        self._kd = 2.0 * cfg.damping_ratio * np.sqrt(self._kp)
        self._kd_null = 2.0 * np.sqrt(cfg.kp_null)
        self._steps_since_refresh = 0
        self._mass = self._lam = self._null = None

    def reset(self, pos: np.ndarray, quat: np.ndarray) -> None:
        """Start holding ``pos``/``quat`` with no filter transient."""
        self.pos_d[:] = self.pos_target[:] = pos
        self.quat_d[:] = self.quat_target[:] = quat
        self._steps_since_refresh = 0

    def set_target(self, pos: np.ndarray, quat: np.ndarray) -> None:
        self.pos_target[:] = pos
        self.quat_target[:] = quat / np.linalg.norm(quat)

    def _filter(self, dt: float) -> None:
        tau = self.config.filter_tau
        alpha = 1.0 if tau <= 0 else 1.0 - np.exp(-dt / tau)
        self.pos_d += alpha * (self.pos_target - self.pos_d)
        if np.dot(self.quat_target, self.quat_d) < 0:  # same rotation, shortest path
            self.quat_d = -self.quat_d
        # normalized lerp: for the small per-step alpha it equals Franka's slerp to first order
        self.quat_d += alpha * (self.quat_target - self.quat_d)
        self.quat_d /= np.linalg.norm(self.quat_d)

    def _refresh_dynamics(self, data: mujoco.MjData, jac: np.ndarray) -> None:
        """Mass matrix, task-space inertia Λ and the dynamically consistent null-space projector."""
        mujoco.mj_fullM(self.model, data, self._mfull)
        mass = self._mfull[np.ix_(self.dofs, self.dofs)]
        mass_inv = np.linalg.inv(mass)
        lam = np.linalg.pinv(jac @ mass_inv @ jac.T, rcond=1e-4)
        jbar = mass_inv @ jac.T @ lam  # J̄ = M⁻¹ Jᵀ Λ
        self._mass, self._lam = mass, lam
        self._null = np.eye(len(self.dofs)) - jac.T @ jbar.T  # N = I − Jᵀ J̄ᵀ

    def torques(self, data: mujoco.MjData) -> np.ndarray:
        """Arm joint torques for one physics step (call between ``mj_step1`` and ``mj_step2``)."""
        cfg, m, sid = self.config, self.model, self.site_id
        self._filter(m.opt.timestep)
        mujoco.mj_jacSite(m, data, self._jacp, self._jacr, sid)
        jac = np.concatenate([self._jacp[:, self.dofs], self._jacr[:, self.dofs]])
        if self._steps_since_refresh <= 0:
            self._refresh_dynamics(data, jac)
            self._steps_since_refresh = max(1, int(round(1.0 / (cfg.dynamics_rate_hz * m.opt.timestep))))
        self._steps_since_refresh -= 1
        qd = data.qvel[self.dofs]

        err = np.empty(6)
        err[:3] = self.pos_d - data.site_xpos[sid]
        norm = np.sqrt(err[0] ** 2 + err[1] ** 2 + err[2] ** 2)
        if norm > cfg.max_pos_error:
            err[:3] *= cfg.max_pos_error / norm
        mujoco.mju_mat2Quat(self._quat, data.site_xmat[sid])
        err[3:] = quat_error_world(self.quat_d, self._quat, data.site_xmat[sid].reshape(3, 3))
        acc = self._kp * err - self._kd * (jac @ qd)
        tau_task = jac.T @ (self._lam @ acc)
        # Posture toward home, projected so it does not disturb the EE.
        q = data.qpos[self.qpos_adr]
        tau_post = self._mass @ (cfg.kp_null * (self.q_home - q) - self._kd_null * qd)
        tau = tau_task + self._null @ tau_post + data.qfrc_bias[self.dofs]
        return np.clip(tau, -self.torque_limits, self.torque_limits)
