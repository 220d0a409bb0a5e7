"""Safety and residual composition: every bad input is guarded, counted, and the arm holds."""
from __future__ import annotations

import numpy as np
import pytest

from subgoal.control import Pose, ResidualComposer, SafetyFilter, SafetyLimits, p_step
from subgoal.runtime.controller import ControllerConfig, ControllerCore

Q = np.array([0.0, 1.0, 0.0, 0.0])
HOME = np.array([0.5, 0.0, 0.3])


def core(**kw) -> ControllerCore:
    c = ControllerCore(ControllerConfig(control_rate_hz=20.0, **kw))
    c.on_ee_pose(HOME, Q, 0.0)
    return c


def test_p_step_uses_per_axis_gains():
    step = p_step(np.zeros(3), np.ones(3))
    assert np.allclose(step, [1.0, 1.0, 0.3])


def test_policy_target_is_tracked_with_step_limit():
    c = core()
    c.on_target(HOME + [0.1, 0, 0], Q, 0.0)
    out = c.step(0.01)
    assert out.source == "policy"
    assert np.allclose(out.pose.pos, HOME + [0.01, 0, 0])  # max_step 1 cm per period
    assert out.counts["step_limited"] == 1


def test_stale_policy_makes_the_arm_hold_within_two_periods():
    c = core()
    c.on_target(HOME + [0.005, 0, 0], Q, 0.0)
    first = c.step(0.01).pose.pos.copy()
    c.on_ee_pose(first, Q, 0.3)
    out = c.step(0.3)  # target is 0.3 s old > target_timeout_s (0.25 s)
    assert out.source == "hold"
    assert np.allclose(out.pose.pos, first)


def test_stale_state_holds_last_command():
    c = core()
    c.on_target(HOME + [0.005, 0, 0], Q, 0.0)
    first = c.step(0.01).pose.pos.copy()
    c.on_target(HOME + [0.05, 0, 0], Q, 0.5)
    out = c.step(0.5)  # ee pose is 0.5 s old
    assert np.allclose(out.pose.pos, first)
    assert out.counts["state_stale_or_invalid"] == 1


@pytest.mark.parametrize("pos, quat", [
    (HOME + [np.nan, 0, 0], Q), (HOME, np.array([np.nan, 1, 0, 0])), (HOME, np.array([0.0, 2.0, 0, 0]))])
def test_invalid_targets_are_rejected(pos, quat):
    c = core()
    c.step(0.0)
    c.on_target(pos, quat, 0.01)
    out = c.step(0.02)
    assert np.allclose(out.pose.pos, HOME) and np.all(np.isfinite(out.pose.quat))


def test_workspace_clamp():
    c = core(max_step=10.0, max_lead=10.0)
    c.on_target([0.5, 0.0, 5.0], Q, 0.0)
    assert c.step(0.01).pose.pos[2] == pytest.approx(0.55)


def test_force_backoff_moves_away_from_contact():
    c = core()
    c.on_target(HOME + [0, 0, -0.05], Q, 0.0)
    c.on_wrench([0.0, 0.0, 50.0], 0.0)  # table pushes up on the gripper
    out = c.step(0.01)
    assert out.pose.pos[2] > HOME[2]
    assert out.counts["force_backoff"] == 1


def test_estop_latches_until_reset():
    c = core()
    c.on_target(HOME + [0.005, 0, 0], Q, 0.0)
    c.step(0.01)
    c.estop()
    for t in (0.02, 0.03):
        c.on_target(HOME + [0.05, 0, 0], Q, t)
        c.on_ee_pose(HOME, Q, t)
        out = c.step(t)
        assert out.source == "estop" and np.allclose(out.pose.pos, HOME)
    c.reset_estop()
    assert c.step(0.04).source == "policy"


def test_teleop_overrides_policy_while_fresh():
    c = core()
    c.step(0.0)
    c.on_target(HOME + [0.0, 0.05, 0], Q, 0.0)
    c.on_teleop([0.1, 0.0, 0.0], 0.0)  # 0.1 m/s in x
    out = c.step(0.01)
    assert out.source == "teleop" and out.pose.pos[0] == pytest.approx(HOME[0] + 0.005)
    assert c.step(1.0).source != "teleop"


@pytest.mark.parametrize("residual, event", [
    (np.array([np.nan, 0, 0]), "residual_nonfinite"), (np.array([np.inf, 0, 0]), "residual_nonfinite"),
    (np.array([0.5, 0, 0]), "residual_over_limit"), (np.array([0.0, 0.0]), "residual_bad_shape")])
def test_bad_residual_falls_back_to_base_controller(residual, event):
    c = ControllerCore(ControllerConfig(), residual_fn=lambda obs: residual)
    c.on_ee_pose(HOME, Q, 0.0)
    c.on_target(HOME + [0.004, 0, 0], Q, 0.0)
    out = c.step(0.01)
    assert np.allclose(out.pose.pos, HOME + [0.004, 0, 0])
    assert out.counts[event] == 1


def test_good_residual_is_added():
    c = ControllerCore(ControllerConfig(), residual_fn=lambda obs: np.array([0.0, 0.002, 0.0]))
    c.on_ee_pose(HOME, Q, 0.0)
    c.on_target(HOME + [0.004, 0, 0], Q, 0.0)
    assert np.allclose(c.step(0.01).pose.pos, HOME + [0.004, 0.002, 0])


def test_rotation_is_rate_limited():
    f = SafetyFilter(SafetyLimits(max_rotation=0.1), 0.05)
    ee = Pose(HOME.copy(), Q.copy())
    rot = np.array([np.cos(0.5), np.sin(0.5), 0.0, 0.0])  # far from Q
    out = f.filter(0.0, ee, 0.0, Pose(HOME.copy(), rot))
    from subgoal.control.safety import quat_angle
    assert quat_angle(out.quat, Q) == pytest.approx(0.1, abs=1e-6)


def test_gripper_clamped_and_nan_rejected():
    f = SafetyFilter()
    assert f.gripper(1.0) == pytest.approx(0.08) and f.gripper(float("nan")) is None


def test_bad_limits_name_the_value():
    with pytest.raises(ValueError, match="max_step"):
        SafetyLimits(max_step=-1)
    with pytest.raises(ValueError, match="scale"):
        ResidualComposer(scale=float("nan"))


def test_policy_output_carries_the_observation_stamp():
    c = core()
    c.on_target(HOME + [0.004, 0, 0], Q, 0.0, source_stamp_s=-0.03)
    assert c.step(0.01).source_stamp_s == -0.03
    c.on_teleop([0.1, 0, 0], 0.02)
    assert c.step(0.02).source_stamp_s is None


def test_step_limit_is_a_speed_limit_however_often_commands_go_out():
    c = core()  # 20 Hz: 1 cm per 50 ms
    c.on_target(HOME + [0.1, 0, 0], Q, 0.0)
    x0 = c.step(0.0).pose.pos[0]
    xs = [c.step(0.05 + k * 0.005).pose.pos[0] for k in range(11)]  # 11 commands within 50 ms
    assert xs[-1] - x0 <= 0.02 + 1e-9  # 0.1 s at 1 cm / 50 ms, not 12 cm for 12 commands


def test_equilibrium_stays_on_a_leash_around_the_measured_ee():
    c = core(max_step=1.0)
    c.on_target(HOME + [0.3, 0, 0], Q, 0.0)
    assert c.step(0.01).pose.pos[0] == pytest.approx(HOME[0] + 0.05)


def test_arm_moved_by_someone_else_is_reanchored_not_dragged_back():
    c = core()
    c.on_target(HOME + [0.005, 0, 0], Q, 0.0)
    c.step(0.01)
    moved = HOME + [0.0, 0.3, 0.0]  # e.g. a sim reset / home move elsewhere
    c.on_ee_pose(moved, Q, 0.02)
    c.on_target(moved, Q, 0.02)
    out = c.step(0.03)
    assert np.linalg.norm(out.pose.pos - moved) < 1e-6 and out.counts["reanchored"] == 1


def test_ee_jump_between_samples_reanchors_and_drops_the_old_target():
    c = core()
    c.on_target(HOME + [0.005, 0, 0], Q, 0.0)
    c.step(0.01)
    home2 = HOME + [0.0, 0.08, 0.0]  # 8 cm in one sample: a reset, not motion
    c.on_ee_pose(home2, Q, 0.02)
    out = c.step(0.03)
    assert out.source in ("hold", "idle") and np.allclose(out.pose.pos, home2)
