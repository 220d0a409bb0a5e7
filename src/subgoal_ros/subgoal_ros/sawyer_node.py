"""``sawyer`` adapter node: our Cartesian interface <-> intera's joint interface (through a ROS 1 bridge).

intera (Sawyer's SDK) is ROS 1 only; ``ros1_bridge`` carries its topics into ROS 2 when
``intera_core_msgs`` is built in both workspaces (docs/hardware.md). This node:

- ``joint_states`` (remap to ``/robot/joint_states``) -> ``ee_pose`` by FK on the sim's Sawyer model
  (the grip site, as in sim; intera's ``endpoint_state`` reports the ``right_hand`` flange instead);
- ``endpoint_state`` (remap ``/robot/limb/right/endpoint_state``, intera_core_msgs/EndpointState) -> ``ee_wrench``;
- ``equilibrium_pose`` -> IK (:class:`subgoal.hardware.sawyer_ik.SawyerIK`, seeded at the measured joints,
  step-limited) -> ``joint_command`` (remap ``/robot/limb/right/joint_command``, intera_core_msgs/JointCommand,
  POSITION_MODE), re-sent at ``rate_hz`` (intera drops out of command mode after ~0.2 s without one);
- ``joint_trajectory`` (from the ``home`` node) overrides IK until played out.
An unreachable target holds the last command and is reported (throttled).

Needs ``intera_core_msgs`` in ROS 2; without it (as here) it exits at startup with code 2 and says
what to build. The pose -> joint mapping is tested in tests/hardware on the MuJoCo model.
"""
from __future__ import annotations

import sys

import numpy as np
from geometry_msgs.msg import PoseStamped, WrenchStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from subgoal.hardware.home import JointMove, sample_move, select_joints
from subgoal.hardware.optional import MissingDependency, require
from subgoal.hardware.sawyer_ik import SawyerIK, Unreachable
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, from_time
from subgoal_ros.node_main import NodeStartupError, run_node

INTERA_HINT = ("build intera_core_msgs (github RethinkRobotics/intera_common) as a ROS 2 interface package in your "
               "Jazzy workspace and ros1_bridge against it (docs/hardware.md, 'Sawyer')")


class SawyerNode(Node):
    def __init__(self) -> None:
        super().__init__("sawyer")
        try:
            msgs = require("intera_core_msgs.msg", "the Sawyer adapter", INTERA_HINT)
        except MissingDependency as exc:
            raise NodeStartupError(str(exc)) from exc
        self.JointCommand = msgs.JointCommand
        ro = ParameterDescriptor(read_only=True)
        rate = float(self.declare_parameter("rate_hz", 50.0, ro).value)
        self.frame_id = self.declare_parameter("frame_id", "base", ro).value
        self.state_timeout_s = float(self.declare_parameter("state_timeout_s", 0.2, ro).value)
        self.ik = SawyerIK(max_joint_step=float(self.declare_parameter("max_joint_step", 0.1, ro).value))
        self._q: np.ndarray | None = None
        self._q_time = -1.0
        self._command: list[float] | None = None
        self._traj: tuple[JointMove, float] | None = None
        self.pub_cmd = self.create_publisher(self.JointCommand, "joint_command", COMMAND_QOS)
        self.pub_pose = self.create_publisher(PoseStamped, "ee_pose", SENSOR_QOS)
        self.pub_wrench = self.create_publisher(WrenchStamped, "ee_wrench", SENSOR_QOS)
        self.create_subscription(JointState, "joint_states", self._on_js, SENSOR_QOS)
        self.create_subscription(msgs.EndpointState, "endpoint_state", self._on_endpoint, SENSOR_QOS)
        self.create_subscription(PoseStamped, "equilibrium_pose", self._on_target, COMMAND_QOS)
        self.create_subscription(JointTrajectory, "joint_trajectory", self._on_traj, COMMAND_QOS)
        self.create_timer(1.0 / rate, self._tick)
        self.get_logger().info(f"Sawyer adapter: IK on the robosuite Sawyer MJCF, joint_command at {rate} Hz")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_js(self, msg: JointState) -> None:
        try:
            self._q = select_joints(msg.name, msg.position, self.ik.joint_names)
        except ValueError:
            return  # intera also publishes head/gripper-only joint_states
        self._q_time = self._now()
        pos, wxyz = self.ik.fk(self._q)
        out = PoseStamped()
        out.header.stamp, out.header.frame_id = msg.header.stamp, self.frame_id
        out.pose.position.x, out.pose.position.y, out.pose.position.z = pos.tolist()
        o = out.pose.orientation
        o.w, o.x, o.y, o.z = wxyz.tolist()
        self.pub_pose.publish(out)

    def _on_endpoint(self, msg) -> None:
        out = WrenchStamped()
        out.header.stamp, out.header.frame_id = msg.header.stamp, self.frame_id
        out.wrench = msg.wrench
        self.pub_wrench.publish(out)

    def _on_target(self, msg: PoseStamped) -> None:
        if self._traj is not None or self._q is None or self._now() - self._q_time > self.state_timeout_s:
            return
        p, o = msg.pose.position, msg.pose.orientation
        try:
            cmd = self.ik.joint_command([p.x, p.y, p.z], [o.x, o.y, o.z, o.w], self._q)
        except (Unreachable, ValueError) as exc:
            self.get_logger().warn(f"holding: {exc}", throttle_duration_sec=2.0)
            return
        self._command = cmd["position"]

    def _on_traj(self, msg: JointTrajectory) -> None:
        try:
            order = [list(msg.joint_names).index(n) for n in self.ik.joint_names]
        except ValueError:
            self.get_logger().error(f"joint_trajectory joints {list(msg.joint_names)} are not the Sawyer arm's")
            return
        times = np.array([from_time(pt.time_from_start) for pt in msg.points])
        pos = np.array([[pt.positions[i] for i in order] for pt in msg.points])
        self._traj = (JointMove(times, pos, np.zeros_like(pos)), self._now())

    def _tick(self) -> None:
        if self._traj is not None:
            move, t0 = self._traj
            t = self._now() - t0
            self._command = sample_move(move, t).tolist()
            if t > move.duration:
                self._traj = None
        if self._command is None:
            return
        cmd = self.JointCommand(mode=self.JointCommand.POSITION_MODE, names=list(self.ik.joint_names),
                                position=self._command)
        cmd.header.stamp = self.get_clock().now().to_msg()
        self.pub_cmd.publish(cmd)


def main(args: list[str] | None = None) -> None:
    sys.exit(run_node(SawyerNode, args, "sawyer"))


if __name__ == "__main__":
    main()
