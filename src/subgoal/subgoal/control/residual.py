"""Residual composition u = π_H(s) + scale · π_θ(s) (seed 001 ch. 5–6), with a fallback that never
lets a bad model output reach the arm.

The same function runs in training (sim) and in the deployed controller node, so what is trained is
what runs. A residual that is NaN/Inf, has the wrong shape, or exceeds ``max_residual`` is dropped for
that step (the base controller acts alone) and the event is counted for ``/diagnostics``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from subgoal.control.safety import finite, norm


@dataclass
class ResidualComposer:
    scale: float = 1.0          #: multiplies the learned residual (0 = base controller only)
    max_residual: float = 0.02  #: largest accepted residual step norm (m) after scaling
    counts: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.scale) and self.scale >= 0):
            raise ValueError(f"scale must be finite and >= 0, got {self.scale!r}")
        if not self.max_residual > 0:
            raise ValueError(f"max_residual must be > 0, got {self.max_residual!r}")

    def compose(self, base: np.ndarray, residual: np.ndarray | None) -> np.ndarray:
        base = np.asarray(base, float)
        if residual is None:
            return base
        r = np.asarray(residual, float).reshape(-1) * self.scale
        if r.shape != base.shape:
            self.counts["residual_bad_shape"] += 1
            return base
        if not finite(r):
            self.counts["residual_nonfinite"] += 1
            return base
        if norm(r) > self.max_residual:
            self.counts["residual_over_limit"] += 1
            return base
        self.counts["residual_applied"] += 1
        return base + r
