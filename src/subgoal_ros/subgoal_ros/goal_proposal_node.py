"""``goal_proposal`` lifecycle node: current latent/state + final goal → ``subgoal/latent`` (+ preview).

Thin shell over :class:`subgoal.runtime.goal_proposal.GoalProposalCore` (ptp | iris | val, ONNX Runtime
only). It steps once per new state message on ``state_topic`` (default ``latent`` from perception),
at most ``rate_hz``; the final goal comes on ``goal_topic`` (default ``goal/latent``, which perception
encodes from ``goal/image``). ``subgoal/latent`` keeps the state's stamp; ``subgoal/image`` is the
subgoal decoded by the encoder bundle's decoder (for people: the eval video shows it). Re-plans and
plan cost go to ``/diagnostics``. A NaN/oversized goal or state is dropped and counted, never planned on.
"""
from __future__ import annotations

import sys
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import Image

from subgoal.runtime.diagnostics import RateLatencyMonitor
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, STATUS_QOS, diagnostics_msg
from subgoal_ros.images import image_msg, vector_array, vector_msg
from subgoal_ros.node_main import run_node, schedule_autostart


class GoalProposalNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("goal_proposal")
        ro = lambda d: ParameterDescriptor(description=d, read_only=True)  # noqa: E731
        self.declare_parameter("method", "ptp", ro("ptp | iris | val"))
        self.declare_parameter("bundle", "", ro("goal-proposal bundle dir"))
        self.declare_parameter("encoder_bundle", "", ro("encoder bundle the latents come from ('' = state space)"))
        self.declare_parameter("value_bundle", "", ro("ptp: ONNX goal-conditioned value ('' = distance stand-in)"))
        self.declare_parameter("state_topic", "latent", ro("current latent/state vector (32FC1)"))
        self.declare_parameter("goal_topic", "goal/latent", ro("final goal vector (32FC1)"))
        self.declare_parameter("rate_hz", 10.0, ro("max steps per second"))
        self.declare_parameter("reach_threshold", 0.05, ro("distance at which a subgoal counts as reached"))
        self.declare_parameter("autostart", True, ro("configure + activate at startup"))
        self.declare_parameter("num_subgoals", 0, ro("ptp: K subgoals at the coarsest level (0 = planner default)"))
        self.declare_parameter("levels", 0, ro("ptp: hierarchy levels used (0 = planner default)"))
        self.declare_parameter("num_samples", 0, ro("ptp: MPPI samples N (0 = planner default)"))
        self.declare_parameter("num_proposals", 16, ro("iris: M goal proposals scored; val: samples per proposal"))
        self.core = None
        self.decoder = None
        self._error = ""
        self._active = False
        self._last_step = 0.0
        self.counts: dict[str, int] = {}
        schedule_autostart(self, lambda: self._error)

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        p = lambda n: self.get_parameter(n).value  # noqa: E731
        try:
            if not p("bundle"):
                raise ValueError("parameter 'bundle' is empty: set it to a goal-proposal bundle (subgoal train ptp|iris_goal|pixelcnn)")
            from subgoal.runtime.goal_proposal import GoalProposalCore

            planner = {k: p(k) for k in ("num_subgoals", "levels", "num_samples") if p(k) > 0}
            self.core = GoalProposalCore(p("method"), p("bundle"), p("encoder_bundle") or None,
                                         value_dir=p("value_bundle"), reach_threshold=p("reach_threshold"),
                                         planner=planner, num_proposals=p("num_proposals"))
            if p("encoder_bundle"):
                from subgoal.bundle import load_bundle

                enc = load_bundle(p("encoder_bundle"), kind="encoder")
                if "decoder" in enc.card.files:
                    self.decoder = enc
        except Exception as exc:  # noqa: BLE001 - refuse the transition with the core's message
            self._error = str(exc)
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.monitor = RateLatencyMonitor(self.get_fully_qualified_name(), expected_hz=None)
        self.pub_sub = self.create_lifecycle_publisher(Image, "subgoal/latent", COMMAND_QOS)
        self.pub_img = self.create_lifecycle_publisher(Image, "subgoal/image", SENSOR_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", STATUS_QOS)
        self._subs = [self.create_subscription(Image, p("state_topic"), self._on_state, SENSOR_QOS),
                      self.create_subscription(Image, p("goal_topic"), self._on_goal, COMMAND_QOS)]
        self.create_timer(1.0, self._diagnostics)
        self.get_logger().info(f"configured: {p('method')} from {p('bundle')}, state {p('state_topic')}, "
                               f"goal {p('goal_topic')}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.core.reset()  # no plan or goal from a previous episode
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return super().on_deactivate(state)

    def _on_goal(self, m: Image) -> None:
        try:
            self.core.set_goal(vector_array(m))
        except ValueError as exc:
            self._count("bad_goal")
            self.get_logger().warning(f"goal dropped: {exc}", throttle_duration_sec=5.0)

    def _on_state(self, m: Image) -> None:
        if not self._active or self.core.goal is None:
            return
        if time.monotonic() - self._last_step < 1.0 / self.get_parameter("rate_hz").value:
            return
        self._last_step = time.monotonic()
        t0 = time.perf_counter()
        try:
            out = self.core.step(vector_array(m))
        except ValueError as exc:
            self._count("bad_state")
            self.get_logger().warning(f"state dropped: {exc}", throttle_duration_sec=5.0)
            return
        if out.replanned:
            self._count(f"replan_{out.reason}")
        self.pub_sub.publish(vector_msg(out.subgoal_latent, m.header.stamp, m.header.frame_id))
        if self.decoder is not None:
            img = self.decoder.run("decoder", {"latent": np.asarray(out.subgoal_latent, np.float32)[None]})
            pix = np.asarray(next(iter(img.values())))[0]
            pix = pix if pix.shape[-1] == 3 else np.moveaxis(pix, 0, -1)
            self.pub_img.publish(image_msg((np.clip(pix, 0, 1) * 255).astype(np.uint8), m.header.stamp, "subgoal"))
        self.monitor.tick(time.monotonic(), latency_s=time.perf_counter() - t0)
        self._plan_cost = out.plan_cost

    def _diagnostics(self) -> None:
        extra = {"method": self.core.config.method, "plan_cost": f"{getattr(self, '_plan_cost', float('nan')):.4f}",
                 **{f"count_{k}": v for k, v in self.counts.items()}, **{k: str(v) for k, v in self.core.diagnostics().items()}}
        st = self.monitor.status(time.monotonic(), extra)
        st.values["step_time_p99_ms"] = st.values.pop("latency_p99_ms", "nan")
        self.pub_diag.publish(diagnostics_msg([st], time.time()))


def main(args: list[str] | None = None) -> int:
    return run_node(GoalProposalNode, args, "goal_proposal", executor="events")  # latency path: C++ dispatch


if __name__ == "__main__":
    sys.exit(main())
