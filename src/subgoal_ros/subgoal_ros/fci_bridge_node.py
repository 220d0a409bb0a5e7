"""``fci_bridge`` node: a Franka arm over FCI (pylibfranka), seen by the graph like the sim node.

Thin shell over :class:`subgoal.hardware.fci_bridge.FciBridge` (control law, rate limits and the fault
state machine are documented there; the 1 kHz loop runs in the bridge's own process). Publishes
``joint_states``, ``ee_pose``, ``ee_wrench`` (``O_F_ext_hat_K``, base frame) at ``state_rate_hz`` and
``/diagnostics`` (state, fault, loop rate, period/cycle-time percentiles, missed cycles; ERROR on a
fault, published at once); subscribes ``equilibrium_pose`` (PoseStamped, base frame) and, with
``gripper: true``, ``gripper/command`` (Float64 opening in m → ``franka::Gripper::move``; the measured
opening is appended to ``joint_states`` as ``fr3_finger_joint1/2``, half each). Services:
``reset`` (Trigger: move the equilibrium back to the start pose, rate limited) and ``recover``
(Trigger: operator acknowledges a fault → libfranka error recovery, then hold the current pose).

A fault (reflex, lost connection, missed cycles) stops commanding at once and is latched: targets are
refused (counted) until ``recover``; with ``exit_on_fault: true`` the node exits with code 1 instead,
so ``required: true`` in a bringup config stops the whole graph.
"""
from __future__ import annotations

import dataclasses
import queue
import sys
import threading
import time

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, WrenchStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

from subgoal.hardware.fci_bridge import JOINT_NAMES, BridgeState, FciBridge, FciBridgeConfig, FciBridgeError
from subgoal.runtime.diagnostics import Level, RateLatencyMonitor
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, STATUS_QOS, diagnostics_msg, to_time
from subgoal_ros.node_main import NodeStartupError, run_node


class FciBridgeNode(Node):
    def __init__(self) -> None:
        super().__init__("fci_bridge")
        ro = ParameterDescriptor(read_only=True)
        values = {}
        for f in dataclasses.fields(FciBridgeConfig):
            default = list(f.default) if isinstance(f.default, tuple) else f.default
            v = self.declare_parameter(f.name, default, ParameterDescriptor(
                description=f"FciBridgeConfig.{f.name}", read_only=True)).value
            values[f.name] = tuple(float(x) for x in v) if isinstance(f.default, tuple) else v
        cfg = FciBridgeConfig(**values)  # a bad value raises ValueError → exit 2 with the message
        self.frame_id = self.declare_parameter("frame_id", "base", ro).value
        rate = float(self.declare_parameter("state_rate_hz", 250.0, ro).value)
        if not rate > 0:
            raise ValueError(f"state_rate_hz must be > 0, got {rate}")
        self.exit_on_fault = bool(self.declare_parameter("exit_on_fault", False, ro).value)
        use_gripper = bool(self.declare_parameter("gripper", False, ro).value)
        self.gripper_speed = float(self.declare_parameter("gripper_speed", 0.1, ro).value)
        self.rc = 0

        retry_s = float(self.declare_parameter("connect_retry_s", 20.0, ParameterDescriptor(
            description="retry a refused connection this long at startup (robot/sim still booting)",
            read_only=True)).value)
        self.bridge = FciBridge(cfg)
        try:
            self.bridge.connect(retry_s=retry_s)
            if self.declare_parameter("autostart", True, ro).value:
                self.bridge.start()
        except FciBridgeError as exc:
            self.bridge.close()
            raise NodeStartupError(str(exc)) from exc
        snap = self.bridge.snapshot()
        self.home = (snap.ee_pos.copy(), snap.ee_quat.copy())
        self.monitor = RateLatencyMonitor(self.get_fully_qualified_name(), expected_hz=rate)
        self._reported_fault = False

        self.gripper = None
        self._grip_q: queue.Queue[float] = queue.Queue(maxsize=1)
        self._grip_error = ""
        self._grip_width: float | None = None
        if use_gripper:
            import pylibfranka as pf

            try:
                self.gripper = pf.Gripper(cfg.robot_ip)
            except Exception as exc:
                self.bridge.close()
                raise NodeStartupError(f"gripper at {cfg.robot_ip}: {type(exc).__name__}: {exc}") from exc
            threading.Thread(target=self._gripper_worker, daemon=True, name="gripper").start()
            self.create_subscription(Float64, "gripper/command", self._on_gripper, COMMAND_QOS)

        self.pub_js = self.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.pub_pose = self.create_publisher(PoseStamped, "ee_pose", SENSOR_QOS)
        self.pub_wrench = self.create_publisher(WrenchStamped, "ee_wrench", SENSOR_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", STATUS_QOS)
        self.create_subscription(PoseStamped, "equilibrium_pose", self._on_pose, COMMAND_QOS)
        self.create_service(Trigger, "reset", self._on_reset)
        self.create_service(Trigger, "recover", self._on_recover)
        self.create_timer(1.0 / rate, self._tick)
        self.create_timer(1.0, self._diagnostics)
        self.get_logger().info(f"FCI bridge to {cfg.robot_ip}: {self.bridge.state.value}, state {rate} Hz, "
                               f"K {cfg.stiffness_trans} N/m / {cfg.stiffness_rot} Nm/rad, gripper {use_gripper}")

    # ------------------------------------------------------------------ inputs
    def _on_pose(self, msg: PoseStamped) -> None:
        if msg.header.frame_id not in ("", self.frame_id):
            self.bridge.count_rejected()
            self.get_logger().warn(f"equilibrium_pose in frame {msg.header.frame_id!r} != {self.frame_id!r}: ignored",
                                   throttle_duration_sec=5.0)
            return
        p, o = msg.pose.position, msg.pose.orientation
        self.bridge.set_target(np.array([p.x, p.y, p.z]), np.array([o.w, o.x, o.y, o.z]))

    def _on_gripper(self, msg: Float64) -> None:
        try:
            self._grip_q.get_nowait()  # only the newest opening matters
        except queue.Empty:
            pass
        self._grip_q.put_nowait(float(np.clip(msg.data, 0.0, 0.08)))

    def _gripper_worker(self) -> None:
        """Blocking libfranka gripper calls off the executor: newest command → ``move``; width at ~10 Hz."""
        while True:
            try:
                width = self._grip_q.get(timeout=0.1)
            except queue.Empty:
                width = None
            try:
                if width is not None:
                    self.gripper.move(width, self.gripper_speed)  # blocks until the fingers stop
                self._grip_width = float(self.gripper.read_once().width)
            except Exception as exc:
                self._grip_error = f"{type(exc).__name__}: {exc}"
                time.sleep(1.0)

    def _on_reset(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        resp.success = self.bridge.set_target(*self.home)
        resp.message = "moving to the start pose" if resp.success else f"refused in state {self.bridge.state.value}"
        return resp

    def _on_recover(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        try:
            self.bridge.recover()
            if self.bridge.state == BridgeState.CONNECTED:
                self.bridge.start()
            self._reported_fault = False
            resp.success, resp.message = True, f"recovered: {self.bridge.state.value}"
        except FciBridgeError as exc:
            resp.success, resp.message = False, str(exc)
        return resp

    # ------------------------------------------------------------------ outputs
    def _tick(self) -> None:
        snap = self.bridge.snapshot()
        if snap is None:
            return
        if snap.state == BridgeState.FAULT and not self._reported_fault:
            self._reported_fault = True
            self.get_logger().error(f"FAULT: {snap.fault} -- motion stopped; call ~/recover after checking the arm")
            self._diagnostics()
            if self.exit_on_fault:
                self.rc = 1
                self.bridge.close()
                rclpy.try_shutdown()
                return
        stamp = to_time(snap.stamp_s)
        names, q, dq, tau = list(JOINT_NAMES), snap.q.tolist(), snap.dq.tolist(), snap.tau_J.tolist()
        if self._grip_width is not None:  # Franka Hand: two fingers, each at half the opening
            names += ["fr3_finger_joint1", "fr3_finger_joint2"]
            q += [self._grip_width / 2.0] * 2
            dq += [0.0, 0.0]
            tau += [0.0, 0.0]
        js = JointState(name=names, position=q, velocity=dq, effort=tau)
        js.header.stamp = stamp
        self.pub_js.publish(js)
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, self.frame_id
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = map(float, snap.ee_pos)
        o = pose.pose.orientation
        o.w, o.x, o.y, o.z = map(float, snap.ee_quat)
        self.pub_pose.publish(pose)
        w = WrenchStamped()
        w.header.stamp, w.header.frame_id = stamp, self.frame_id
        w.wrench.force.x, w.wrench.force.y, w.wrench.force.z = map(float, snap.wrench[:3])
        w.wrench.torque.x, w.wrench.torque.y, w.wrench.torque.z = map(float, snap.wrench[3:])
        self.pub_wrench.publish(w)
        self.monitor.tick(time.monotonic(), latency_s=max(0.0, time.time() - snap.stamp_s))

    def _diagnostics(self) -> None:
        snap = self.bridge.snapshot()
        if snap is None:
            return
        extra: dict[str, object] = {"state": snap.state.value, "fault": snap.fault,
                                    "robot_ip": self.bridge.config.robot_ip}
        extra.update({k: f"{v:.3f}" for k, v in snap.stats.items()})
        extra.update(snap.counters)
        if self._grip_error:
            extra["gripper_error"] = self._grip_error
        status = self.monitor.status(time.monotonic(), extra)
        if snap.state == BridgeState.FAULT:
            status.level, status.message = Level.ERROR, f"FAULT: {snap.fault}"
        elif snap.state != BridgeState.RUNNING and status.level == Level.OK:
            status.level, status.message = Level.WARN, f"not commanding ({snap.state.value})"
        self.pub_diag.publish(diagnostics_msg([status], time.time()))

    def close(self) -> None:
        self.bridge.close()


def main(args: list[str] | None = None) -> int:
    return run_node(FciBridgeNode, args, "fci_bridge")


if __name__ == "__main__":
    sys.exit(main())
