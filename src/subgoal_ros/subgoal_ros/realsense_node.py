"""``realsense`` node: an Intel RealSense colour camera (or a recording of one) -> ``camera/image_raw`` + ``camera/camera_info``.

Thin shell over :class:`subgoal.hardware.realsense.RealSenseSource`. At startup it opens the camera
(or ``playback_file``) and exits with code 2 and one line when it cannot: no camera attached (found
within ``device_timeout_s``, not after the library's 15 s), a missing ``pyrealsense2``/libusb, a bad
file. A timer polls for frames at twice ``fps`` (polling never blocks the executor). Stamps: the
frame's own time when librealsense reports host (global) time, else the receipt time.
With a full ROS install, ``realsense2_camera`` can replace this node: remap ``camera/image_raw`` to
``/camera/camera/color/image_raw`` (docs/hardware.md).
"""
from __future__ import annotations

import sys

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from subgoal.hardware.optional import MissingDependency
from subgoal.hardware.realsense import ColorFrame, Intrinsics, NoDevice, RealSenseConfig, RealSenseSource
from subgoal_ros.conversions import SENSOR_QOS, to_time
from subgoal_ros.images import image_msg
from subgoal_ros.node_main import NodeStartupError, run_node


def camera_info_msg(intr: Intrinsics, stamp, frame_id: str) -> CameraInfo:
    """CameraInfo from librealsense intrinsics (brown_conrady/none -> plumb_bob, k1 k2 p1 p2 k3)."""
    info = CameraInfo(width=intr.width, height=intr.height)
    info.distortion_model = "equidistant" if intr.model in ("kannala_brandt4", "ftheta") else "plumb_bob"
    info.d = [float(x) for x in intr.coeffs]
    info.k = [intr.fx, 0.0, intr.ppx, 0.0, intr.fy, intr.ppy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [intr.fx, 0.0, intr.ppx, 0.0, 0.0, intr.fy, intr.ppy, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.header.stamp, info.header.frame_id = stamp, frame_id
    return info


class RealSenseNode(Node):
    def __init__(self) -> None:
        super().__init__("realsense")
        d = RealSenseConfig()
        p = {name: self.declare_parameter(name, getattr(d, name), ParameterDescriptor(read_only=True)).value
             for name in RealSenseConfig.__dataclass_fields__}
        self.frame_id = self.declare_parameter("frame_id", "camera_color_optical_frame").value
        self.exit_on_end = self.declare_parameter("exit_on_end", False, ParameterDescriptor(
            description="exit (code 0) when a non-looping recording ends", read_only=True)).value
        cfg = RealSenseConfig(**p)  # bad sizes / missing file: ValueError/FileNotFoundError -> exit 2
        # pyrealsense2 is imported only here, after rclpy.init() loaded rclpy's Fast DDS: the extension
        # embeds a Fast DDS of its own, and loading it first lost DDS messages in tests (docs/hardware.md)
        try:
            self.source = RealSenseSource(cfg).open()
        except (NoDevice, MissingDependency) as exc:
            raise NodeStartupError(str(exc)) from exc
        self.pub_img = self.create_publisher(Image, "camera/image_raw", SENSOR_QOS)
        self.pub_info = self.create_publisher(CameraInfo, "camera/camera_info", SENSOR_QOS)
        self.count = 0
        self._ended = False
        self.create_timer(0.5 / cfg.fps, self._poll)
        self.get_logger().info(f"{self.source.device_name}: colour {cfg.width}x{cfg.height} @ {cfg.fps} Hz "
                               f"-> camera/image_raw (frame {self.frame_id})")

    def _poll(self) -> None:
        frame = self.source.read(timeout_ms=0)
        if frame is not None:
            self._publish(frame)
        elif self.source.finished and not self._ended:
            self._ended = True
            self.get_logger().info(f"playback finished after {self.count} frames")
            if self.exit_on_end:
                rclpy.try_shutdown()  # spin returns; run_node exits 0

    def _publish(self, frame: ColorFrame) -> None:
        now = self.get_clock().now().nanoseconds * 1e-9
        t = frame.device_time_ms * 1e-3 if frame.system_time and abs(frame.device_time_ms * 1e-3 - now) < 1.0 else now
        stamp = to_time(t)
        self.pub_img.publish(image_msg(frame.rgb, stamp, self.frame_id, "rgb8"))
        self.pub_info.publish(camera_info_msg(frame.intrinsics, stamp, self.frame_id))
        if self.count == 0:
            self.get_logger().info(f"first frame published ({frame.rgb.shape[1]}x{frame.rgb.shape[0]})")
        self.count += 1

    def close(self) -> None:
        self.source.close()


def main(args: list[str] | None = None) -> None:
    sys.exit(run_node(RealSenseNode, args, "realsense"))


if __name__ == "__main__":
    main()
