"""Joint-space reset-to-home fallback (used when moveit_py is not installed, as here)."""
from __future__ import annotations

import numpy as np
import pytest

from subgoal.hardware.home import moveit_available, plan_joint_move


def test_move_ends_at_home_within_velocity_limits_and_synchronised():
    start = np.array([0.3, -0.5, 0.1, -2.0, 0.0, 1.8, 0.2])
    home = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])
    vmax = np.array([2.0, 1.0, 1.5, 1.25, 3.0, 1.5, 3.0])
    mv = plan_joint_move(start, home, vmax, dt=0.01, velocity_scale=0.5)
    assert np.allclose(mv.positions[0], start) and np.allclose(mv.positions[-1], home)
    assert np.allclose(mv.velocities[0], 0) and np.allclose(mv.velocities[-1], 0)
    assert np.all(np.abs(mv.velocities) <= 0.5 * vmax + 1e-9)
    # the slowest joint reaches its limit at mid-move (the move is as fast as the limit allows)
    assert np.max(np.abs(mv.velocities) / (0.5 * vmax)) > 0.99
    # finite differences of positions agree with the reported velocities
    fd = np.diff(mv.positions, axis=0) / np.diff(mv.times)[:, None]
    mid = 0.5 * (mv.velocities[1:] + mv.velocities[:-1])
    assert np.allclose(fd, mid, atol=1e-3)
    # every joint is at the same fraction of its way at every waypoint (straight line in joint space)
    moving = home != start
    frac = (mv.positions[:, moving] - start[moving]) / (home - start)[moving]
    assert np.allclose(frac, frac[:, :1], atol=1e-9)
    assert np.all(mv.positions[:, ~moving] == start[~moving])


def test_already_home_is_a_single_point_and_bad_inputs_are_refused():
    assert plan_joint_move([0.1, 0.2], [0.1, 0.2], 1.0).duration == 0.0
    with pytest.raises(ValueError, match="outside the joint limits"):
        plan_joint_move([0, 0], [0, 3.0], 1.0, lower=[-1, -1], upper=[1, 1])
    with pytest.raises(ValueError, match="rad from home"):
        plan_joint_move([0, -3.0], [0, 1.0], 1.0)
    with pytest.raises(ValueError, match="same length"):
        plan_joint_move([0, 0, 0], [0, 0], 1.0)
    with pytest.raises(ValueError, match="positive"):
        plan_joint_move([0, 0], [0, 1], [1.0, 0.0])


def test_moveit_is_feature_detected():
    try:
        import moveit.planning  # noqa: F401
        expected = True
    except Exception:  # noqa: BLE001
        expected = False
    assert moveit_available() is expected
