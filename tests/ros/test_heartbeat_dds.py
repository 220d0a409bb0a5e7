"""A real node in another process, received over real DDS (Fast DDS on loopback)."""
from __future__ import annotations

import time

import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402

from subgoal.bringup import Bringup, BringupConfig, NodeSpec  # noqa: E402
from subgoal_ros.conversions import STATUS_QOS  # noqa: E402
from subgoal_ros.testing import spin_until, wait_for_publishers  # noqa: E402


@pytest.fixture
def ros_node(ros_domain_id):
    rclpy.init()
    node = rclpy.create_node("test_listener")
    yield node
    node.destroy_node()
    rclpy.shutdown()


def test_heartbeat_node_delivers_99_percent_of_300_messages(ros_node, tmp_path):
    cfg = BringupConfig(tmp_path / "x.yaml", [
        NodeSpec("heartbeat", "subgoal_ros", "heartbeat", namespace="hb_test", parameters={"rate_hz": 100.0})])
    seqs: list[int] = []

    def on_beat(msg: DiagnosticArray) -> None:
        values = {kv.key: kv.value for kv in msg.status[0].values}
        seqs.append(int(values["seq"]))

    ros_node.create_subscription(DiagnosticArray, "/hb_test/heartbeat", on_beat, STATUS_QOS)
    bringup = Bringup(cfg, tmp_path / "run")
    bringup.start()
    try:
        assert wait_for_publishers(ros_node, "/hb_test/heartbeat", timeout_s=20), "node never appeared"
        assert spin_until(ros_node, lambda: len(seqs) > 0, 10), "no message received"
        first = seqs[0]
        assert spin_until(ros_node, lambda: seqs[-1] >= first + 299, 15), f"only reached seq {seqs[-1]}"
    finally:
        codes = bringup.stop()
    window = {s for s in seqs if first <= s < first + 300}
    assert len(window) >= 297, f"received {len(window)}/300"
    assert codes == {"heartbeat": 0}, f"node did not exit cleanly on SIGTERM: {codes}"
    # beats are numbered without gaps on the sender side: the sequence is monotonic
    assert seqs == sorted(seqs)
