"""Perception node between the sim camera and the latent topic, over real DDS."""
from __future__ import annotations

import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from subgoal.bringup import Bringup, BringupConfig, NodeSpec  # noqa: E402
from subgoal_ros.conversions import SENSOR_QOS, STATUS_QOS  # noqa: E402
from subgoal_ros.testing import spin_until  # noqa: E402

from subgoal.bundle.synthetic import encoder_bundle  # noqa: E402


def _key(m) -> tuple[int, int]:
    return (m.header.stamp.sec, m.header.stamp.nanosec)


@pytest.fixture
def ros_node(ros_domain_id):
    rclpy.init()
    node = rclpy.create_node("perception_test")
    yield node
    node.destroy_node()
    rclpy.shutdown()


@pytest.mark.parametrize("camera", [48, 64], ids=["fits", "wrong_size"])
def test_latent_keeps_the_image_stamp_and_bad_sizes_are_dropped(ros_node, tmp_path, camera):
    ns = f"/perc{camera}"
    bundle = encoder_bundle(tmp_path / "enc")
    b = Bringup(BringupConfig(tmp_path / "c.yaml", [
        NodeSpec("sim", "subgoal_ros", "sim", ns, {"task": "reach", "lowpoly": True, "camera_width": camera,
                                                    "camera_height": camera, "camera_rate_hz": 10.0}),
        NodeSpec("perception", "subgoal_ros", "perception", ns, {"bundle": str(bundle)})]), tmp_path / "run")
    images, latents, diag = {}, [], {}
    ros_node.create_subscription(Image, f"{ns}/camera/image_raw",
                                 lambda m: images.__setitem__((m.header.stamp.sec, m.header.stamp.nanosec), m), SENSOR_QOS)
    ros_node.create_subscription(Image, f"{ns}/latent", latents.append, SENSOR_QOS)

    def on_diag(m):
        for s in m.status:
            if s.name == f"{ns}/perception":
                diag.update({kv.key: kv.value for kv in s.values})

    ros_node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, STATUS_QOS)
    b.start()
    try:
        if camera == 48:
            # both streams are best effort: wait for latents whose camera frame this test also received
            assert spin_until(ros_node, lambda: sum(_key(m) in images for m in latents) >= 5, 90)
        else:
            assert spin_until(ros_node, lambda: int(diag.get("dropped_PerceptionInputError", 0)) >= 5, 90), diag
    finally:
        assert b.stop() == {"sim": 0, "perception": 0}
    if camera == 48:
        lat = latents[-1]
        assert lat.encoding == "32FC1" and lat.height == 1 and lat.width == 8
        # latents carry the camera's stamp exactly (a re-stamping perception node would match none)
        assert sum(_key(m) in images for m in latents) >= 5
    else:
        assert not latents
