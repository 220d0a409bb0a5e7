"""Scripted pick / carry / place motions shared by the experts (state-based, so they recover).

Every decision is re-derived from the current state (is the cube between the fingers? is the
gripper closed on nothing?) rather than from a phase counter, so after a random-walk detour
(suboptimality knob) or a slipped grasp the expert simply picks up where the state says.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from subgoal.sim.tasks.base import toward

if TYPE_CHECKING:  # pragma: no cover
    from subgoal.sim.core import Sim

OPEN, CLOSE = 1.0, -1.0
HOVER = 0.10  # TCP height for moves above the table (m)


def holding(sim: "Sim", obj_pos: np.ndarray, obj_half: float) -> bool:
    """Cube between the pads: TCP near its centre and the fingers stopped by it (not closed on air)."""
    width = sim.gripper_width()
    near = np.linalg.norm(sim.ee_pose()[0] - obj_pos) < 0.02
    return bool(near and 2 * obj_half - 0.012 < width < 2 * obj_half + 0.006)


def pick_action(sim: "Sim", obj_pos: np.ndarray, obj_half: float) -> np.ndarray:
    """One step of: open above the object, descend, close."""
    ee = sim.ee_pose()[0]
    width = sim.gripper_width()
    xy_err = np.linalg.norm(ee[:2] - obj_pos[:2])
    if width < 2 * obj_half - 0.012 and xy_err < 0.03 and ee[2] < obj_pos[2] + 0.03:
        # closed on nothing (missed): open and back off upward
        return toward(sim, [ee[0], ee[1], HOVER], OPEN)
    if xy_err > 0.012:
        height = HOVER if xy_err > 0.03 else max(obj_pos[2] + 0.04, ee[2] - 0.01)
        target = [obj_pos[0], obj_pos[1], height]
        return toward(sim, target, OPEN)
    if ee[2] - obj_pos[2] > 0.008:
        open_enough = width > 2 * obj_half + 0.01
        return toward(sim, obj_pos, OPEN if open_enough or ee[2] - obj_pos[2] > 0.03 else OPEN)
    return toward(sim, obj_pos, CLOSE)


def carry_action(sim: "Sim", target: np.ndarray, lift: float = HOVER) -> np.ndarray:
    """Holding the object: rise to ``lift`` first, then move to ``target``."""
    ee = sim.ee_pose()[0]
    if np.linalg.norm(ee[:2] - target[:2]) > 0.03 and ee[2] < min(lift, target[2]) - 0.015:
        return toward(sim, [ee[0], ee[1], max(lift, target[2])], CLOSE)
    if np.linalg.norm(ee[:2] - target[:2]) > 0.03:
        return toward(sim, [target[0], target[1], max(lift, target[2])], CLOSE)
    return toward(sim, target, CLOSE)
