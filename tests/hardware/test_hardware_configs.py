"""config/franka.yaml and config/sawyer.yaml map our topics onto the drivers' names (checked against
their sources, docs/hardware.md) — a typo here would only show on the robot."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from subgoal.bringup import load_config
from subgoal.hardware.home import plan_joint_move, sample_move, select_joints

ROOT = Path(__file__).resolve().parents[2]
FRANKA = {
    "ee_pose": "/franka_robot_state_broadcaster/current_pose",
    "ee_wrench": "/franka_robot_state_broadcaster/external_wrench_in_base_frame",
    "equilibrium_pose": "/cartesian_impedance_example_controller/equilibrium_pose",
    "joint_states": "/joint_states",
}
SAWYER = {
    "joint_states": "/robot/joint_states",
    "endpoint_state": "/robot/limb/right/endpoint_state",
    "joint_command": "/robot/limb/right/joint_command",
}


def _remaps(name: str) -> dict[str, dict[str, str]]:
    return {n.name: n.remappings for n in load_config(ROOT / "config" / name).nodes}


def test_franka_config_uses_franka_ros2_topic_names():
    r = _remaps("franka.yaml")
    for node in ("policy", "residual_controller"):
        for ours, theirs in r[node].items():
            assert FRANKA[ours] == theirs, f"{node}: {ours} -> {theirs}"
    assert r["residual_controller"]["ee_wrench"] == FRANKA["ee_wrench"]
    assert r["policy"]["equilibrium_pose"] == r["residual_controller"]["equilibrium_pose"]  # policy's reference
    assert r["home"]["joint_states"] == "/joint_states"


def test_sawyer_config_uses_intera_topic_names():
    r = _remaps("sawyer.yaml")
    assert r["sawyer"] == SAWYER
    assert r["policy"]["joint_states"] == SAWYER["joint_states"]


def test_select_joints_reorders_and_names_what_is_missing():
    q = select_joints(["head_pan", "right_j1", "right_j0"], [9.0, 1.0, 0.5], ["right_j0", "right_j1"])
    assert q.tolist() == [0.5, 1.0]
    with pytest.raises(ValueError, match="right_j2"):
        select_joints(["right_j0"], [0.0], ["right_j0", "right_j2"])


def test_sample_move_interpolates_and_holds_the_ends():
    mv = plan_joint_move([0.0, 0.0], [1.0, -0.5], [1.0, 1.0], dt=0.01)
    assert np.allclose(sample_move(mv, -1.0), [0.0, 0.0])
    assert np.allclose(sample_move(mv, mv.duration + 1.0), [1.0, -0.5])
    mid = sample_move(mv, mv.duration / 2)
    assert np.allclose(mid, [0.5, -0.25], atol=1e-3)  # smoothstep is half way at half time


def test_fci_sim_controller_box_contains_the_fr3_start_pose():
    """The residual controller clamps every command into its workspace box: a box below the FR3's start
    height (HOME_Q puts the flange at z 0.73, x 0.55) would yank the arm down on the first command."""
    from subgoal.runtime.controller import ControllerConfig

    node = next(n for n in load_config(ROOT / "config" / "fci_sim.yaml").nodes if n.name == "residual_controller")
    params = {k: v for k, v in node.parameters.items() if k in ControllerConfig.__dataclass_fields__}
    lim = ControllerConfig(**params).limits()
    start = np.array([0.554, 0.0, 0.732])  # FR3 link7 at HOME_Q (mujoco FK of the sim's FR3 model)
    assert np.all(start > np.array(lim.workspace_low) + 0.05) and np.all(start < np.array(lim.workspace_high) - 0.05)
