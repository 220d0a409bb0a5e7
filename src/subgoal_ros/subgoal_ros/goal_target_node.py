"""``goal_target`` lifecycle node: a commanded goal pose → ``policy/target_pose`` at ``rate_hz``.

Thin shell over :class:`subgoal.runtime.goal_target.GoalTargetCore`. The target source of stacks with no
learned policy in front of the residual controller (``config/demo_insert.yaml``: the P controller plus
the learned residual push the peg into the believed hole). Subscribes ``goal_topic`` (PoseStamped,
default the sim's latched ``task/commanded_pose``), publishes ``policy/target_pose`` while active; deactivate
forgets the goal (the eval runner cycles it around each reset, like the policy node).
"""
from __future__ import annotations

import sys

from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from subgoal.runtime.goal_target import GoalTargetConfig, GoalTargetCore
from subgoal_ros.conversions import COMMAND_QOS
from subgoal_ros.node_main import run_node, schedule_autostart
from subgoal_ros.params import declare_config

#: the sim latches the episode's goal: a late joiner (or one reactivated after a reset) still gets it
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class GoalTargetNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("goal_target")
        ro = ParameterDescriptor(read_only=True)
        self.declare_parameter("frame_id", "base", ro)
        self.declare_parameter("autostart", True, ro)
        self.config = declare_config(self, GoalTargetConfig)
        self.core = GoalTargetCore(self.config)
        self._active = False
        self._error = ""
        schedule_autostart(self, lambda: self._error)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.frame_id = self.get_parameter("frame_id").value
        self.pub_target = self.create_lifecycle_publisher(PoseStamped, "policy/target_pose", COMMAND_QOS)
        # the goal keeps arriving while inactive: the reset publishes the next episode's goal then
        self._sub = self.create_subscription(PoseStamped, self.config.goal_topic, self._on_goal, LATCHED)
        self._timer = self.create_timer(1.0 / self.config.rate_hz, self._tick)
        self.get_logger().info(f"configured: {self.config.goal_topic} -> policy/target_pose at {self.config.rate_hz} Hz")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self.core.clear()  # the next episode's goal comes with the reset
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.destroy_timer(self._timer)
        self.destroy_subscription(self._sub)
        self.destroy_lifecycle_publisher(self.pub_target)
        return TransitionCallbackReturn.SUCCESS

    def _on_goal(self, m: PoseStamped) -> None:
        p, o = m.pose.position, m.pose.orientation
        try:
            self.core.on_goal((p.x, p.y, p.z), (o.w, o.x, o.y, o.z))
        except ValueError as exc:
            self.get_logger().error(f"goal ignored: {exc}")

    def _tick(self) -> None:
        target = self.core.target() if self._active else None
        if target is None:
            return
        msg = PoseStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame_id
        (msg.pose.position.x, msg.pose.position.y, msg.pose.position.z) = map(float, target[0])
        o = msg.pose.orientation
        o.w, o.x, o.y, o.z = map(float, target[1])
        self.pub_target.publish(msg)


def main(args: list[str] | None = None) -> int:
    return run_node(GoalTargetNode, args, "goal_target", executor="events")  # as the other lifecycle nodes of the stack


if __name__ == "__main__":
    sys.exit(main())
