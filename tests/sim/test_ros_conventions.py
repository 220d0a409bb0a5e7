"""The sim reports joints like a real arm: finger joints positive when opening, so the observation
rule shared by datasets and nodes (sum of finger joints) gives the gripper opening on both arms."""
from __future__ import annotations

import numpy as np
import pytest

from subgoal.runtime.observations import gripper_width
from subgoal.sim import Sim


@pytest.mark.parametrize("robot", ["panda", "sawyer"])
def test_finger_joints_sum_to_the_opening(robot):
    with Sim(robot=robot, task="reach", seed=0) as sim:
        for width in (sim.robot.gripper.max_width, 0.5 * sim.robot.gripper.max_width):
            sim.set_gripper(width)
            sim.step(1.0)
            names, q, _, _ = sim.joint_state()
            assert np.all(q[-2:] >= -1e-4)
            assert gripper_width(names, q) + sim.robot.gripper.width_offset == pytest.approx(sim.gripper_width(), abs=1e-6)
