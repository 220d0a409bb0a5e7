"""Always-on safety for every command that goes to the arm's impedance controller.

Order of checks in :meth:`SafetyFilter.filter` (each one counted and logged once):
1. e-stop latched → hold the pose where the e-stop happened, until :meth:`reset_estop`;
2. state (ee pose) missing, stale, or non-finite → hold the last safe command;
3. external force above ``max_force`` → back off along the force (away from the contact);
4. target non-finite / bad quaternion → hold; otherwise
5. limit the step from the current equilibrium: ``max_step`` translation, ``max_rotation`` per period
   — pro rata of the time since the last command, so they are true speed limits however often the
   controller sends — keep it within ``max_lead`` of the measured EE (the same leash as the sim's
   ``apply_action``, so datasets and deployment agree), then clamp into the workspace box.
Why the reference is the *last command* and not the measured pose: the impedance controller tracks
the equilibrium; limiting relative to the measured EE would let a blocked arm wind up force.

This runs every control period (100 Hz) in the controller node, so the 3-/4-vector math avoids numpy's
per-call overhead where a cheaper exact equivalent exists (:func:`norm`, :func:`finite`: np.linalg.norm
of a vector *is* sqrt(v·v); ``bench/controller_step.py`` times it) — same numbers, ~5× less time.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)


def norm(v: np.ndarray) -> float:
    """Euclidean norm of a 1-D float vector: exactly ``np.linalg.norm(v)`` (which computes sqrt(v·v)),
    without its Python-level dispatch."""
    return math.sqrt(v.dot(v))


def finite(v) -> bool:
    """``np.all(np.isfinite(v))`` for the small vectors of the control loop, without ufunc overhead."""
    return all(map(math.isfinite, np.asarray(v).ravel().tolist()))


@dataclass(frozen=True)
class SafetyLimits:
    workspace_low: tuple[float, float, float] = (0.25, -0.4, 0.0)   #: box (base frame, m)
    workspace_high: tuple[float, float, float] = (0.85, 0.4, 0.55)
    max_step: float = 0.01          #: max translation of the equilibrium per control period (m)
    max_rotation: float = 0.1       #: max rotation of the equilibrium per control period (rad)
    max_lead: float = 0.05          #: max distance (m) of the equilibrium from the measured EE (leash)
    max_force: float = 30.0         #: external force (N) above which the command backs off
    backoff: float = 0.01           #: how far (m) to back off along the external force
    stale_periods: float = 2.0      #: inputs older than this many control periods are stale
    max_gripper: float = 0.08       #: gripper opening range [0, max] (m)

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.workspace_low, float), np.asarray(self.workspace_high, float)
        if lo.shape != (3,) or hi.shape != (3,) or not np.all(lo < hi):
            raise ValueError(f"workspace needs low < high (3 values each), got {self.workspace_low} / {self.workspace_high}")
        for name in ("max_step", "max_rotation", "max_lead", "max_force", "backoff", "stale_periods", "max_gripper"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be finite and > 0, got {v!r}")
        # the box as arrays once (not a tuple → array conversion every step); not dataclass fields
        object.__setattr__(self, "_low", lo)
        object.__setattr__(self, "_high", hi)


@dataclass
class Pose:
    pos: np.ndarray
    quat: np.ndarray  # wxyz

    def finite(self) -> bool:
        return finite(self.pos) and finite(self.quat)


def _unit_quat(q: np.ndarray, tol: float = 1e-2) -> np.ndarray | None:
    q = np.asarray(q, float)
    if q.shape != (4,):
        return None
    n = norm(q)
    if not math.isfinite(n) or abs(n - 1.0) > tol:
        return None
    return q / n


def quat_angle(a: np.ndarray, b: np.ndarray) -> float:
    d = abs(min(max(float(np.dot(a, b)), -1.0), 1.0))
    return 2.0 * float(np.arccos(d))


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    if np.dot(a, b) < 0:
        b = -b
    d = float(np.clip(np.dot(a, b), -1.0, 1.0))
    if d > 0.9995:
        q = a + t * (b - a)
        return q / np.linalg.norm(q)
    th = np.arccos(d)
    return (np.sin((1 - t) * th) * a + np.sin(t * th) * b) / np.sin(th)


@dataclass
class SafetyFilter:
    limits: SafetyLimits = field(default_factory=SafetyLimits)
    period_s: float = 0.05
    counts: Counter = field(default_factory=Counter)
    last: Pose | None = None          #: last command sent (what the arm holds)
    estop_pose: Pose | None = None
    _logged: set = field(default_factory=set)
    _last_emit_s: float | None = None

    def _event(self, kind: str, detail: str = "", *args: object) -> None:
        """Count ``kind``; log it the first time. ``detail % args`` is only formatted then: printing
        numpy arrays costs ~1 ms, which a model emitting NaN every step must not add to each step."""
        self.counts[kind] += 1
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("safety: %s %s (logged once; counted in diagnostics)", kind, detail % args if args else detail)

    @property
    def estopped(self) -> bool:
        return self.estop_pose is not None

    def estop(self, ee: Pose | None) -> None:
        """Latch the e-stop: hold where the arm is (or the last command if the state is unknown)."""
        if self.estop_pose is None:
            hold = ee if ee is not None and ee.finite() else self.last
            self.estop_pose = Pose(hold.pos.copy(), hold.quat.copy()) if hold is not None else None
            self._event("estop")
            if self.estop_pose is None:  # nothing known to hold: still latched, no command
                self.estop_pose = Pose(np.full(3, np.nan), np.full(4, np.nan))

    def reanchor(self) -> None:
        """Forget the last command: the next one starts from the measured pose (after a home move,
        a sim reset, or on activation)."""
        if self.last is not None:
            self._event("reanchored")
        self.last = None
        self._last_emit_s = None

    def reset_estop(self) -> None:
        self.estop_pose = None
        self._logged.discard("estop")

    def stale(self, stamp_s: float | None, now_s: float) -> bool:
        return stamp_s is None or now_s - stamp_s > self.limits.stale_periods * self.period_s

    def filter(self, now_s: float, ee: Pose | None, ee_stamp_s: float | None, target: Pose | None,
               force: np.ndarray | None = None) -> Pose | None:
        """The command to send this period, or None when there is nothing safe to send yet."""
        L = self.limits
        if self.estop_pose is not None:
            return self._hold(self.estop_pose) if self.estop_pose.finite() else None
        if ee is None or self.stale(ee_stamp_s, now_s) or not ee.finite():
            self._event("state_stale_or_invalid")
            return self._hold(self.last)
        if self.last is None:  # first command starts where the arm is
            self.last = Pose(ee.pos.copy(), ee.quat.copy())
        elif norm(self.last.pos - ee.pos) > 2 * L.max_lead:
            # the arm is far from anything this filter commanded (the leash keeps it within
            # max_lead): it was moved by someone else — a reset, a home move, a hand. Start over
            # from where it is instead of dragging it back.
            self._event("reanchored")
            self.last = Pose(ee.pos.copy(), ee.quat.copy())
        f = None if force is None else np.asarray(force, float)
        if f is not None and finite(f) and norm(f) > L.max_force:
            self._event("force_backoff", "|F|=%.1f N", norm(f))
            return self._emit(Pose(ee.pos + L.backoff * f / norm(f), self.last.quat))
        if target is None:
            self._event("no_target")
            return self._hold(self.last)
        quat = _unit_quat(target.quat)
        if quat is None or not finite(target.pos):
            self._event("target_invalid", "pos=%s quat=%s", target.pos, target.quat)
            return self._hold(self.last)
        # limits are per nominal period: a command sent sooner (on a fresh target) gets the share of
        # the period that has passed, so extra commands never raise the speed limit
        frac = 1.0 if self._last_emit_s is None else min(max((now_s - self._last_emit_s) / self.period_s, 0.0), 1.0)
        max_step, max_rot = L.max_step * frac, L.max_rotation * frac
        step = np.asarray(target.pos, float) - self.last.pos
        n = norm(step)
        if n > max_step:
            self._event("step_limited")
            step *= max_step / n
        ang = quat_angle(self.last.quat, quat)
        if ang > max_rot:
            self._event("rotation_limited")
            quat = slerp(self.last.quat, quat, max_rot / ang)
        self._last_emit_s = now_s
        pos = self.last.pos + step
        lead = pos - ee.pos
        dist = norm(lead)
        if dist > L.max_lead:  # the leash: a blocked or slow arm cannot wind up spring force
            self._event("lead_limited")
            pos = ee.pos + lead * (L.max_lead / dist)
        return self._emit(Pose(pos, quat))

    def _emit(self, pose: Pose) -> Pose:
        pos = np.asarray(pose.pos, float)
        clamped = np.minimum(np.maximum(pos, self.limits._low), self.limits._high)  # = np.clip
        if clamped.tolist() != pos.tolist():
            self._event("workspace_clamped")
        q = np.asarray(pose.quat, float)
        self.last = Pose(clamped, q / norm(q))
        return self.last

    def _hold(self, pose: Pose | None) -> Pose | None:
        if pose is None:
            return None
        self.last = Pose(pose.pos.copy(), pose.quat.copy())
        return self.last

    def gripper(self, width: float | None) -> float | None:
        if width is None or not math.isfinite(width):
            if width is not None:
                self._event("gripper_invalid")
            return None
        return min(max(float(width), 0.0), float(self.limits.max_gripper))  # = np.clip for finite width
