"""Hand-designed base controller of residual RL: a per-axis P law toward the commanded goal.

Seed 001 ch. 6 uses k_p = [1, 1, 0.3]: full gain in the table plane, a softer vertical gain so
insertion approaches the hole without slamming into it. The output is a position *step* for one
control period, which the impedance controller then tracks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEED_KP = (1.0, 1.0, 0.3)


@dataclass(frozen=True)
class PGains:
    kp: tuple[float, float, float] = SEED_KP  #: per-axis gain (fraction of the error per step)

    def __post_init__(self) -> None:
        k = np.asarray(self.kp, float)
        if k.shape != (3,) or not np.all(np.isfinite(k)) or np.any(k < 0) or np.any(k > 1):
            raise ValueError(f"kp must be 3 gains in [0, 1], got {self.kp!r}")
        object.__setattr__(self, "_kp", k)  # as an array once, not per step (not a dataclass field)


def p_step(ee_pos: np.ndarray, goal_pos: np.ndarray, gains: PGains = PGains()) -> np.ndarray:
    """Position step (m) that moves ``ee_pos`` toward ``goal_pos`` by ``kp`` of the error per axis."""
    return gains._kp * (np.asarray(goal_pos, float) - np.asarray(ee_pos, float))
