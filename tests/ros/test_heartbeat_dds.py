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


def test_sigusr1_dumps_a_running_nodes_stacks_into_the_log_and_the_node_goes_on(ros_node, tmp_path):
    """What `subgoal eval` does when the evaluation fails: a stuck node leaves its Python stack in nodes.log."""
    cfg = BringupConfig(tmp_path / "x.yaml", [
        NodeSpec("heartbeat", "subgoal_ros", "heartbeat", namespace="hb_dump", parameters={"rate_hz": 50.0})])
    seqs: list[int] = []
    ros_node.create_subscription(DiagnosticArray, "/hb_dump/heartbeat",
                                 lambda m: seqs.append(int({kv.key: kv.value for kv in m.status[0].values}["seq"])),
                                 STATUS_QOS)
    log_file = tmp_path / "nodes.log"
    bringup = Bringup(cfg, tmp_path / "run", log_file=log_file)
    bringup.start()
    try:
        assert wait_for_publishers(ros_node, "/hb_dump/heartbeat", timeout_s=20), "node never appeared"
        assert spin_until(ros_node, lambda: len(seqs) > 0, 10), "no message received"
        assert bringup.dump_stacks() == ["heartbeat"]
        assert spin_until(ros_node, lambda: "most recent call first" in log_file.read_text(), 10), \
            f"no stack in the log: {log_file.read_text()[-2000:]}"
        n = len(seqs)
        assert spin_until(ros_node, lambda: len(seqs) > n + 10, 10), "the node stopped after dumping its stack"
    finally:
        codes = bringup.stop()
    text = log_file.read_text()
    assert "[heartbeat] Thread" in text or "[heartbeat] Current thread" in text
    assert codes == {"heartbeat": 0}
    assert bringup.dump_stacks() == []  # nothing left to signal
