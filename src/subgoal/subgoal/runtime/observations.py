"""Observation keys from robot messages — ONE definition shared by the dataset builder (bags → HDF5)
and the deployed nodes (live topics → policy input), so a policy sees at run time exactly the numbers it
was trained on.

Conventions (they follow the ROS messages, not MuJoCo): ``ee_quat`` is **x, y, z, w**;
``gripper_width`` is the sum of the finger joint positions (joints whose name contains ``finger``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

FINGER_SUBSTRING = "finger"


def ee_obs(position_xyz: Sequence[float], orientation_xyzw: Sequence[float]) -> dict[str, np.ndarray]:
    return {"ee_pos": np.asarray(position_xyz, np.float32).reshape(3),
            "ee_quat": np.asarray(orientation_xyzw, np.float32).reshape(4)}


def finger_mask(names: Sequence[str], substring: str = FINGER_SUBSTRING) -> np.ndarray:
    return np.array([substring in n for n in names], bool)


def gripper_width(names: Sequence[str], positions: Sequence[float], substring: str = FINGER_SUBSTRING) -> float:
    mask = finger_mask(names, substring)
    if not mask.any():
        raise ValueError(f"no joint name contains {substring!r} (joints: {list(names)})")
    return float(np.asarray(positions, np.float64)[mask].sum())


def joint_obs(names: Sequence[str], positions: Sequence[float], substring: str = FINGER_SUBSTRING) -> dict[str, np.ndarray]:
    pos = np.asarray(positions, np.float64)
    mask = finger_mask(names, substring)
    out = {"joint_pos": pos[~mask].astype(np.float32)}
    if mask.any():
        out["gripper_width"] = np.array([pos[mask].sum()], np.float32)
    return out
