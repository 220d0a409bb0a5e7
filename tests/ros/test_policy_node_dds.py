"""Policy node in its own process with the sim arm and the controller, over real DDS."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from subgoal.bringup import Bringup, BringupConfig, NodeSpec, resolve_executable  # noqa: E402
from subgoal_ros.conversions import COMMAND_QOS, STATUS_QOS, to_time  # noqa: E402
from subgoal_ros.images import vector_msg  # noqa: E402
from subgoal_ros.testing import spin_until, wait_for_publishers, wait_for_subscribers  # noqa: E402

from subgoal.bundle.synthetic import policy_bundle  # noqa: E402


def _graph(ns: str, bundle, tmp):
    return Bringup(BringupConfig(tmp / "c.yaml", [
        NodeSpec("sim", "subgoal_ros", "sim", ns, {"task": "reach", "lowpoly": True, "camera_rate_hz": 0.0}),
        NodeSpec("policy", "subgoal_ros", "policy", ns, {"bundle": str(bundle), "goal_topic": "goal/state"}),
        NodeSpec("residual_controller", "subgoal_ros", "residual_controller", ns, {})]), tmp / "run")


@pytest.fixture
def ros_node(ros_domain_id):
    rclpy.init()
    node = rclpy.create_node("policy_test")
    yield node
    node.destroy_node()
    rclpy.shutdown()


@pytest.mark.parametrize("poison", [False, True], ids=["ok", "nan_model"])
def test_policy_drives_controller_and_nan_is_guarded(ros_node, tmp_path, poison):
    ns = "/pol_nan" if poison else "/pol_ok"
    b = _graph(ns, policy_bundle(tmp_path / "bundle", poison=poison), tmp_path)
    targets, diag = [], {}
    ros_node.create_subscription(PoseStamped, f"{ns}/policy/target_pose", targets.append, COMMAND_QOS)

    def on_diag(m: DiagnosticArray) -> None:
        for s in m.status:
            if s.name == f"{ns}/policy":
                diag.update({kv.key: kv.value for kv in s.values})

    ros_node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, STATUS_QOS)
    goal = ros_node.create_publisher(Image, f"{ns}/goal/state", COMMAND_QOS)
    b.start()
    try:
        assert wait_for_subscribers(ros_node, goal, timeout_s=60)
        goal.publish(vector_msg(np.array([0.55, 0.1, 0.25]), to_time(0.0)))
        assert spin_until(ros_node, lambda: int(diag.get("count_ok", 0)) + int(diag.get("count_output_nonfinite", 0)) > 5, 90), diag
    finally:
        codes = b.stop()
    assert codes == {"sim": 0, "policy": 0, "residual_controller": 0}
    if poison:
        assert not targets and int(diag["count_output_nonfinite"]) > 5
    else:
        assert len(targets) > 5 and all(np.isfinite(t.pose.position.x) for t in targets)


def test_policy_without_a_valid_bundle_refuses_to_start(tmp_path):
    exe = resolve_executable("subgoal_ros", "policy")
    r = subprocess.run([str(exe), "--ros-args", "-r", "__ns:=/nobundle", "-p", f"bundle:={tmp_path / 'nothing'}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "configure failed" in r.stderr, r.stderr
