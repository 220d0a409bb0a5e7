"""Guard on the equilibrium-pose input: the only way a learned model or a person moves the sim arm.

Same rules as a real deployment: a pose outside the workspace box is clamped into it; a NaN/inf
position or a quaternion that is NaN or not unit-norm is rejected and the arm keeps holding the last
valid target. Each kind of event is logged once (a 1 kHz stream of warnings helps nobody) and
counted, so diagnostics can report how often it happened.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Workspace:
    """Axis-aligned box (base frame, metres) the EE target is kept in."""

    low: tuple[float, float, float] = (0.25, -0.4, 0.0)
    high: tuple[float, float, float] = (0.85, 0.4, 0.55)

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.low, float), np.asarray(self.high, float)
        if lo.shape != (3,) or hi.shape != (3,) or not np.all(np.isfinite(lo)) or not np.all(lo < hi):
            raise ValueError(f"Workspace needs finite low < high (3 values each), got {self.low} / {self.high}")


@dataclass
class EquilibriumGuard:
    """Validates (pos, quat_wxyz) targets; counts and logs-once clamp / reject events."""

    workspace: Workspace = field(default_factory=Workspace)
    quat_norm_tol: float = 1e-2  # |‖q‖ − 1| above this is "not a unit quaternion"
    counts: Counter = field(default_factory=Counter)
    _logged: set = field(default_factory=set)

    def event(self, kind: str, detail: str) -> None:
        """Count an event of ``kind`` and log it the first time (also for callers outside the guard)."""
        self.counts[kind] += 1
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("equilibrium pose %s: %s (logged once; see counts)", kind, detail)

    def check(self, pos: np.ndarray, quat_wxyz: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Return the (possibly clamped) pose to apply, or None when it must be rejected."""
        pos = np.asarray(pos, dtype=float).reshape(-1)
        quat = np.asarray(quat_wxyz, dtype=float).reshape(-1)
        if pos.shape != (3,) or quat.shape != (4,):
            self.event("rejected_shape", f"pos shape {pos.shape}, quat shape {quat.shape}")
            return None
        if not np.all(np.isfinite(pos)):
            self.event("rejected_nan_position", f"pos={pos}")
            return None
        if not np.all(np.isfinite(quat)):
            self.event("rejected_nan_quaternion", f"quat={quat}")
            return None
        norm = float(np.linalg.norm(quat))
        if abs(norm - 1.0) > self.quat_norm_tol:
            self.event("rejected_non_unit_quaternion", f"|q|={norm:.4f}")
            return None
        clamped = np.clip(pos, self.workspace.low, self.workspace.high)
        if not np.array_equal(clamped, pos):
            self.event("clamped_workspace", f"pos={pos} -> {clamped}")
        return clamped, quat / norm
