"""goal_proposal node (PTP on ONNX Runtime) in its own process over DDS: subgoals keep the state's stamp,
a NaN goal is dropped and counted, a wrong bundle refuses to start."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from subgoal.bringup import Bringup, BringupConfig, NodeSpec, resolve_executable  # noqa: E402
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, STATUS_QOS, to_time  # noqa: E402
from subgoal_ros.images import vector_array, vector_msg  # noqa: E402
from subgoal_ros.testing import spin_until, wait_for_subscribers  # noqa: E402

NS = "/gp_test"


def test_ptp_node_proposes_subgoals_and_drops_nan_goals(ptp_bundle, tmp_path, ros_domain_id):
    b = Bringup(BringupConfig(tmp_path / "c.yaml", [NodeSpec(
        "goal_proposal", "subgoal_ros", "goal_proposal", NS,
        {"method": "ptp", "bundle": str(ptp_bundle), "reach_threshold": 0.1})]), tmp_path / "run")
    rclpy.init()
    node = rclpy.create_node("gp_test")
    subs, diag = [], {}
    node.create_subscription(Image, f"{NS}/subgoal/latent", subs.append, COMMAND_QOS)

    def on_diag(m):
        for s in m.status:
            if s.name == f"{NS}/goal_proposal":
                diag.update({kv.key: kv.value for kv in s.values})

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, STATUS_QOS)
    state_pub = node.create_publisher(Image, f"{NS}/latent", SENSOR_QOS)
    goal_pub = node.create_publisher(Image, f"{NS}/goal/latent", COMMAND_QOS)
    b.start()
    try:
        assert wait_for_subscribers(node, goal_pub, timeout_s=60)
        goal_pub.publish(vector_msg(np.array([float("nan"), 0.0]), to_time(0.0)))
        sent = []
        for k in range(30):
            stamp = to_time(1000.0 + k * 0.1)
            sent.append((stamp.sec, stamp.nanosec))
            state_pub.publish(vector_msg(np.array([-0.7, -0.7]), stamp))
            spin_until(node, lambda: False, 0.05)
        assert not subs, "planned on a NaN goal"
        goal_pub.publish(vector_msg(np.array([0.7, -0.7]), to_time(0.0)))
        k = 30
        while len(subs) < 3 and k < 200:
            stamp = to_time(1000.0 + k * 0.1)
            sent.append((stamp.sec, stamp.nanosec))
            state_pub.publish(vector_msg(np.array([-0.7, -0.7]), stamp))
            spin_until(node, lambda: False, 0.11)
            k += 1
        assert len(subs) >= 3
        spin_until(node, lambda: int(diag.get("count_bad_goal", 0)) >= 1, 5)
    finally:
        codes = b.stop()
        node.destroy_node()
        rclpy.shutdown()
    assert codes == {"goal_proposal": 0}
    sg = vector_array(subs[0])
    assert sg.shape == (2,) and np.all(np.isfinite(sg))
    assert all((m.header.stamp.sec, m.header.stamp.nanosec) in sent for m in subs)
    assert int(diag["count_bad_goal"]) >= 1


def test_policy_bundle_is_refused(tmp_path):
    from subgoal.bundle.synthetic import policy_bundle

    bundle = policy_bundle(tmp_path / "pol")
    exe = resolve_executable("subgoal_ros", "goal_proposal")
    r = subprocess.run([str(exe), "--ros-args", "-r", "__ns:=/gp_bad", "-p", f"bundle:={bundle}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "configure failed" in r.stderr and "kind" in r.stderr.lower(), r.stderr
