"""Cartesian impedance controller: acceptance (8 random targets, 1 cm, 1.5 s) and input safety."""
import logging

import numpy as np
import pytest

from subgoal.sim import ImpedanceConfig, Sim


@pytest.mark.parametrize("robot", ["panda", "sawyer"])
def test_reaches_8_random_targets_within_1cm_in_1p5s(robot):
    sim = Sim(robot=robot, task="reach", seed=0)
    rng = np.random.default_rng(123)
    _, quat = sim.home_pose()
    for _ in range(8):
        target = rng.uniform([0.35, -0.25, 0.05], [0.7, 0.25, 0.4])
        assert sim.set_equilibrium_pose(target, quat)
        t0, reached = sim.time, None
        while sim.time - t0 < 1.5 and reached is None:
            sim.step(0.01)
            if np.linalg.norm(sim.ee_pose()[0] - target) < 0.01:
                reached = sim.time - t0
        assert reached is not None, f"{robot} missed {target}: error {np.linalg.norm(sim.ee_pose()[0] - target):.4f} m"
        sim.step(0.3)  # and it stays there (settles, no oscillation)
        assert np.linalg.norm(sim.ee_pose()[0] - target) < 0.01
        assert abs(abs(np.dot(sim.ee_pose()[1], quat)) - 1) < 1e-3


def test_workspace_clamp_and_bad_quaternions_are_handled(caplog):
    sim = Sim(task="reach", seed=1)
    pos0, quat = sim.home_pose()
    with caplog.at_level(logging.WARNING, logger="subgoal.sim.safety"):
        assert sim.set_equilibrium_pose(np.array([5.0, 0.0, 0.2]), quat)  # clamped, accepted
        assert sim.set_equilibrium_pose(np.array([5.0, 0.0, 0.3]), quat)
        target = sim.equilibrium_pose()[0]
        assert target[0] == pytest.approx(sim.guard.workspace.high[0])
        good = np.array([0.55, 0.05, 0.2])
        assert sim.set_equilibrium_pose(good, quat)
        assert not sim.set_equilibrium_pose(np.array([0.6, 0.0, np.nan]), quat)
        assert not sim.set_equilibrium_pose(good + 0.05, np.array([np.nan, 0, 0, 1.0]))
        assert not sim.set_equilibrium_pose(good + 0.05, np.array([0.0, 2.0, 0.0, 0.0]))
        assert not sim.set_equilibrium_pose(good + 0.05, np.array([0.0, 0.0, 0.0, 0.0]))
    sim.step(1.0)
    assert np.linalg.norm(sim.ee_pose()[0] - good) < 0.01  # held the last valid target
    assert np.allclose(sim.equilibrium_pose()[0], good)
    counts = sim.guard.counts
    assert counts["clamped_workspace"] == 2 and counts["rejected_nan_position"] == 1
    assert counts["rejected_nan_quaternion"] == 1 and counts["rejected_non_unit_quaternion"] == 2
    messages = [r.getMessage() for r in caplog.records]
    assert sum("clamped_workspace" in msg for msg in messages) == 1  # logged once
    assert sum("rejected_non_unit_quaternion" in msg for msg in messages) == 1


def test_gripper_width_command():
    sim = Sim(robot="panda", task="reach")
    sim.set_gripper(0.03)
    sim.step(0.5)
    assert sim.gripper_width() == pytest.approx(0.03, abs=3e-3)  # finger frictionloss 1 N vs kp 1000
    sim.set_gripper(1.0)  # clipped to the hardware maximum
    sim.step(0.5)
    assert sim.gripper_width() == pytest.approx(0.08, abs=3e-3)
    names, q, qd, effort = sim.joint_state()
    assert names[0] == "panda_joint1" and len(names) == len(q) == len(qd) == len(effort) == 9


def test_bad_impedance_config():
    with pytest.raises(ValueError, match="kp_pos.*-1"):
        ImpedanceConfig(kp_pos=-1)
