"""``sim`` node: the MuJoCo arm, seen by the ROS graph like a real arm with an impedance controller.

Thin shell over :class:`subgoal.runtime.sim_loop.SimLoop` (time policy documented there): publishes
``joint_states``, ``ee_pose``, ``ee_wrench`` (state rate), ``camera/image_raw`` + ``camera/camera_info``
(camera rate), ``task/success``, ``task/object_state`` / ``task/goal_state`` (1×D 32FC1 images),
``task/goal_image`` (latched per episode), for ``insert`` also ``task/commanded_pose`` (latched: the EE goal
on the *believed* hole with the home orientation — what a user commands; the ``goal_target`` node relays
it to the controller); subscribes ``equilibrium_pose`` and ``gripper/command``;
serves ``reset`` (std_srvs/Trigger: new episode).
"""
from __future__ import annotations

import sys
import time

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, WrenchStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float64
from std_srvs.srv import Trigger

from subgoal.runtime.diagnostics import RateLatencyMonitor
from subgoal.runtime.sim_loop import SimLoop, SimLoopConfig
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, STATUS_QOS, diagnostics_msg, to_time
from subgoal_ros.node_main import run_node
from subgoal_ros.images import camera_info, image_msg, vector_msg
from subgoal_ros.params import declare_config

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class SimNode(Node):
    def __init__(self) -> None:
        super().__init__("sim")
        self.frame_id = self.declare_parameter("frame_id", "base").value
        self.camera_frame = self.declare_parameter("camera_frame_id", "camera").value
        cfg = declare_config(self, SimLoopConfig)
        self.loop = SimLoop(cfg)  # unknown robot/task raises here, before anything is published
        self.fovy = float(self.loop.sim.model.camera(cfg.camera).fovy[0])
        self.monitor = RateLatencyMonitor(self.get_fully_qualified_name(), expected_hz=cfg.state_rate_hz)

        self.pub_js = self.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.pub_pose = self.create_publisher(PoseStamped, "ee_pose", SENSOR_QOS)
        self.pub_wrench = self.create_publisher(WrenchStamped, "ee_wrench", SENSOR_QOS)
        self.pub_img = self.create_publisher(Image, "camera/image_raw", SENSOR_QOS)
        self.pub_info = self.create_publisher(CameraInfo, "camera/camera_info", SENSOR_QOS)
        self.pub_view = self.create_publisher(Image, "camera/view/image_raw", SENSOR_QOS)
        self.pub_success = self.create_publisher(Bool, "task/success", STATUS_QOS)
        self.pub_obj = self.create_publisher(Image, "task/object_state", SENSOR_QOS)
        self.pub_goal_state = self.create_publisher(Image, "task/goal_state", LATCHED)
        self.pub_goal_img = self.create_publisher(Image, "task/goal_image", LATCHED)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", STATUS_QOS)
        if cfg.plan_state:  # hierarchical planners in the drawer_object plan space (goal_proposal state_topic)
            from subgoal.planning.sim_guided_eval import final_goal, plan_state
            from subgoal.train.sim_eval import sim_observation

            self._plan_state = lambda: plan_state(sim_observation(self.loop.sim))
            self._plan_goal = lambda: final_goal(self.loop.sim)
            self.pub_plan = self.create_publisher(Image, "task/plan_state", SENSOR_QOS)
            self.pub_plan_goal = self.create_publisher(Image, "task/plan_goal", LATCHED)
        self.pub_commanded = (self.create_publisher(PoseStamped, "task/commanded_pose", LATCHED)
                              if cfg.task == "insert" else None)
        self.pub_clock = self.create_publisher(Clock, "/clock", 10) if self.loop.publishes_clock else None

        self.create_subscription(PoseStamped, "equilibrium_pose", self._on_pose, COMMAND_QOS)
        self.create_subscription(Float64, "gripper/command", self._on_gripper, COMMAND_QOS)
        self.create_service(Trigger, "reset", self._on_reset)
        self.create_timer(1.0 / cfg.state_rate_hz, self._tick)
        self.create_timer(1.0, self._diagnostics)
        self._publish_episode_goal()
        self.get_logger().info(
            f"{cfg.robot} / {cfg.task}, seed {cfg.seed}: state {cfg.state_rate_hz} Hz, camera "
            f"{cfg.camera_width}x{cfg.camera_height} @ {cfg.camera_rate_hz} Hz, control {cfg.control_hz} Hz, "
            f"{'sim time on /clock' if self.loop.publishes_clock else 'real time'}")

    # ------------------------------------------------------------------ inputs
    def _on_pose(self, msg: PoseStamped) -> None:
        if msg.header.frame_id not in ("", self.frame_id):
            self.loop.sim.guard.event("rejected_frame", f"frame_id {msg.header.frame_id!r} != {self.frame_id!r}")
            return
        p, q = msg.pose.position, msg.pose.orientation
        self.loop.command_pose(np.array([p.x, p.y, p.z]), np.array([q.w, q.x, q.y, q.z]))

    def _on_gripper(self, msg: Float64) -> None:
        self.loop.command_gripper(msg.data)

    def _on_reset(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        seed = self.loop.reset()
        self._publish_episode_goal()
        resp.success, resp.message = True, f"episode seed {seed}"
        return resp

    # ------------------------------------------------------------------ outputs
    def _publish_episode_goal(self) -> None:
        stamp = to_time(self._wall())
        self.pub_goal_state.publish(vector_msg(self.loop.sim.goal_state(), stamp, self.frame_id))
        if self.loop.config.camera_rate_hz > 0:
            self.pub_goal_img.publish(image_msg(self.loop.sim.goal_image(), stamp, self.camera_frame))
        if self.loop.config.plan_state:
            self.pub_plan_goal.publish(vector_msg(self._plan_goal(), stamp, self.frame_id))
        if self.pub_commanded is not None:
            pose = PoseStamped()
            pose.header.stamp, pose.header.frame_id = stamp, self.frame_id
            p, o = pose.pose.position, pose.pose.orientation
            p.x, p.y, p.z = map(float, self.loop.sim.task.commanded_goal())
            o.w, o.x, o.y, o.z = map(float, self.loop.sim.home_pose()[1])
            self.pub_commanded.publish(pose)

    def _wall(self) -> float:
        return time.time()

    def _tick(self) -> None:
        wall = self._wall()
        # state first, then render: the camera frame (stamped with the same sim instant) costs ms of
        # software GL, which the 100 Hz state the controller watches must not wait for
        out = self.loop.step(wall, render=False)
        stamp = to_time(out.stamp_s)
        if self.pub_clock is not None:
            self.pub_clock.publish(Clock(clock=stamp))
        names, q, qd, tau = out.joint_state
        js = JointState(name=names, position=q.tolist(), velocity=qd.tolist(), effort=tau.tolist())
        js.header.stamp = stamp
        self.pub_js.publish(js)
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, self.frame_id
        (pose.pose.position.x, pose.pose.position.y, pose.pose.position.z) = map(float, out.ee_pose[0])
        o = pose.pose.orientation
        o.w, o.x, o.y, o.z = map(float, out.ee_pose[1])
        self.pub_pose.publish(pose)
        w = WrenchStamped()
        w.header.stamp, w.header.frame_id = stamp, self.frame_id
        w.wrench.force.x, w.wrench.force.y, w.wrench.force.z = map(float, out.ee_wrench[0])
        w.wrench.torque.x, w.wrench.torque.y, w.wrench.torque.z = map(float, out.ee_wrench[1])
        self.pub_wrench.publish(w)
        self.pub_success.publish(Bool(data=bool(out.success)))
        self.pub_obj.publish(vector_msg(out.object_state, stamp, self.frame_id))
        if self.loop.config.plan_state:
            self.pub_plan.publish(vector_msg(self._plan_state(), stamp, self.frame_id))
        self.loop.render_due(out)
        if out.image is not None:
            self.pub_img.publish(image_msg(out.image, stamp, self.camera_frame))
            self.pub_info.publish(camera_info(out.image.shape[1], out.image.shape[0], stamp, self.camera_frame,
                                             self.fovy))
        if out.view is not None:
            self.pub_view.publish(image_msg(out.view, stamp, "view"))
        self.monitor.tick(time.monotonic(), latency_s=time.time() - wall)

    def close(self) -> None:
        self.loop.close()

    def _diagnostics(self) -> None:
        now = time.monotonic()
        extra = {"real_time_factor": f"{self.loop.real_time_factor(self._wall()):.3f}",
                 "sim_time_s": f"{self.loop.sim.time:.3f}", "episode_seed": self.loop.episode_seed,
                 "pose_commands": self.loop.pose_commands, "rejected_commands": self.loop.rejected_commands}
        extra.update({f"event_{k}": v for k, v in self.loop.sim.guard.counts.items()})
        self.pub_diag.publish(diagnostics_msg([self.monitor.status(now, extra)], self._wall()))


def main(args: list[str] | None = None) -> int:
    return run_node(SimNode, args, "sim", executor="events")  # latency path: C++ dispatch


if __name__ == "__main__":
    sys.exit(main())
