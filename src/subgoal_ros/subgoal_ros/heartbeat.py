"""``heartbeat`` node: numbered beats on ``heartbeat`` plus ``/diagnostics``.

Thin shell over :class:`subgoal.runtime.heartbeat.HeartbeatCore`. The beat is a
``diagnostic_msgs/DiagnosticArray`` (standard type, stamped, with ``seq`` in its values) so any
ROS tool can read it.
"""
from __future__ import annotations

import sys

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.node import Node

from subgoal.runtime.heartbeat import HeartbeatCore
from subgoal_ros.conversions import STATUS_QOS, diagnostics_msg
from subgoal_ros.node_main import run_node


class HeartbeatNode(Node):
    def __init__(self) -> None:
        super().__init__("heartbeat")
        rate = self.declare_parameter(
            "rate_hz", 10.0,
            ParameterDescriptor(
                description="beats per second",
                floating_point_range=[FloatingPointRange(from_value=0.1, to_value=1000.0)],
                read_only=True,
            ),
        ).value
        self.core = HeartbeatCore(self.get_fully_qualified_name(), rate)
        self.pub = self.create_publisher(DiagnosticArray, "heartbeat", STATUS_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", STATUS_QOS)
        self.create_timer(1.0 / rate, self._beat)
        self.create_timer(1.0, self._diagnostics)
        self._last = None
        self.get_logger().info(f"beating at {rate} Hz on {self.pub.topic_name}")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _beat(self) -> None:
        beat = self.core.step(self._now())
        self._last = beat
        self.pub.publish(diagnostics_msg([beat.status], beat.stamp_s))

    def _diagnostics(self) -> None:
        if self._last is not None:
            self.diag_pub.publish(diagnostics_msg([self._last.status], self._now()))


def main(args: list[str] | None = None) -> int:
    return run_node(HeartbeatNode, args, "heartbeat")


if __name__ == "__main__":
    sys.exit(main())
