"""Our gripper/command width -> franka_gripper move/grasp goals (the pure mapping; franka_msgs is absent here)."""
from __future__ import annotations

import math

import pytest

from subgoal.hardware.franka_gripper import GripperMapper, GripperMapperConfig


def test_width_force_speed_and_grasp_vs_move():
    m = GripperMapper(GripperMapperConfig(max_width=0.08, speed=0.05, force=30.0, grasp_below=0.01))
    g = m.goal_for(0.05)
    assert (g.kind, g.width, g.speed, g.force) == ("move", 0.05, 0.05, 0.0)
    assert m.goal_for(0.5).width == 0.08  # clipped to the hand's opening
    grasp = m.goal_for(0.004)
    assert grasp.kind == "grasp" and grasp.force == 30.0 and grasp.speed == 0.05
    assert grasp.width == 0.0 and grasp.epsilon_inner >= 0.08 and grasp.epsilon_outer >= 0.08  # any object
    assert m.goal_for(-1.0).kind == "grasp"


def test_rate_limit_deadband_and_immediate_kind_switch():
    m = GripperMapper(GripperMapperConfig(deadband=0.005, min_interval_s=0.5))
    assert m.step(0.08, 0.0).kind == "move"
    assert m.step(0.078, 0.05) is None  # within the deadband
    assert m.step(0.05, 0.10) is None  # changed, but too soon after the last goal
    assert m.step(0.05, 0.60).width == 0.05  # sent once the interval passed
    assert m.step(0.0, 0.61).kind == "grasp"  # closing is sent at once
    assert m.step(0.0, 5.0) is None  # holding: no re-squeeze
    assert m.step(0.08, 5.01).kind == "move"  # opening is sent at once


def test_bad_commands_are_refused_and_counted():
    m = GripperMapper()
    assert m.step(math.nan, 0.0) is None and m.step(math.inf, 0.1) is None
    assert m.rejected == 2 and "finite" in m.last_reject_reason
    with pytest.raises(ValueError, match="grasp_below"):
        GripperMapperConfig(max_width=0.08, grasp_below=0.1)
    with pytest.raises(ValueError, match="force"):
        GripperMapperConfig(force=0.0)
