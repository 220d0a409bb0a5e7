"""``recorder`` node (lifecycle): raw (CDR) subscriptions -> one rosbag2 MCAP bag per episode.

Thin shell over :class:`subgoal.runtime.recorder.RecorderCore` (what goes on disk is decided there).

* configure: checks the parameters and opens the session directory (``out_dir``);
* activate: subscribes to every listed topic as soon as a publisher shows up (0.5 s graph scan),
  with raw subscriptions (bytes are stored unchanged, log time = receive time on the node clock)
  and a QoS adapted to the publishers (best effort if any is; transient-local if all are, then the
  latched message is re-written at each episode start);
* deactivate / shutdown: finishes an open episode and drops the subscriptions.

Services (names relative to the namespace): ``recorder/start``, ``recorder/stop``,
``recorder/discard`` (std_srvs/Trigger), ``recorder/mark_success`` (std_srvs/SetBool). The
parameters ``task``, ``operator_notes`` and ``episode_metadata`` (JSON) may be changed between
episodes (``ros2 param set``); they are read at each start. With ``autostart`` (default) the node
configures and activates itself, so plain ``ros2 run`` / ``subgoal bringup`` record right away.
"""
from __future__ import annotations

import importlib
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_srvs.srv import SetBool, Trigger

from subgoal.data.qos import QosProfile
from subgoal.runtime.diagnostics import Level, Status
from subgoal.runtime.recorder import RecorderConfig, RecorderCore, RecorderError, parse_metadata
from subgoal_ros.conversions import STATUS_QOS, diagnostics_msg
from subgoal_ros.node_main import NodeStartupError, run_node

#: Subscription queue: deep enough for a 500 Hz stream while the executor writes a camera frame.
QUEUE_DEPTH = 200
_MUTABLE = ("task", "operator_notes", "episode_metadata")


def message_class(type_name: str):
    """``'sensor_msgs/msg/Image'`` -> the Python class (raw subscriptions still need it)."""
    pkg, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def offered(qos: QoSProfile) -> QosProfile:
    """An rclpy QoS as rosbag2 writes it in ``offered_qos_profiles``."""
    return QosProfile(history="unknown", depth=0, reliability=qos.reliability.name.lower(),
                      durability=qos.durability.name.lower(), liveliness="automatic")


class RecorderNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("recorder")
        defaults = RecorderConfig()
        for name in ("out_dir", "flush_period_s", "require_all_topics", "max_episode_s"):
            self.declare_parameter(name, getattr(defaults, name), ParameterDescriptor(read_only=True))
        self.declare_parameter("topics", list(defaults.topics), ParameterDescriptor(read_only=True))
        for name in _MUTABLE:
            self.declare_parameter(name, getattr(defaults, name),
                                   ParameterDescriptor(description="read at each recorder/start"))
        autostart = self.declare_parameter("autostart", True).value
        self.core: RecorderCore | None = None
        self.topics: dict[str, str] = {}  # full name -> type ('' until a publisher is seen)
        self.qos: dict[str, QosProfile] = {}
        self._subs: dict[str, object] = {}
        self._latched: set[str] = set()
        self._active = False
        self._scan_timer = None
        self._config_error: str | None = None
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", STATUS_QOS)
        self.create_service(Trigger, "recorder/start", self._on_start)
        self.create_service(Trigger, "recorder/stop", self._on_stop)
        self.create_service(Trigger, "recorder/discard", self._on_discard)
        self.create_service(SetBool, "recorder/mark_success", self._on_mark)
        self.create_timer(1.0, self._tick)
        if autostart:
            self.trigger_configure()
            if self.core is None:
                raise NodeStartupError(self._config_error or "configure failed")
            self.trigger_activate()

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._config_error = None
        try:
            p = {n: self.get_parameter(n).value for n in
                 ("out_dir", "topics", "task", "operator_notes", "episode_metadata", "flush_period_s",
                  "require_all_topics", "max_episode_s")}
            cfg = RecorderConfig(**p)
            self.core = RecorderCore(cfg)
        except (ValueError, OSError) as exc:
            self._config_error = f"recorder: bad configuration: {exc}"
            self.get_logger().error(self._config_error)
            return TransitionCallbackReturn.FAILURE
        self.topics = {self.resolve_topic_name(t): "" for t in cfg.topics}
        self.get_logger().info(f"session {self.core.session.dir}: {len(self.topics)} topics")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        self._scan()
        self._scan_timer = self.create_timer(0.5, self._scan)
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._finish_open("deactivated")
        self._active = False
        if self._scan_timer is not None:
            self.destroy_timer(self._scan_timer)
            self._scan_timer = None
        for sub in self._subs.values():
            self.destroy_subscription(sub)
        self._subs.clear()
        self.topics = {t: "" for t in self.topics}
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.core = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._finish_open("shutdown")
        return TransitionCallbackReturn.SUCCESS

    def close(self) -> None:  # run_node calls this on SIGTERM/SIGINT
        self._finish_open("shutdown")

    # ------------------------------------------------------------------ subscriptions
    def _scan(self) -> None:
        """Subscribe to every configured topic that has publishers now."""
        if not self._active:
            return
        graph = dict(self.get_topic_names_and_types())
        for topic, known in self.topics.items():
            if known or topic not in graph:
                continue
            pubs = self.get_publishers_info_by_topic(topic)
            if not pubs:
                continue
            types = graph[topic]
            if len(types) > 1:
                self.get_logger().warning(f"{topic} has several types {types}: recording {types[0]}")
            type_name = types[0]
            best_effort = any(p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for p in pubs)
            latched = all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in pubs)
            qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=QUEUE_DEPTH,
                             reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
            events = SubscriptionEventCallbacks(
                message_lost=lambda info, t=topic: self.core and self.core.count_dropped(t, info.total_count_change))
            self._subs[topic] = self.create_subscription(
                message_class(type_name), topic, lambda data, t=topic: self._on_msg(t, data), qos,
                raw=True, event_callbacks=events)
            self.topics[topic] = type_name
            self.qos[topic] = offered(pubs[0].qos_profile)
            if latched:
                self._latched.add(topic)
            self.get_logger().info(f"subscribed {topic} [{type_name}]{' (latched)' if latched else ''}")

    def _on_msg(self, topic: str, data: bytes) -> None:
        core = self.core
        if core is None:
            return
        t_ns = self.get_clock().now().nanoseconds
        if topic in self._latched:
            core.remember_latched(topic, data, t_ns)
        if core.recording and not core.write(topic, data, t_ns) and core.last_error and not core.recording:
            self.get_logger().error(core.last_error)

    # ------------------------------------------------------------------ services
    def _not_ready(self, resp):
        resp.success, resp.message = False, "recorder is not active (configure + activate it first)"
        return resp

    def _on_start(self, _req, resp):
        if self.core is None or not self._active:
            return self._not_ready(resp)
        try:
            meta = parse_metadata(self.get_parameter("episode_metadata").value)
            name = self.core.start(self.topics, self.qos, task=self.get_parameter("task").value,
                                   operator_notes=self.get_parameter("operator_notes").value,
                                   metadata=meta, now_ns=self.get_clock().now().nanoseconds)
        except (RecorderError, ValueError) as exc:
            resp.success, resp.message = False, str(exc)
            self.get_logger().warning(f"start refused: {exc}")
            return resp
        resp.success, resp.message = True, name
        self.get_logger().info(f"recording {name}")
        return resp

    def _on_stop(self, _req, resp):
        if self.core is None:
            return self._not_ready(resp)
        try:
            rec = self.core.stop()
        except RecorderError as exc:
            resp.success, resp.message = False, str(exc)
            return resp
        resp.success = True
        resp.message = f"{rec.name}: {sum(rec.message_counts.values())} messages, {rec.duration_s:.2f} s"
        self.get_logger().info(f"stopped {resp.message}")
        return resp

    def _on_discard(self, _req, resp):
        if self.core is None:
            return self._not_ready(resp)
        try:
            rec = self.core.discard()
        except RecorderError as exc:
            resp.success, resp.message = False, str(exc)
            return resp
        resp.success, resp.message = True, f"{rec.name} moved to discarded/"
        self.get_logger().info(resp.message)
        return resp

    def _on_mark(self, req, resp):
        if self.core is None:
            return self._not_ready(resp)
        try:
            name = self.core.mark_success(req.data)
        except RecorderError as exc:
            resp.success, resp.message = False, str(exc)
            return resp
        resp.success, resp.message = True, f"{name}: success={bool(req.data)}"
        return resp

    # ------------------------------------------------------------------ periodic
    def _finish_open(self, why: str) -> None:
        if self.core is not None and self.core.recording:
            rec = self.core.close()
            if rec is not None:
                self.get_logger().info(f"{why}: finished {rec.name} ({sum(rec.message_counts.values())} messages)")

    def _tick(self) -> None:
        core = self.core
        if core is not None:
            line = core.poll()
            if line:
                self.get_logger().error(line) if core.last_error else self.get_logger().info(line)
        self.pub_diag.publish(diagnostics_msg([self._status()], time.time()))

    def _status(self) -> Status:
        core = self.core
        name = self.get_fully_qualified_name()
        if core is None:
            return Status(name, Level.STALE, self._config_error or "not configured")
        values = {"state": "recording" if core.recording else ("idle" if self._active else "inactive"),
                  "episode": core.episode or "", "episodes_finished": str(core.stats.episodes_finished),
                  "session": str(core.session.dir),
                  "topics_seen": f"{sum(bool(t) for t in self.topics.values())}/{len(self.topics)}"}
        if core.writer is not None:
            values.update({f"count {t}": str(n) for t, n in core.writer.message_counts.items()})
            values["elapsed_s"] = f"{core.elapsed_s():.1f}"
        values.update({f"dropped {t}": str(n) for t, n in core.stats.dropped.items()})
        if core.last_error:
            return Status(name, Level.ERROR, core.last_error, values=values)
        return Status(name, Level.OK, values["state"], values=values)


def main(args: list[str] | None = None) -> int:
    return run_node(RecorderNode, args, "recorder")


if __name__ == "__main__":
    sys.exit(main())
