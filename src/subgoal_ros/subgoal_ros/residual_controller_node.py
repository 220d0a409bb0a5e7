"""``residual_controller`` lifecycle node: policy target / teleop → safe ``equilibrium_pose``.

Thin shell over :class:`subgoal.runtime.controller.ControllerCore`. configure: build the core, load
the residual bundle (refuses a wrong/missing bundle with the loader's message); activate: start
commanding; deactivate: stop commanding (the arm's impedance controller holds the last pose).
With a residual bundle, the P gains, rate and limits it was trained with come from its ``model.json``
(:func:`subgoal.runtime.residual_card.config_from_card`): parameters left at their defaults take the
card's values, a parameter that contradicts the card makes configure fail with both values named.
``autostart`` (default true) configures and activates at startup so `subgoal bringup` needs no
lifecycle manager; on a robot set it false and drive the transitions from a manager.
E-stop: ``estop`` topic (std_msgs/Bool, true latches) or ``estop`` service; ``reset_estop`` service.
"""
from __future__ import annotations

import collections
import sys
import time

import numpy as np

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TwistStamped, WrenchStamped
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor, SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from std_msgs.msg import Bool, Float64
from std_srvs.srv import Trigger

from subgoal.runtime.controller import ControllerConfig, ControllerCore
from subgoal.runtime.diagnostics import RateLatencyMonitor
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, STATUS_QOS, diagnostics_msg, from_time, to_time
from subgoal_ros.node_main import run_node, schedule_autostart

#: parameters that may change at runtime, with their allowed ranges (rclpy rejects values outside)
DYNAMIC = {"residual_scale": (0.0, 2.0), "max_step": (0.0005, 0.05), "max_force": (1.0, 100.0),
           "max_rotation": (0.001, 0.5)}


class ResidualControllerNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("residual_controller")
        defaults = ControllerConfig()
        for name in ControllerConfig.__dataclass_fields__:
            lo_hi = DYNAMIC.get(name)
            # not read_only in the descriptor so that configure can publish the values it takes from a residual
            # bundle's card (``ros2 param get`` then shows what runs); _on_params refuses outside changes to them
            desc = ParameterDescriptor(description=f"ControllerConfig.{name}" + ("" if lo_hi else
                                       " (fixed at start; a residual bundle's card may set it at configure)"))
            if lo_hi:
                desc.floating_point_range = [FloatingPointRange(from_value=lo_hi[0], to_value=lo_hi[1])]
            value = getattr(defaults, name)
            self.declare_parameter(name, list(value) if isinstance(value, tuple) else value, desc)
        self.declare_parameter("residual_bundle", "", ParameterDescriptor(
            description="model bundle dir with kind 'residual' ('' = base controller only)", read_only=True))
        self.declare_parameter("frame_id", "base", ParameterDescriptor(read_only=True))
        self.declare_parameter("autostart", True, ParameterDescriptor(read_only=True))
        self._card_sync = False  # True only while configure writes the card's values into the parameters
        self.add_on_set_parameters_callback(self._on_params)
        self.core: ControllerCore | None = None
        self.monitor: RateLatencyMonitor | None = None
        self._last_source = "idle"
        self._configure_error = ""
        self._active = False
        schedule_autostart(self, lambda: self._configure_error)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            params = {n: self.get_parameter(n).value for n in ControllerConfig.__dataclass_fields__}
            cfg = ControllerConfig(**params)
            residual = None
            bundle = self.get_parameter("residual_bundle").value
            if bundle:
                from subgoal.runtime.residual_card import config_from_card
                from subgoal.runtime.residual_model import ResidualModel

                residual = ResidualModel(bundle)
                # the base controller the residual was trained on comes from its card (mismatch → refuse)
                cfg, taken = config_from_card(params, residual.bundle.card.extra)
                for line in taken:
                    self.get_logger().info(line)
                self._publish_effective(cfg)
        except Exception as exc:  # noqa: BLE001 - any load problem must refuse the transition, with its message
            self._configure_error = str(exc)
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.core = ControllerCore(cfg, residual)
        self.monitor = RateLatencyMonitor(self.get_fully_qualified_name(), expected_hz=cfg.control_rate_hz)
        self._step_cpu: collections.deque[float] = collections.deque(maxlen=200)  # thread CPU s per step
        self.frame_id = self.get_parameter("frame_id").value
        self.pub_eq = self.create_lifecycle_publisher(PoseStamped, "equilibrium_pose", COMMAND_QOS)
        self.pub_grip = self.create_lifecycle_publisher(Float64, "gripper/command", COMMAND_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", STATUS_QOS)
        c = self.core
        self._subs = [
            self.create_subscription(PoseStamped, "ee_pose", self._on_ee, SENSOR_QOS),
            self.create_subscription(WrenchStamped, "ee_wrench", lambda m: c.on_wrench(
                (m.wrench.force.x, m.wrench.force.y, m.wrench.force.z), self._now(),
                (m.wrench.torque.x, m.wrench.torque.y, m.wrench.torque.z)), SENSOR_QOS),
            self.create_subscription(PoseStamped, "policy/target_pose", self._on_target, COMMAND_QOS),
            self.create_subscription(Float64, "policy/gripper", lambda m: c.on_policy_gripper(m.data, self._now()),
                                     COMMAND_QOS),
            self.create_subscription(TwistStamped, "teleop/twist", lambda m: c.on_teleop(
                (m.twist.linear.x, m.twist.linear.y, m.twist.linear.z), self._now()), COMMAND_QOS),
            self.create_subscription(Float64, "teleop/gripper", lambda m: c.on_teleop_gripper(m.data, self._now()),
                                     COMMAND_QOS),
            self.create_subscription(Bool, "estop", self._on_estop_topic, COMMAND_QOS),
        ]
        self._srvs = [self.create_service(Trigger, "estop", self._on_estop_srv),
                      self.create_service(Trigger, "reset_estop", self._on_reset_estop)]
        self._timer = self.create_timer(cfg.period_s, self._tick)
        self._diag_timer = self.create_timer(1.0, self._diagnostics)
        self.get_logger().info(f"configured: {cfg.control_rate_hz} Hz, residual "
                               f"{'from ' + bundle if residual else 'off (base P controller only)'}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().info("active: commanding equilibrium_pose")
        self.core.safety.reanchor()  # start from where the arm is now
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().info("inactive: no commands (the arm holds its last equilibrium)")
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        for t in (self._timer, self._diag_timer):
            self.destroy_timer(t)
        for s in self._subs:
            self.destroy_subscription(s)
        for s in self._srvs:
            self.destroy_service(s)
        self.destroy_lifecycle_publisher(self.pub_eq)
        self.destroy_lifecycle_publisher(self.pub_grip)
        self.core = None
        return TransitionCallbackReturn.SUCCESS

    # ------------------------------------------------------------------ inputs
    def _on_ee(self, m: PoseStamped) -> None:
        p, o = m.pose.position, m.pose.orientation
        self.core.on_ee_pose((p.x, p.y, p.z), (o.w, o.x, o.y, o.z), self._now())

    def _on_target(self, m: PoseStamped) -> None:
        p, o = m.pose.position, m.pose.orientation
        self.core.on_target((p.x, p.y, p.z), (o.w, o.x, o.y, o.z), self._now(), from_time(m.header.stamp))
        if self._active:
            self._tick()  # act on a fresh target now, not at the next tick (pipeline latency)

    def _on_estop_topic(self, m: Bool) -> None:
        if m.data:
            self.core.estop()

    def _on_estop_srv(self, _req, resp: Trigger.Response) -> Trigger.Response:
        self.core.estop()
        resp.success, resp.message = True, "e-stop latched: holding; call reset_estop to resume"
        return resp

    def _on_reset_estop(self, _req, resp: Trigger.Response) -> Trigger.Response:
        self.core.reset_estop()
        resp.success, resp.message = True, "e-stop released"
        return resp

    def _publish_effective(self, cfg: ControllerConfig) -> None:
        """Write the values configure runs with into the node's parameters (those a card changed)."""
        changed = []
        for name in ControllerConfig.__dataclass_fields__:
            value = getattr(cfg, name)
            value = list(value) if isinstance(value, tuple) else value
            current = self.get_parameter(name).value
            current = list(current) if isinstance(current, (list, tuple)) else current
            if current != value:
                changed.append(Parameter(name, value=float(value) if isinstance(current, float) else value))
        self._card_sync = True
        try:
            for result in self.set_parameters(changed):
                if not result.successful:
                    raise ValueError(f"cannot show the card's value as a parameter: {result.reason}")
        finally:
            self._card_sync = False

    def _on_params(self, params) -> SetParametersResult:
        # ranges are enforced by the descriptors; here the accepted values reach the core
        fixed = [p.name for p in params if p.name in ControllerConfig.__dataclass_fields__ and p.name not in DYNAMIC]
        if fixed and not self._card_sync:
            return SetParametersResult(successful=False,
                                       reason=f"{', '.join(fixed)} cannot change while running (set at start)")
        if self.core is not None:
            for p in params:
                if p.name == "residual_scale":
                    self.core.composer.scale = float(p.value)
                elif p.name in ("max_step", "max_force", "max_rotation"):
                    import dataclasses
                    self.core.safety.limits = dataclasses.replace(self.core.safety.limits, **{p.name: float(p.value)})
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ loop
    def _tick(self) -> None:
        t0, c0 = time.perf_counter(), time.thread_time()
        now = self._now()
        out = self.core.step(now)
        if out.source != self._last_source:
            self.get_logger().info(f"source: {self._last_source} -> {out.source}")
            self._last_source = out.source
        if out.pose is not None:
            msg = PoseStamped()
            # policy commands keep the stamp of the observation they came from (end-to-end latency)
            msg.header.stamp = to_time(out.source_stamp_s if out.source_stamp_s is not None else now)
            msg.header.frame_id = self.frame_id
            msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = map(float, out.pose.pos)
            o = msg.pose.orientation
            o.w, o.x, o.y, o.z = map(float, out.pose.quat)
            self.pub_eq.publish(msg)
        if out.gripper is not None:
            self.pub_grip.publish(Float64(data=out.gripper))
        self._step_cpu.append(time.thread_time() - c0)
        self.monitor.tick(time.monotonic(), latency_s=time.perf_counter() - t0)

    def _diagnostics(self) -> None:
        extra = {"source": self._last_source, "estop": self.core.safety.estopped}
        extra.update({f"event_{k}": v for k, v in {**self.core.safety.counts, **self.core.composer.counts}.items()})
        st = self.monitor.status(time.monotonic(), extra)
        st.values["step_time_p99_ms"] = st.values.pop("latency_p99_ms", "nan")
        st.values["step_time_p50_ms"] = st.values.pop("latency_p50_ms", "nan")
        # CPU time of the step (this thread only): what the step costs, without waits for the CPU on a
        # loaded host — the wall-clock numbers above include those
        for q in (50, 99):
            st.values[f"step_cpu_p{q}_ms"] = f"{np.percentile(self._step_cpu, q) * 1e3:.3f}" if self._step_cpu else "nan"
        self.pub_diag.publish(diagnostics_msg([st], self._now()))


def main(args: list[str] | None = None) -> int:
    return run_node(ResidualControllerNode, args, "residual_controller", executor="events")  # latency path: C++ dispatch


if __name__ == "__main__":
    sys.exit(main())
