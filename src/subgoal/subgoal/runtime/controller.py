"""Core of the residual controller node: policy target (or teleop) → safe equilibrium pose.

    command = safety( ee + P(ee → target) + scale · residual(obs) )

Sources, by priority: e-stop (latched) > teleop (while its twist is fresh) > policy target (while
fresh) > hold. Every input carries the time it arrived; robot state older than ``stale_periods``
control periods, or a policy target older than ``target_timeout_s`` (two periods of the 10 Hz policy
plus jitter), is ignored, so a dead policy node makes the arm hold within two policy periods (the node
keeps publishing the held pose, so the robot-side impedance controller never sees a gap either).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from subgoal.control import PGains, Pose, ResidualComposer, SafetyFilter, SafetyLimits, p_step
from subgoal.control.safety import norm

ResidualFn = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass
class ControllerConfig:
    control_rate_hz: float = 20.0        #: rate of equilibrium_pose commands
    kp_x: float = 1.0                    #: P gains toward the policy target (seed 001 ch. 6: 1, 1, 0.3)
    kp_y: float = 1.0
    kp_z: float = 1.0
    residual_scale: float = 1.0          #: 0 disables the learned residual
    max_residual: float = 0.02           #: m; larger residuals are dropped for that step
    teleop_timeout_s: float = 0.3        #: teleop overrides the policy while its twist is this fresh
    target_timeout_s: float = 0.25       #: policy target older than this → hold (2 periods of a 10 Hz policy + jitter)
    max_step: float = 0.01               #: m per period (SafetyLimits)
    max_rotation: float = 0.1            #: rad per period
    max_lead: float = 0.05               #: m; equilibrium kept this close to the measured EE (sim LEASH)
    max_force: float = 30.0              #: N, then back off
    stale_periods: float = 2.0
    workspace_low: tuple[float, float, float] = SafetyLimits.workspace_low    #: command box (base frame, m)
    workspace_high: tuple[float, float, float] = SafetyLimits.workspace_high  #: must contain the arm's start pose

    def __post_init__(self) -> None:
        if not self.control_rate_hz > 0:
            raise ValueError(f"control_rate_hz must be > 0, got {self.control_rate_hz!r}")
        PGains((self.kp_x, self.kp_y, self.kp_z))  # validates
        # ROS hands arrays over as lists: keep tuples (hashable, immutable); SafetyLimits validates the box
        self.workspace_low = tuple(float(v) for v in self.workspace_low)
        self.workspace_high = tuple(float(v) for v in self.workspace_high)
        self.limits()

    @property
    def period_s(self) -> float:
        return 1.0 / self.control_rate_hz

    def limits(self) -> SafetyLimits:
        return SafetyLimits(workspace_low=self.workspace_low, workspace_high=self.workspace_high,
                            max_step=self.max_step, max_rotation=self.max_rotation, max_lead=self.max_lead,
                            max_force=self.max_force, stale_periods=self.stale_periods)


@dataclass
class Stamped:
    value: object
    stamp_s: float


@dataclass
class ControlOutput:
    pose: Pose | None
    gripper: float | None
    source: str                           #: estop | teleop | policy | hold | idle
    source_stamp_s: float | None = None   #: stamp of the observation behind a policy command
    counts: dict[str, int] = field(default_factory=dict)


class ControllerCore:
    def __init__(self, config: ControllerConfig, residual_fn: ResidualFn | None = None) -> None:
        self.config = config
        self.gains = PGains((config.kp_x, config.kp_y, config.kp_z))
        self.safety = SafetyFilter(config.limits(), config.period_s)
        self.composer = ResidualComposer(config.residual_scale, config.max_residual)
        self.residual_fn = residual_fn
        self.ee: Stamped | None = None
        self.force: Stamped | None = None
        self.torque: np.ndarray | None = None  #: torque of the last wrench (stamped with ``force``)
        self.target: Stamped | None = None
        self.policy_gripper: Stamped | None = None
        self.teleop_twist: Stamped | None = None
        self.teleop_gripper: Stamped | None = None
        self._target_source_stamp: float | None = None

    # inputs --------------------------------------------------------------
    def on_ee_pose(self, pos, quat, stamp_s: float) -> None:
        new = Pose(np.asarray(pos, float), np.asarray(quat, float))
        if self.ee is not None and new.finite() and self.ee.value.finite() \
                and norm(new.pos - self.ee.value.pos) > self.config.max_lead:
            # the EE jumped farther than any motion between two state samples: the arm was moved
            # under us (sim reset, home move): start from where it is now
            self.safety.reanchor()
            self.target = None
        self.ee = Stamped(new, stamp_s)

    def on_wrench(self, force, stamp_s: float, torque=None) -> None:
        """External force (N) and, when the source reports it, torque (Nm about the TCP, base frame).
        The torque says *where* a contact is (lever arm = torque / force): on a rim it tells on which
        side of the peg the hole lies, which the residual needs and the force alone does not show."""
        self.force = Stamped(np.asarray(force, float), stamp_s)
        self.torque = None if torque is None else np.asarray(torque, float)

    def on_target(self, pos, quat, stamp_s: float, source_stamp_s: float | None = None) -> None:
        """``source_stamp_s``: header stamp of the target (the camera/state stamp it was computed from),
        carried to the output so pipeline latency can be measured end to end."""
        self.target = Stamped(Pose(np.asarray(pos, float), np.asarray(quat, float)), stamp_s)
        self._target_source_stamp = source_stamp_s

    def on_policy_gripper(self, width: float, stamp_s: float) -> None:
        self.policy_gripper = Stamped(float(width), stamp_s)

    def on_teleop(self, linear, stamp_s: float) -> None:
        self.teleop_twist = Stamped(np.asarray(linear, float), stamp_s)

    def on_teleop_gripper(self, width: float, stamp_s: float) -> None:
        self.teleop_gripper = Stamped(float(width), stamp_s)

    def estop(self) -> None:
        self.safety.estop(self.ee.value if self.ee else None)

    def reset_estop(self) -> None:
        self.safety.reset_estop()

    # loop ----------------------------------------------------------------
    def _fresh(self, s: Stamped | None, now_s: float, timeout_s: float) -> bool:
        return s is not None and now_s - s.stamp_s <= timeout_s

    def step(self, now_s: float) -> ControlOutput:
        cfg, saf = self.config, self.safety
        stale_s = cfg.stale_periods * cfg.period_s
        ee = self.ee.value if self.ee else None
        ee_stamp = self.ee.stamp_s if self.ee else None
        force = self.force.value if self._fresh(self.force, now_s, stale_s) else None
        gripper = None
        desired: Pose | None = None
        if saf.estopped:
            source = "estop"
        elif self._fresh(self.teleop_twist, now_s, cfg.teleop_timeout_s) and saf.last is not None:
            source = "teleop"
            desired = Pose(saf.last.pos + self.teleop_twist.value * cfg.period_s, saf.last.quat)
            if self._fresh(self.teleop_gripper, now_s, cfg.teleop_timeout_s):
                gripper = self.teleop_gripper.value
        elif self._fresh(self.target, now_s, cfg.target_timeout_s) and ee is not None:
            source = "policy"
            tgt = self.target.value
            step = p_step(ee.pos, tgt.pos, self.gains)
            if self.residual_fn is not None:
                fresh = force is not None
                obs = {"ee_pos": ee.pos, "ee_quat": ee.quat, "goal_pos": tgt.pos,
                       "force": force if fresh else np.zeros(3),
                       "torque": self.torque if fresh and self.torque is not None else np.zeros(3)}
                try:
                    residual = self.residual_fn(obs)
                except (ValueError, RuntimeError, FloatingPointError):
                    self.composer.counts["residual_error"] += 1
                    residual = None
                step = self.composer.compose(step, residual)
            desired = Pose(ee.pos + step, tgt.quat)
            if self._fresh(self.policy_gripper, now_s, cfg.target_timeout_s):
                gripper = self.policy_gripper.value
        else:
            source = "hold" if saf.last is not None else "idle"
        # hold / idle: no target, so the filter holds the last command (or the current pose at start)
        pose = saf.filter(now_s, ee, ee_stamp, desired, force)
        stamp = self._target_source_stamp if source == "policy" else None
        return ControlOutput(pose, saf.gripper(gripper), source, source_stamp_s=stamp,
                             counts={**saf.counts, **self.composer.counts})
