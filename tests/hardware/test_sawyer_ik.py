"""Sawyer pose -> joint mapping on the real robosuite Sawyer MJCF (MuJoCo FK checks every answer)."""
from __future__ import annotations

import numpy as np
import pytest

from subgoal.hardware.sawyer_ik import POSITION_MODE, SawyerIK, Unreachable

DOWN_WXYZ = np.array([0.0, 0.7071067811865476, 0.7071067811865476, 0.0])  # the sim's gripper-down home


@pytest.fixture(scope="module")
def ik():
    return SawyerIK()


def test_reaches_random_reachable_poses_within_a_millimetre_and_respects_limits(ik):
    rng = np.random.default_rng(7)
    for _ in range(25):
        q_true = rng.uniform(0.8 * ik.lower + 0.2 * ik.upper, 0.2 * ik.lower + 0.8 * ik.upper)
        pos, quat = ik.fk(q_true)  # a pose the arm can certainly reach
        res = ik.solve(pos, quat, quat_order="wxyz")
        assert np.all(res.q >= ik.lower) and np.all(res.q <= ik.upper)
        got_pos, got_quat = ik.fk(res.q)  # independent check through MuJoCo FK
        assert np.linalg.norm(got_pos - pos) < 1e-3
        assert abs(abs(float(np.dot(got_quat, quat))) - 1.0) < 1e-4


def test_workspace_grid_with_gripper_down_from_home(ik):
    for x in (0.35, 0.55, 0.75):
        for y in (-0.3, 0.0, 0.3):
            for z in (0.05, 0.3):
                res = ik.solve([x, y, z], DOWN_WXYZ, quat_order="wxyz", restarts=0)
                assert res.position_error < 1e-3, (x, y, z, res)


def test_xyzw_order_is_the_ros_order(ik):
    pos, quat_wxyz = ik.fk(ik.seed)
    res = ik.solve(pos, quat_wxyz[[1, 2, 3, 0]])  # default order: x y z w, as in the messages
    assert res.position_error < 1e-3 and res.rotation_error < 1e-2


def test_out_of_reach_and_impossible_targets_raise_with_the_reason(ik):
    with pytest.raises(Unreachable, match="reach is"):
        ik.solve([2.0, 0.0, 0.5], DOWN_WXYZ, quat_order="wxyz")
    # inside the reach sphere but through the base: no solution within the joint limits
    with pytest.raises(Unreachable, match="no joint solution"):
        ik.solve([0.0, 0.0, -0.9], DOWN_WXYZ, quat_order="wxyz", restarts=1)
    with pytest.raises(ValueError, match="unit quaternion"):
        ik.solve([0.5, 0.0, 0.2], [0.0, 0.0, 0.0, 0.0])


def test_joint_command_is_seeded_at_the_current_joints_and_step_limited(ik):
    cur = ik.seed.copy()
    pos, quat = ik.fk(cur)
    small = ik.joint_command(pos + [0.0, 0.01, 0.0], quat, cur, quat_order="wxyz")
    assert small["mode"] == POSITION_MODE and small["names"] == [f"right_j{i}" for i in range(7)]
    assert np.max(np.abs(np.array(small["position"]) - cur)) < 0.1  # a 1 cm move is a small joint move
    assert np.linalg.norm(ik.fk(small["position"])[0] - (pos + [0.0, 0.01, 0.0])) < 1e-3
    far = ik.joint_command([0.45, -0.4, 0.3], quat, cur, quat_order="wxyz")
    assert np.max(np.abs(np.array(far["position"]) - cur)) <= ik.max_joint_step + 1e-9
