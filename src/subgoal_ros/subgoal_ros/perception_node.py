"""``perception`` lifecycle node: ``camera/image_raw`` → ``latent``; ``goal/image`` → ``goal/latent``.

Thin shell over :class:`subgoal.runtime.perception.PerceptionCore`. Encodes in the image callback (no
timer: the latent is as fresh as the frame) and keeps the image's header stamp, so downstream latency is
measured from the camera. A latent is a 1×D 32FC1 image (H×W code grid for a VQ-VAE). Wrong image size,
encoding or a NaN latent: not published, counted, logged (throttled).
"""
from __future__ import annotations

import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import Image

from subgoal.runtime.diagnostics import RateLatencyMonitor
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, STATUS_QOS, diagnostics_msg, from_time
from subgoal_ros.images import image_array, image_msg
from subgoal_ros.node_main import run_node, schedule_autostart


class PerceptionNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("perception")
        ro = ParameterDescriptor(read_only=True)
        self.declare_parameter("bundle", "", ParameterDescriptor(description="encoder bundle dir", read_only=True))
        self.declare_parameter("resize", False, ParameterDescriptor(
            description="resize camera images to the encoder's size instead of rejecting them", read_only=True))
        self.declare_parameter("autostart", True, ro)
        self.core = None
        self._error = ""
        self.counts: dict[str, int] = {}
        schedule_autostart(self, lambda: self._error)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            bundle = self.get_parameter("bundle").value
            if not bundle:
                raise ValueError("parameter 'bundle' is empty: set it to an encoder bundle dir (models/<name>)")
            from subgoal.runtime.perception import PerceptionCore

            self.core = PerceptionCore(bundle, resize=self.get_parameter("resize").value)
        except Exception as exc:  # noqa: BLE001 - refuse the transition with the loader's message
            self._error = str(exc)
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.monitor = RateLatencyMonitor(self.get_fully_qualified_name())
        self.pub_latent = self.create_lifecycle_publisher(Image, "latent", SENSOR_QOS)
        self.pub_goal = self.create_lifecycle_publisher(Image, "goal/latent", COMMAND_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", STATUS_QOS)
        self._subs = [self.create_subscription(Image, "camera/image_raw", self._on_image, SENSOR_QOS),
                      self.create_subscription(Image, "goal/image", self._on_goal_image, COMMAND_QOS)]
        self.create_timer(1.0, self._diagnostics)
        h, w, _ = self.core.image_shape
        self.get_logger().info(f"configured: encoder {self.core.bundle.name} ({w}x{h}, {self.core.latent_kind})")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return super().on_deactivate(state)

    def _encode(self, msg: Image):
        from subgoal.runtime.perception import PerceptionInputError, PerceptionOutputError

        try:
            z = self.core.step(image_array(msg))
        except (ValueError, PerceptionInputError, PerceptionOutputError) as exc:
            kind = type(exc).__name__
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.get_logger().warning(f"image dropped: {exc}", throttle_duration_sec=5.0)
            return None
        grid = z.reshape(1, -1) if z.ndim == 1 else z.reshape(z.shape[-2], z.shape[-1])
        return image_msg(grid.astype("float32"), msg.header.stamp, msg.header.frame_id, "32FC1")

    def _on_image(self, msg: Image) -> None:
        t0 = time.time()
        out = self._encode(msg)
        if out is not None:
            self.pub_latent.publish(out)
            self.monitor.tick(time.monotonic(), latency_s=t0 - from_time(msg.header.stamp))

    def _on_goal_image(self, msg: Image) -> None:
        out = self._encode(msg)
        if out is not None:
            self.pub_goal.publish(out)

    def _diagnostics(self) -> None:
        extra = {"bundle": self.core.bundle.name, **{f"dropped_{k}": v for k, v in self.counts.items()}}
        self.pub_diag.publish(diagnostics_msg([self.monitor.status(time.monotonic(), extra)], time.time()))


def main(args: list[str] | None = None) -> int:
    return run_node(PerceptionNode, args, "perception", executor="events")  # latency path: C++ dispatch


if __name__ == "__main__":
    sys.exit(main())
