"""``franka_gripper`` adapter node: our ``gripper/command`` (std_msgs/Float64, opening in m) -> Franka Hand actions.

Sends goals to franka_ros2's ``franka_gripper`` node (actions ``<action_ns>/move``, ``/grasp``,
``/homing``; franka_msgs/action/Move, Grasp, Homing), through the pure
:class:`subgoal.hardware.franka_gripper.GripperMapper` (grasp vs move, clipping, rate limit).
A goal of another kind cancels the running one first (opening never waits behind a grasp).

Needs ``franka_msgs`` (built with franka_ros2). Without it — as on this machine, where no PyPI wheel
exists — the node exits at startup with code 2 and says what to install; the mapping itself is tested
in tests/hardware. Also exits 2 when the action servers do not appear within ``server_timeout_s``.
"""
from __future__ import annotations

import sys

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from std_msgs.msg import Float64

from subgoal.hardware.franka_gripper import GripperGoal, GripperMapper, GripperMapperConfig
from subgoal.hardware.optional import MissingDependency, require
from subgoal_ros.conversions import COMMAND_QOS
from subgoal_ros.node_main import NodeStartupError, run_node

FRANKA_MSGS_HINT = ("build franka_ros2 (Jazzy, v3.3.0 or newer; it provides franka_msgs) in your ROS 2 workspace "
                    "and source it, see docs/hardware.md. franka_msgs has no PyPI wheel, so this adapter cannot "
                    "run in the pip-only environment")


class FrankaGripperNode(Node):
    def __init__(self) -> None:
        super().__init__("franka_gripper_adapter")
        try:
            actions = require("franka_msgs.action", "the franka_gripper adapter", FRANKA_MSGS_HINT)
        except MissingDependency as exc:
            raise NodeStartupError(str(exc)) from exc
        from rclpy.action import ActionClient

        ro = ParameterDescriptor(read_only=True)
        d = GripperMapperConfig()
        cfg = GripperMapperConfig(**{n: self.declare_parameter(n, getattr(d, n), ro).value
                                     for n in GripperMapperConfig.__dataclass_fields__})
        ns = self.declare_parameter("action_ns", "/franka_gripper", ro).value.rstrip("/")
        timeout = float(self.declare_parameter("server_timeout_s", 10.0, ro).value)
        home_on_start = self.declare_parameter("home_on_start", True, ro).value
        self.types = {"move": actions.Move, "grasp": actions.Grasp, "homing": actions.Homing}
        # (not ``self.clients``: rclpy's Node already has a read-only ``clients`` property)
        self._action_clients = {k: ActionClient(self, t, f"{ns}/{k}") for k, t in self.types.items()}
        for kind, client in self._action_clients.items():
            if not client.wait_for_server(timeout_sec=timeout):
                raise NodeStartupError(f"no franka_gripper action server at {ns}/{kind} after {timeout:.0f} s: "
                                       f"is franka_gripper running (franka_bringup with load_gripper:=true)?")
        self.mapper = GripperMapper(cfg)
        self._active = None  # goal handle of the running goal
        self._homing = False
        self.create_subscription(Float64, "gripper/command", self._on_command, COMMAND_QOS)
        if home_on_start:
            self._homing = True
            self._send(self.mapper.homing(self._now()))
        self.get_logger().info(f"gripper/command -> {ns}/{{move,grasp,homing}} (grasp below {cfg.grasp_below} m, "
                               f"{cfg.force} N)")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_command(self, msg: Float64) -> None:
        if self._homing:
            return  # commands wait for the homing to finish
        rejected = self.mapper.rejected
        goal = self.mapper.step(msg.data, self._now())
        if self.mapper.rejected > rejected:
            self.get_logger().warn(self.mapper.last_reject_reason, throttle_duration_sec=5.0)
        if goal is not None:
            self._send(goal)

    def _send(self, goal: GripperGoal) -> None:
        if self._active is not None:
            self._active.cancel_goal_async()
            self._active = None
        t = self.types[goal.kind].Goal()
        if goal.kind in ("move", "grasp"):
            t.width, t.speed = goal.width, goal.speed
        if goal.kind == "grasp":
            t.force = goal.force
            t.epsilon.inner, t.epsilon.outer = goal.epsilon_inner, goal.epsilon_outer
        future = self._action_clients[goal.kind].send_goal_async(t)
        future.add_done_callback(lambda f, k=goal.kind: self._accepted(f, k))

    def _accepted(self, future, kind: str) -> None:
        handle = future.result()
        if not handle.accepted:
            self.get_logger().error(f"franka_gripper rejected the {kind} goal")
            self._homing = False
            return
        self._active = handle
        handle.get_result_async().add_done_callback(lambda f, k=kind: self._done(f, k))

    def _done(self, future, kind: str) -> None:
        from action_msgs.msg import GoalStatus

        response = future.result()
        if kind == "homing":
            self._homing = False
        if response.status == GoalStatus.STATUS_CANCELED:
            return  # pre-empted by a newer command
        result = response.result
        if not result.success and kind != "grasp":  # a grasp on nothing "fails" by design
            self.get_logger().warn(f"{kind} failed: {result.error}")


def main(args: list[str] | None = None) -> None:
    sys.exit(run_node(FrankaGripperNode, args, "franka_gripper"))


if __name__ == "__main__":
    main()
