"""Core of the ``goal_target`` node: a fixed goal pose → a steady ``policy/target_pose`` stream.

Why a node at all: the residual controller follows a *target* that must stay fresh (it holds after
``target_timeout_s``), and a task like ``insert`` has no learned policy in front of the controller — the
user commands one pose (the believed hole) and the P controller + learned residual do the rest
(seed 001 ch. 6). This core is that user: it keeps the last commanded goal and repeats it at the node's
rate while active. ``clear()`` (on deactivate, i.e. around a reset) forgets it, so the next episode never
sees the previous episode's goal — the sim publishes the new one during the reset.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GoalTargetConfig:
    rate_hz: float = 10.0                       #: target publications per second (the policy node's rate)
    goal_topic: str = "task/commanded_pose"     #: geometry_msgs/PoseStamped, latched by the sim for insert

    def __post_init__(self) -> None:
        if not self.rate_hz > 0:
            raise ValueError(f"GoalTargetConfig.rate_hz must be > 0, got {self.rate_hz!r}")


class GoalTargetCore:
    """``on_goal(pos, quat)`` stores the goal; ``target()`` returns it (or ``None`` before any / after ``clear``)."""

    def __init__(self, config: GoalTargetConfig | None = None) -> None:
        self.config = config or GoalTargetConfig()
        self._goal: tuple[np.ndarray, np.ndarray] | None = None
        self.goals_received = 0

    def on_goal(self, pos, quat_wxyz) -> None:
        pos, quat = np.asarray(pos, float).reshape(3), np.asarray(quat_wxyz, float).reshape(4)
        n = float(np.linalg.norm(quat))
        if not (np.all(np.isfinite(pos)) and np.isfinite(n) and n > 1e-6):
            raise ValueError(f"goal pose must be finite with a non-zero quaternion, got {pos}, {quat}")
        self._goal = (pos, quat / n)
        self.goals_received += 1

    def clear(self) -> None:
        self._goal = None

    def target(self) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self._goal is None else (self._goal[0].copy(), self._goal[1].copy())
