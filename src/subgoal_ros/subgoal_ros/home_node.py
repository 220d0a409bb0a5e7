"""``home`` node: the ``reset`` service of a real arm — move to the home joints (DESIGN.md: "real: move home").

Planner (parameter ``planner``): ``moveit`` plans and executes with moveit_py (collision-aware; needs a
running MoveIt config for the arm), ``joint`` is the fallback — a straight, velocity-limited
joint-space move (:func:`subgoal.hardware.home.plan_joint_move`) from the latest ``joint_states``, sent
as one ``trajectory_msgs/JointTrajectory`` on ``joint_trajectory`` (remap it to the arm's joint
trajectory controller, e.g. ``/fr3_arm_controller/joint_trajectory``; the Sawyer adapter node plays
it out itself). ``auto`` (default) picks moveit when ``moveit.planning`` imports, else joint.
The service answers once the trajectory is sent (message: planner and duration); it does not wait
for the arm, so callers wait ``duration`` before the next episode.
"""
from __future__ import annotations

import sys

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from subgoal.hardware.home import get_preset, moveit_available, plan_joint_move, select_joints
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS
from subgoal_ros.node_main import NodeStartupError, run_node


def _duration(t: float):
    from builtin_interfaces.msg import Duration

    sec = int(t)
    return Duration(sec=sec, nanosec=int(round((t - sec) * 1e9)) % 1_000_000_000)


class HomeNode(Node):
    def __init__(self) -> None:
        super().__init__("home")
        ro = ParameterDescriptor(read_only=True)
        robot = self.declare_parameter("robot", "fr3", ro).value
        preset = get_preset(robot)  # unknown robot: ValueError -> exit 2
        self.joint_names = list(self.declare_parameter("joint_names", list(preset.joint_names), ro).value)
        self.home = np.array(self.declare_parameter("home", list(preset.home), ro).value, np.float64)
        self.vmax = np.array(self.declare_parameter("max_velocity", list(preset.max_velocity), ro).value, np.float64)
        self.lower, self.upper = np.array(preset.lower), np.array(preset.upper)
        self.velocity_scale = float(self.declare_parameter("velocity_scale", 0.3, ro).value)
        self.max_distance = float(self.declare_parameter("max_distance", 3.14, ro).value)
        self.state_timeout_s = float(self.declare_parameter("state_timeout_s", 0.5, ro).value)
        self.moveit_group = self.declare_parameter("moveit_group", f"{robot}_arm", ro).value
        planner = self.declare_parameter("planner", "auto", ro).value
        if not (len(self.joint_names) == len(self.home) == len(self.vmax)):
            raise NodeStartupError(f"joint_names ({len(self.joint_names)}), home ({len(self.home)}) and "
                                   f"max_velocity ({len(self.vmax)}) must have the same length")
        if planner not in ("auto", "moveit", "joint"):
            raise NodeStartupError(f"planner must be auto, moveit or joint, got {planner!r}")
        if planner == "moveit" and not moveit_available():
            raise NodeStartupError("planner 'moveit' needs moveit_py (module moveit.planning): "
                                   "apt-get install ros-jazzy-moveit-py, or use planner:=joint")
        self.planner = "moveit" if planner == "moveit" or (planner == "auto" and moveit_available()) else "joint"
        self._moveit = None
        self._q: np.ndarray | None = None
        self._q_time = -1.0
        self.create_subscription(JointState, "joint_states", self._on_js, SENSOR_QOS)
        self.pub = self.create_publisher(JointTrajectory, "joint_trajectory", COMMAND_QOS)
        self.create_service(Trigger, "reset", self._on_reset)
        self.get_logger().info(f"reset -> home {np.round(self.home, 3).tolist()} via {self.planner} "
                               f"({'moveit_py' if self.planner == 'moveit' else 'joint-space fallback'})")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_js(self, msg: JointState) -> None:
        try:
            self._q = select_joints(msg.name, msg.position, self.joint_names)
            self._q_time = self._now()
        except ValueError as exc:
            self.get_logger().error(str(exc), throttle_duration_sec=5.0)

    def _on_reset(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        try:
            resp.message = self._moveit_home() if self.planner == "moveit" else self._joint_home()
            resp.success = True
        except (ValueError, RuntimeError) as exc:
            resp.success, resp.message = False, f"not moving: {exc}"
            self.get_logger().error(resp.message)
        return resp

    def _joint_home(self) -> str:
        age = self._now() - self._q_time
        if self._q is None or age > self.state_timeout_s:
            raise RuntimeError(f"no fresh joint_states (last {'never' if self._q is None else f'{age:.2f} s ago'})")
        move = plan_joint_move(self._q, self.home, self.vmax, dt=0.05, lower=self.lower, upper=self.upper,
                               velocity_scale=self.velocity_scale, max_distance=self.max_distance)
        traj = JointTrajectory(joint_names=self.joint_names)
        traj.header.stamp = self.get_clock().now().to_msg()
        traj.points = [JointTrajectoryPoint(positions=p.tolist(), velocities=v.tolist(), time_from_start=_duration(t))
                       for t, p, v in zip(move.times, move.positions, move.velocities)]
        self.pub.publish(traj)
        return f"joint-space move home: {move.duration:.2f} s, {len(traj.points)} points"

    def _moveit_home(self) -> str:  # pragma: no cover - moveit_py is not installable here
        from moveit.planning import MoveItPy
        from moveit.core.robot_state import RobotState

        if self._moveit is None:
            self._moveit = MoveItPy(node_name=f"{self.get_name()}_moveit")
        arm = self._moveit.get_planning_component(self.moveit_group)
        goal = RobotState(self._moveit.get_robot_model())
        goal.set_joint_group_positions(self.moveit_group, self.home)
        arm.set_start_state_to_current_state()
        arm.set_goal_state(robot_state=goal)
        plan = arm.plan()
        if not plan:
            raise RuntimeError("MoveIt found no collision-free path home")
        self._moveit.execute(plan.trajectory, controllers=[])
        return "moveit_py: planned and executed home"


def main(args: list[str] | None = None) -> None:
    sys.exit(run_node(HomeNode, args, "home"))


if __name__ == "__main__":
    main()
