"""``policy`` lifecycle node: observations + (sub)goal → ``policy/target_pose``, ``policy/gripper``.

Thin shell over :class:`subgoal.runtime.policy_loop.PolicyLoop` (ONNX Runtime only). Observation keys
come from the bundle's card: ``ee_pos``/``ee_quat`` from ``ee_pose``, ``gripper_width``/``joint_pos``
from ``joint_states`` (definitions shared with the dataset builder: ``subgoal.runtime.observations``),
``object_state`` from ``task/object_state`` (sim ground truth, for state-based policies), ``latent``
from ``latent`` (perception). The goal is a 1×D 32FC1 vector on ``goal_topic``.
"""
from __future__ import annotations

import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64

from subgoal.runtime.diagnostics import RateLatencyMonitor
from subgoal.runtime.observations import ee_obs, joint_obs
from subgoal.runtime.policy_loop import PolicyLoop, PolicyLoopConfig
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, STATUS_QOS, diagnostics_msg, from_time, to_time
from subgoal_ros.images import vector_array
from subgoal_ros.node_main import run_node, schedule_autostart
from subgoal_ros.params import declare_config


class PolicyNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("policy")
        ro = ParameterDescriptor(read_only=True)
        self.declare_parameter("bundle", "", ParameterDescriptor(description="policy bundle dir", read_only=True))
        self.declare_parameter("goal_topic", "subgoal/latent", ro)
        self.declare_parameter("frame_id", "base", ro)
        self.declare_parameter("autostart", True, ro)
        self.loop_config = declare_config(self, PolicyLoopConfig)
        self.loop: PolicyLoop | None = None
        self._quat = None
        self._ref_quat = None
        self._error = ""
        self._active = False
        schedule_autostart(self, lambda: self._error)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        bundle = self.get_parameter("bundle").value
        try:
            if not bundle:
                raise ValueError("parameter 'bundle' is empty: set it to a policy bundle dir (models/<name>)")
            from subgoal.runtime.policy import PolicyCore

            self.loop = PolicyLoop(PolicyCore(bundle), self.loop_config)
        except Exception as exc:  # noqa: BLE001 - refuse the transition with the loader's message
            self._error = str(exc)
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.frame_id = self.get_parameter("frame_id").value
        self.monitor = RateLatencyMonitor(self.get_fully_qualified_name(), expected_hz=self.loop_config.rate_hz)
        self.pub_target = self.create_lifecycle_publisher(PoseStamped, "policy/target_pose", COMMAND_QOS)
        self.pub_grip = self.create_lifecycle_publisher(Float64, "policy/gripper", COMMAND_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", STATUS_QOS)
        goal_topic = self.get_parameter("goal_topic").value
        keys = set(self.loop.core.keys)
        # only the streams this bundle observes: joint_states and task/object_state come at the state
        # rate (100 Hz) and every message costs a Python callback on a CPU the pipeline shares.
        # ee_pose (absolute target when the reference is stale) and equilibrium_pose (the reference)
        # are always needed.
        self._subs = [
            self.create_subscription(PoseStamped, "ee_pose", self._on_ee, SENSOR_QOS),
            self.create_subscription(Image, goal_topic, self._on_goal, COMMAND_QOS),
            self.create_subscription(PoseStamped, "equilibrium_pose", self._on_reference, COMMAND_QOS),
        ]
        if keys & {"joint_pos", "gripper_width"}:
            self._subs.append(self.create_subscription(JointState, "joint_states", self._on_joints, SENSOR_QOS))
        for key, topic in (("object_state", "task/object_state"), ("latent", "latent")):
            if key in keys:
                self._subs.append(self.create_subscription(Image, topic, self._vec(key), SENSOR_QOS))
        # an image policy acts when its latent arrives (no timer wait in the camera→command latency);
        # a state policy acts on the 10 Hz clock its dataset was built on
        self._event_driven = "latent" in self.loop.core.keys
        self._last_tick = 0.0
        if not self._event_driven:
            self._timer = self.create_timer(1.0 / self.loop_config.rate_hz, self._tick)
        self._diag_timer = self.create_timer(1.0, self._diagnostics)
        self.get_logger().info(f"configured: bundle {bundle} (obs {self.loop.core.keys}), goal on {goal_topic}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.loop.forget_episode()  # reference and goal of a previous episode must not steer this one
        self._ref_quat = None
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return super().on_deactivate(state)

    # ------------------------------------------------------------------ inputs
    def _on_ee(self, m: PoseStamped) -> None:
        p, q = m.pose.position, m.pose.orientation
        self._quat = q
        self.loop.on_obs(ee_obs((p.x, p.y, p.z), (q.x, q.y, q.z, q.w)), self._now(), from_time(m.header.stamp))

    def _on_reference(self, m: PoseStamped) -> None:
        p = m.pose.position
        self._ref_quat = m.pose.orientation
        self.loop.on_reference((p.x, p.y, p.z), self._now())

    def _on_joints(self, m: JointState) -> None:
        self.loop.on_obs(joint_obs(list(m.name), list(m.position)), self._now(), from_time(m.header.stamp))

    def _vec(self, key: str):
        def cb(m: Image) -> None:
            try:
                self.loop.on_obs({key: vector_array(m)}, self._now(), from_time(m.header.stamp))
            except ValueError as exc:
                self.loop.counts[f"bad_{key}"] += 1
                self.get_logger().warning(f"{key}: {exc}", throttle_duration_sec=5.0)
                return
            if key == "latent" and self._event_driven and self._active \
                    and time.monotonic() - self._last_tick >= 0.5 / self.loop_config.rate_hz:
                self._tick()
        return cb

    def _on_goal(self, m: Image) -> None:
        try:
            self.loop.on_goal(vector_array(m))
        except ValueError as exc:
            self.loop.counts["bad_goal"] += 1
            self.get_logger().warning(f"goal: {exc}", throttle_duration_sec=5.0)

    # ------------------------------------------------------------------ loop
    def _tick(self) -> None:
        t0 = time.perf_counter()
        self._last_tick = time.monotonic()
        step = self.loop.step(self._now())
        cmd = step.command
        if cmd is None or cmd.target_pos is None:
            return
        msg = PoseStamped()
        msg.header.stamp = to_time(step.source_stamp_s if step.source_stamp_s is not None else self._now())
        msg.header.frame_id = self.frame_id
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = map(float, cmd.target_pos)
        # position-only actions keep the orientation the controller already commands (the datasets'
        # actions never rotate); the measured one would let small tracking errors accumulate
        quat = self._ref_quat if self._ref_quat is not None else self._quat
        if quat is not None:
            msg.pose.orientation = quat
        self.pub_target.publish(msg)
        if cmd.gripper is not None:
            self.pub_grip.publish(Float64(data=float(cmd.gripper)))
        self.monitor.tick(time.monotonic(), latency_s=time.perf_counter() - t0)

    def _diagnostics(self) -> None:
        extra = {"bundle": self.loop.core.bundle.name, **{f"count_{k}": v for k, v in self.loop.counts.items()}}
        self.pub_diag.publish(diagnostics_msg([self.monitor.status(time.monotonic(), extra)], self._now()))


def main(args: list[str] | None = None) -> int:
    return run_node(PolicyNode, args, "policy", executor="events")  # latency path: C++ dispatch


if __name__ == "__main__":
    sys.exit(main())
