"""The sim node over real DDS, in its own process: it behaves like an arm with an impedance controller."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Bool, Float64  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from subgoal.bringup import Bringup, BringupConfig, NodeSpec, resolve_executable  # noqa: E402
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, STATUS_QOS  # noqa: E402
from subgoal_ros.images import image_array  # noqa: E402
from subgoal_ros.testing import spin_until, wait_for_publishers, wait_for_service, wait_for_subscribers  # noqa: E402

NS = "/simtest"


@pytest.fixture(scope="module")
def sim_graph(tmp_path_factory, ros_domain_id):
    cfg = BringupConfig(tmp_path_factory.mktemp("sim") / "c.yaml", [NodeSpec(
        "sim", "subgoal_ros", "sim", namespace=NS,
        parameters={"task": "reach", "seed": 3, "lowpoly": True, "camera_rate_hz": 10.0})])
    b = Bringup(cfg, tmp_path_factory.mktemp("run"))
    b.start()
    rclpy.init()
    node = rclpy.create_node("sim_test")
    try:
        state = {"pose": None, "image": None, "js": None, "success": None}
        node.create_subscription(PoseStamped, f"{NS}/ee_pose", lambda m: state.__setitem__("pose", m), SENSOR_QOS)
        node.create_subscription(Image, f"{NS}/camera/image_raw", lambda m: state.__setitem__("image", m), SENSOR_QOS)
        node.create_subscription(JointState, f"{NS}/joint_states", lambda m: state.__setitem__("js", m), SENSOR_QOS)
        node.create_subscription(Bool, f"{NS}/task/success", lambda m: state.__setitem__("success", m), STATUS_QOS)
        pub = node.create_publisher(PoseStamped, f"{NS}/equilibrium_pose", COMMAND_QOS)
        grip = node.create_publisher(Float64, f"{NS}/gripper/command", COMMAND_QOS)
        reset = node.create_client(Trigger, f"{NS}/reset")
        assert wait_for_publishers(node, f"{NS}/ee_pose", timeout_s=60), "sim node never came up"
        assert wait_for_subscribers(node, pub, timeout_s=30)
        assert wait_for_service(node, reset, timeout_s=30)
        assert spin_until(node, lambda: all(v is not None for v in state.values()), 30), state
        yield node, state, pub, grip, reset
    finally:  # also on a failed setup: never leave the graph running
        codes = b.stop()
        node.destroy_node()
        rclpy.shutdown()
    assert codes == {"sim": 0}


def _pos(state) -> np.ndarray:
    p = state["pose"].pose.position
    return np.array([p.x, p.y, p.z])


def _command(pub, pos, quat_wxyz=(0.0, 1.0, 0.0, 0.0)) -> None:
    m = PoseStamped()
    m.header.frame_id = "base"
    m.pose.position.x, m.pose.position.y, m.pose.position.z = map(float, pos)
    o = m.pose.orientation
    o.w, o.x, o.y, o.z = map(float, quat_wxyz)
    pub.publish(m)


def _reset(node, client) -> None:
    fut = client.call_async(Trigger.Request())
    assert spin_until(node, fut.done, 15)
    assert fut.result().success


def _quat(state):
    o = state["pose"].pose.orientation
    return (o.w, o.x, o.y, o.z)


def test_streams_look_like_a_robot(sim_graph):
    node, state, *_ = sim_graph
    img = image_array(state["image"], expect_hw=(48, 48))
    assert img.shape == (48, 48, 3) and img.dtype == np.uint8 and img.std() > 1.0
    assert len(state["js"].name) == 9 and all(np.isfinite(state["js"].position))
    assert state["pose"].header.frame_id == "base"
    assert isinstance(state["success"].data, bool)


def test_equilibrium_pose_moves_the_arm_and_reset_restores_home(sim_graph):
    node, state, pub, grip, reset = sim_graph
    _reset(node, reset)
    spin_until(node, lambda: False, 0.5)
    home, quat = _pos(state), _quat(state)
    target = home + np.array([0.06, -0.05, 0.04])
    _command(pub, target, quat)
    assert spin_until(node, lambda: np.linalg.norm(_pos(state) - target) < 0.01, 5), _pos(state)
    grip.publish(Float64(data=0.0))
    _reset(node, reset)
    assert spin_until(node, lambda: np.linalg.norm(_pos(state) - home) < 0.01, 5), _pos(state)


@pytest.mark.parametrize("bad_quat", [(float("nan"), 1.0, 0.0, 0.0), (0.0, 2.0, 0.0, 0.0)])
def test_bad_quaternion_is_rejected_and_the_arm_holds(sim_graph, bad_quat):
    node, state, pub, _, reset = sim_graph
    _reset(node, reset)
    spin_until(node, lambda: False, 0.5)
    hold = _pos(state)
    _command(pub, hold + np.array([0.1, 0.1, 0.1]), bad_quat)
    spin_until(node, lambda: False, 1.5)
    assert np.linalg.norm(_pos(state) - hold) < 0.005


def test_pose_outside_workspace_is_clamped(sim_graph):
    node, state, pub, _, reset = sim_graph
    _reset(node, reset)
    spin_until(node, lambda: False, 0.5)
    quat = _quat(state)
    _command(pub, (0.5, 0.0, 5.0), quat)  # 5 m up: clamped to the workspace top (0.55 m)
    assert spin_until(node, lambda: _pos(state)[2] > 0.45, 5)
    spin_until(node, lambda: False, 1.0)
    assert _pos(state)[2] < 0.6


def test_unknown_task_is_a_clear_startup_error():
    exe = resolve_executable("subgoal_ros", "sim")
    r = subprocess.run([str(exe), "--ros-args", "-p", "task:=juggle"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "juggle" in r.stderr and "cannot start" in r.stderr
