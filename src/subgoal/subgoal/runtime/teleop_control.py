"""Core of the teleop controller node: ``teleop/twist`` integrated at 10 Hz into ``equilibrium_pose``.

The same rules as :meth:`subgoal.sim.Sim.apply_action`, so a demo recorded through ROS and an
action replayed in the sim move the impedance target the same way: the target moves by
``v * dt`` from where it was, is kept on a leash of ``leash`` metres around the *measured* EE (a
blocked arm cannot wind up a large spring force), then clamped to the workspace box; orientation
is held at the pose the arm had when the controller was enabled. ``teleop/gripper`` (opening, m) is
forwarded unchanged to ``gripper/command``.

:func:`integrate_twist` is the pure step; the residual controller of a later issue reuses it for
the teleop override.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: = ACTION_SCALE / POLICY_DT of the sim: |a| = 1 per axis at 10 Hz.
MAX_SPEED = 0.3
#: = subgoal.sim.core.LEASH
LEASH = 0.05


def integrate_twist(target: np.ndarray, velocity: np.ndarray, dt: float, ee_pos: np.ndarray,
                    max_speed: float = MAX_SPEED, leash: float = LEASH,
                    low: np.ndarray | None = None, high: np.ndarray | None = None) -> np.ndarray:
    """Next equilibrium position: ``target + clip(v, ±max_speed) * dt``, leashed to ``ee_pos``, in the box."""
    v = np.clip(np.nan_to_num(np.asarray(velocity, float), nan=0.0), -max_speed, max_speed)
    nxt = np.asarray(target, float) + v * float(dt)
    offset = nxt - ee_pos
    dist = float(np.linalg.norm(offset))
    if dist > leash:
        nxt = ee_pos + offset * (leash / dist)
    if low is not None and high is not None:
        nxt = np.clip(nxt, low, high)
    return nxt


@dataclass
class TeleopControlConfig:
    """Parameters of the teleop controller node."""

    rate_hz: float = 10.0              #: equilibrium_pose / gripper/command publish rate
    max_speed: float = MAX_SPEED       #: per-axis speed limit (m/s)
    leash: float = LEASH               #: max distance of the target from the measured EE (m)
    twist_timeout_s: float = 0.3       #: an older twist counts as zero (dead man)
    workspace_low: tuple[float, float, float] = (0.25, -0.4, 0.0)   #: = subgoal.sim.safety.Workspace
    workspace_high: tuple[float, float, float] = (0.85, 0.4, 0.55)

    def __post_init__(self) -> None:
        for name in ("rate_hz", "max_speed", "leash", "twist_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TeleopControlConfig.{name} must be > 0, got {getattr(self, name)!r}")
        lo, hi = np.asarray(self.workspace_low, float), np.asarray(self.workspace_high, float)
        if lo.shape != (3,) or hi.shape != (3,) or not np.all(lo < hi):
            raise ValueError(f"TeleopControlConfig workspace needs low < high (3 values each), got "
                             f"{self.workspace_low} / {self.workspace_high}")


@dataclass
class ControlOutput:
    position: np.ndarray
    quat_wxyz: np.ndarray
    gripper: float | None  # None until a teleop/gripper value arrived since enable


class TeleopController:
    """``step(now)`` at ``rate_hz``: the command to publish, or None while disabled / not anchored.

    ``enable(now)`` re-anchors: the target becomes the first EE pose stamped at or after ``now``
    (so a pose measured before a sim reset is never used) and the gripper is forgotten.
    """

    def __init__(self, config: TeleopControlConfig | None = None) -> None:
        self.config = config or TeleopControlConfig()
        self.enabled = True
        self._anchor_after = -np.inf
        self.target: np.ndarray | None = None
        self.quat: np.ndarray | None = None
        self.ee: np.ndarray | None = None
        self.gripper: float | None = None
        self._v = np.zeros(3)
        self._v_time = -np.inf
        self.steps = 0

    def enable(self, now: float) -> None:
        self.enabled, self._anchor_after = True, now
        self.target = self.quat = self.ee = None
        self.gripper, self._v, self._v_time = None, np.zeros(3), -np.inf

    def disable(self) -> None:
        self.enabled = False

    def on_ee_pose(self, pos: np.ndarray, quat_wxyz: np.ndarray, stamp: float) -> None:
        if stamp < self._anchor_after:
            return
        self.ee = np.asarray(pos, float)
        if self.target is None and self.enabled:
            self.target, self.quat = self.ee.copy(), np.asarray(quat_wxyz, float)

    def on_twist(self, linear: np.ndarray, now: float) -> None:
        self._v, self._v_time = np.asarray(linear, float), now

    def on_gripper(self, width: float, now: float) -> None:
        if np.isfinite(width):
            self.gripper = float(width)

    @property
    def anchored(self) -> bool:
        return self.target is not None

    def step(self, now: float) -> ControlOutput | None:
        c = self.config
        if not self.enabled or self.target is None or self.ee is None:
            return None
        fresh = now - self._v_time <= c.twist_timeout_s
        v = self._v if fresh else np.zeros(3)
        self.target = integrate_twist(self.target, v, 1.0 / c.rate_hz, self.ee, c.max_speed, c.leash,
                                      np.asarray(c.workspace_low), np.asarray(c.workspace_high))
        self.steps += 1
        return ControlOutput(self.target.copy(), self.quat.copy(), self.gripper)
