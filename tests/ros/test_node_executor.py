"""The executor choice of ``node_main.spin``: the events executor delivers and stops cleanly on SIGTERM
(exit code 0, as bringup expects), and a bad ``SUBGOAL_EXECUTOR`` is refused with a clear message."""
from __future__ import annotations

import os
import subprocess

import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402

from subgoal.bringup import Bringup, BringupConfig, NodeSpec, resolve_executable  # noqa: E402
from subgoal_ros.conversions import STATUS_QOS  # noqa: E402
from subgoal_ros.testing import spin_until, wait_for_publishers  # noqa: E402


@pytest.fixture
def ros_node(ros_domain_id):
    rclpy.init()
    node = rclpy.create_node("executor_test")
    yield node
    node.destroy_node()
    rclpy.shutdown()


def test_events_executor_delivers_and_stops_with_exit_code_0(ros_node, tmp_path):
    cfg = BringupConfig(tmp_path / "x.yaml", [
        NodeSpec("heartbeat", "subgoal_ros", "heartbeat", namespace="ev_test", parameters={"rate_hz": 50.0})],
        env={"SUBGOAL_EXECUTOR": "events"})
    beats: list[DiagnosticArray] = []
    ros_node.create_subscription(DiagnosticArray, "/ev_test/heartbeat", beats.append, STATUS_QOS)
    b = Bringup(cfg, tmp_path / "run")
    b.start()
    try:
        assert wait_for_publishers(ros_node, "/ev_test/heartbeat", timeout_s=30), "node never appeared"
        assert spin_until(ros_node, lambda: len(beats) >= 20, 20), f"only {len(beats)} beats"
    finally:
        codes = b.stop()
    assert codes == {"heartbeat": 0}


def test_unknown_executor_is_refused_with_its_name(ros_domain_id):
    exe = resolve_executable("subgoal_ros", "heartbeat")
    p = subprocess.run([str(exe)], env={**os.environ, "SUBGOAL_EXECUTOR": "multi"}, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2
    assert "SUBGOAL_EXECUTOR must be 'single' or 'events', got 'multi'" in p.stderr
