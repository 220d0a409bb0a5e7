"""``scripted_teleop`` node: the sim's scripted expert as a teleop operator (``teleop/twist``, ``teleop/gripper``).

Thin shell over :class:`subgoal.runtime.scripted_teleop.ExpertMirror`: the expert decides from what
the topics say (``joint_states``, ``task/object_state``, ``task/goal_state``, ``equilibrium_pose``),
never from the sim process. Service ``scripted_teleop/enable`` (std_srvs/SetBool): true starts a new
episode of the expert (fresh per-episode memory) and publishing at ``rate_hz``; false stops.
"""
from __future__ import annotations

import sys

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64
from std_srvs.srv import SetBool

from subgoal.runtime.scripted_teleop import ExpertMirror, ScriptedTeleopConfig
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS
from subgoal_ros.images import vector_array
from subgoal_ros.node_main import run_node
from subgoal_ros.params import declare_config

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class ScriptedTeleopNode(Node):
    def __init__(self) -> None:
        super().__init__("scripted_teleop")
        self.frame_id = self.declare_parameter("frame_id", "base").value
        cfg = declare_config(self, ScriptedTeleopConfig)
        self.core = ExpertMirror(cfg)
        self.enabled = False
        self.enabled_at = 0.0
        self.js: JointState | None = None
        self.obj: np.ndarray | None = None
        self.goal: np.ndarray | None = None
        self.eq: tuple[float, np.ndarray] | None = None  # (receive time, position)
        self.pub_twist = self.create_publisher(TwistStamped, "teleop/twist", COMMAND_QOS)
        self.pub_grip = self.create_publisher(Float64, "teleop/gripper", COMMAND_QOS)
        self.create_subscription(JointState, "joint_states", lambda m: setattr(self, "js", m), SENSOR_QOS)
        self.create_subscription(Image, "task/object_state", lambda m: setattr(self, "obj", vector_array(m)), SENSOR_QOS)
        self.create_subscription(Image, "task/goal_state", lambda m: setattr(self, "goal", vector_array(m)), LATCHED)
        self.create_subscription(PoseStamped, "equilibrium_pose", self._on_eq, COMMAND_QOS)
        self.create_service(SetBool, "scripted_teleop/enable", self._on_enable)
        self.create_timer(1.0 / cfg.rate_hz, self._tick)
        self.get_logger().info(f"scripted expert for {cfg.robot}/{cfg.task}, p={cfg.p}, seed={cfg.seed}")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_eq(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        self.eq = (self._now(), np.array([p.x, p.y, p.z]))

    def _on_enable(self, req: SetBool.Request, resp: SetBool.Response) -> SetBool.Response:
        if req.data:
            episode = self.core.new_episode()
            self.enabled, self.enabled_at = True, self._now()
            resp.message = f"expert episode {episode}"
        else:
            self.enabled = False
            resp.message = "stopped"
        resp.success = True
        return resp

    def _tick(self) -> None:
        if not self.enabled or self.js is None or self.obj is None or self.goal is None:
            return
        eq = self.eq[1] if self.eq is not None and self.eq[0] >= self.enabled_at else None
        try:
            self.core.mirror(self.js.name, self.js.position, self.obj, self.goal, eq)
        except ValueError as exc:
            self.get_logger().error(f"cannot mirror the robot state: {exc}", throttle_duration_sec=5.0)
            return
        out = self.core.act()
        tw = TwistStamped()
        tw.header.stamp, tw.header.frame_id = self.get_clock().now().to_msg(), self.frame_id
        tw.twist.linear.x, tw.twist.linear.y, tw.twist.linear.z = map(float, out.linear)
        self.pub_twist.publish(tw)
        self.pub_grip.publish(Float64(data=out.gripper))

    def close(self) -> None:
        self.core.close()


def main(args: list[str] | None = None) -> int:
    return run_node(ScriptedTeleopNode, args, "scripted_teleop")


if __name__ == "__main__":
    sys.exit(main())
