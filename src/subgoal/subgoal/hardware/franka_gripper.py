"""Our ``gripper/command`` (one opening width in metres) -> Franka Hand goals (franka_gripper actions).

Why a mapping at all: the learned stack commands a continuous opening every control tick (20 Hz),
while the Franka Hand executes one blocking action at a time (``move``: position only, cannot hold an
object; ``grasp``: closes with a force and reports success when the final width is within
``width - epsilon.inner .. width + epsilon.outer``; ``homing``: calibrates). Sending a new goal every
tick would pre-empt the running one forever. :class:`GripperMapper` therefore

- validates and clips the width to ``[0, max_width]`` (NaN/inf is refused, with a reason);
- decides grasp vs move: a command at or below ``grasp_below`` means "close on whatever is there",
  sent as a ``grasp`` with the configured force and wide epsilons (succeeds on any object width);
  anything above is a ``move`` to that width;
- rate-limits: a new goal only when the kind changes or the width moves more than ``deadband``
  from the last sent goal, and never more often than ``min_interval_s`` — except a switch between
  grasp and move, which is sent at once (opening must never wait behind a long grasp).

The franka_gripper action definitions (franka_msgs/action/Move: width, speed; Grasp: width, epsilon
{inner, outer}, speed, force; Homing: empty) are in docs/hardware.md with their source.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Kind = Literal["move", "grasp", "homing"]


@dataclass(frozen=True)
class GripperGoal:
    """One franka_gripper action goal (fields as in franka_msgs; unused ones are 0)."""

    kind: Kind
    width: float = 0.0  #: m
    speed: float = 0.0  #: m/s
    force: float = 0.0  #: N (grasp only)
    epsilon_inner: float = 0.0  #: m (grasp only)
    epsilon_outer: float = 0.0  #: m (grasp only)


@dataclass
class GripperMapperConfig:
    max_width: float = 0.08  #: Franka Hand full opening (m); homing measures the real one
    speed: float = 0.1  #: m/s for move and grasp (hand limit ~0.2 m/s)
    force: float = 20.0  #: N grasp force (hand: continuous 70 N max)
    grasp_below: float = 0.01  #: m; a command at or below this closes with force (grasp)
    epsilon_inner: float = 0.08  #: m; wide epsilons: the grasp succeeds on any object width
    epsilon_outer: float = 0.08
    deadband: float = 0.005  #: m; smaller width changes do not re-send a move
    min_interval_s: float = 0.5  #: s between two goals of the same kind

    def __post_init__(self) -> None:
        for name in ("max_width", "speed", "force", "min_interval_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"gripper {name} must be a positive number, got {v!r}")
        for name in ("grasp_below", "epsilon_inner", "epsilon_outer", "deadband"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"gripper {name} must be >= 0, got {v!r}")
        if self.grasp_below >= self.max_width:
            raise ValueError(f"grasp_below ({self.grasp_below}) must be below max_width ({self.max_width})")


class GripperMapper:
    """Turns a stream of width commands into a sparse stream of franka_gripper goals."""

    def __init__(self, config: GripperMapperConfig | None = None) -> None:
        self.config = config or GripperMapperConfig()
        self.last_goal: GripperGoal | None = None
        self._last_sent_s = -math.inf
        self.rejected = 0  #: commands refused (NaN/inf)
        self.last_reject_reason = ""

    def homing(self, now_s: float) -> GripperGoal:
        """The homing goal (sent once at startup when asked); resets the rate limiter."""
        self.last_goal, self._last_sent_s = GripperGoal("homing"), now_s
        return self.last_goal

    def goal_for(self, width: float) -> GripperGoal:
        """The goal a width command maps to, without rate limiting (pure)."""
        c = self.config
        if not math.isfinite(width):
            raise ValueError(f"gripper command must be a finite width in metres, got {width!r}")
        w = min(max(width, 0.0), c.max_width)
        if w <= c.grasp_below:
            return GripperGoal("grasp", width=0.0, speed=c.speed, force=c.force,
                               epsilon_inner=c.epsilon_inner, epsilon_outer=c.epsilon_outer)
        return GripperGoal("move", width=w, speed=c.speed)

    def step(self, width: float, now_s: float) -> GripperGoal | None:
        """The goal to send now for command ``width`` at time ``now_s``, or None (nothing new to send)."""
        try:
            goal = self.goal_for(width)
        except ValueError as exc:
            self.rejected += 1
            self.last_reject_reason = str(exc)
            return None
        last = self.last_goal
        if last is not None and last.kind == goal.kind:
            if goal.kind == "grasp":
                return None  # already closing/holding: a repeated grasp would re-squeeze
            if abs(goal.width - last.width) <= self.config.deadband:
                return None
            if now_s - self._last_sent_s < self.config.min_interval_s:
                return None
        self.last_goal, self._last_sent_s = goal, now_s
        return goal
