"""``teleop_controller`` node: ``teleop/twist`` + ``teleop/gripper`` -> ``equilibrium_pose`` + ``gripper/command``.

Thin shell over :class:`subgoal.runtime.teleop_control.TeleopController` (integration rules there,
the same as the sim's ``apply_action``). Publishes at ``rate_hz`` (10 Hz) while enabled and anchored,
holding the target when no fresh twist arrives. Service ``teleop_controller/enable`` (std_srvs/SetBool):
false stops output (e.g. around a sim reset), true re-anchors at the first EE pose stamped after the call.
"""
from __future__ import annotations

import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.node import Node
from std_msgs.msg import Float64
from std_srvs.srv import SetBool

from subgoal.runtime.diagnostics import RateLatencyMonitor
from subgoal.runtime.teleop_control import TeleopControlConfig, TeleopController
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, STATUS_QOS, diagnostics_msg, from_time
from subgoal_ros.node_main import run_node
from subgoal_ros.params import declare_config


class TeleopControllerNode(Node):
    def __init__(self) -> None:
        super().__init__("teleop_controller")
        self.frame_id = self.declare_parameter("frame_id", "base").value
        cfg = declare_config(self, TeleopControlConfig)
        self.core = TeleopController(cfg)
        self.monitor = RateLatencyMonitor(self.get_fully_qualified_name(), expected_hz=cfg.rate_hz)
        self.pub_pose = self.create_publisher(PoseStamped, "equilibrium_pose", COMMAND_QOS)
        self.pub_grip = self.create_publisher(Float64, "gripper/command", COMMAND_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", STATUS_QOS)
        self.create_subscription(PoseStamped, "ee_pose", self._on_pose, SENSOR_QOS)
        self.create_subscription(TwistStamped, "teleop/twist", self._on_twist, COMMAND_QOS)
        self.create_subscription(Float64, "teleop/gripper", self._on_gripper, COMMAND_QOS)
        self.create_service(SetBool, "teleop_controller/enable", self._on_enable)
        self.create_timer(1.0 / cfg.rate_hz, self._tick)
        self.create_timer(1.0, self._diagnostics)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_pose(self, msg: PoseStamped) -> None:
        p, o = msg.pose.position, msg.pose.orientation
        self.core.on_ee_pose((p.x, p.y, p.z), (o.w, o.x, o.y, o.z), from_time(msg.header.stamp))

    def _on_twist(self, msg: TwistStamped) -> None:
        v = msg.twist.linear
        self.core.on_twist((v.x, v.y, v.z), self._now())

    def _on_gripper(self, msg: Float64) -> None:
        self.core.on_gripper(msg.data, self._now())

    def _on_enable(self, req: SetBool.Request, resp: SetBool.Response) -> SetBool.Response:
        if req.data:
            self.core.enable(self._now())
        else:
            self.core.disable()
        resp.success, resp.message = True, "enabled" if req.data else "disabled"
        return resp

    def _tick(self) -> None:
        out = self.core.step(self._now())
        if out is None:
            return
        msg = PoseStamped()
        msg.header.stamp, msg.header.frame_id = self.get_clock().now().to_msg(), self.frame_id
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = map(float, out.position)
        o = msg.pose.orientation
        o.w, o.x, o.y, o.z = map(float, out.quat_wxyz)
        self.pub_pose.publish(msg)
        if out.gripper is not None:
            self.pub_grip.publish(Float64(data=out.gripper))
        self.monitor.tick(time.monotonic())

    def _diagnostics(self) -> None:
        extra = {"enabled": str(self.core.enabled), "anchored": str(self.core.anchored)}
        self.pub_diag.publish(diagnostics_msg([self.monitor.status(time.monotonic(), extra)], time.time()))


def main(args: list[str] | None = None) -> int:
    return run_node(TeleopControllerNode, args, "teleop_controller")


if __name__ == "__main__":
    sys.exit(main())
