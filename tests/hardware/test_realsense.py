"""RealSense through the real pyrealsense2: no-device error, and playback of a recording made by
librealsense's own recorder (software device), both in-process and through the node over DDS."""
from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest

from subgoal.hardware.optional import available

if not available("pyrealsense2"):
    pytest.skip("pyrealsense2 does not import (pip install pyrealsense2; apt-get install libusb-1.0-0)",
                allow_module_level=True)

from subgoal.bringup import Bringup, BringupConfig, NodeSpec, resolve_executable  # noqa: E402
from subgoal.hardware.realsense import (  # noqa: E402
    NoDevice, RealSenseConfig, RealSenseSource, list_devices, load_pyrealsense2, write_synthetic_recording)

W, H, N = 64, 48, 8


def _frames() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(N)]


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("rs") / "synthetic.db3"
    frames = _frames()
    intr = write_synthetic_recording(path, frames, fps=30)
    return path, frames, intr


def _no_camera() -> bool:
    return not list_devices(load_pyrealsense2(), 2.0)


def test_playback_returns_every_recorded_frame_bit_exact(recording):
    path, frames, intr = recording
    src = RealSenseSource(RealSenseConfig(playback_file=str(path))).open()
    got = []
    try:
        while (f := src.read(1000)) is not None:
            got.append(f)
        assert src.finished
    finally:
        src.close()
    assert [f.frame_number for f in got] == list(range(N))
    for f, want in zip(got, frames):
        assert f.rgb.shape == (H, W, 3) and np.array_equal(f.rgb, want)
    assert got[0].intrinsics.fx == pytest.approx(intr.fx) and got[0].intrinsics.ppx == pytest.approx(intr.ppx)


@pytest.mark.skipif(not _no_camera(), reason="a RealSense camera is attached")
def test_no_device_is_a_clear_error_within_two_seconds():
    t0 = time.monotonic()
    with pytest.raises(NoDevice, match="no RealSense camera attached"):
        RealSenseSource(RealSenseConfig()).open()
    assert time.monotonic() - t0 < 2.0


def test_bad_playback_files_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        RealSenseConfig(playback_file=str(tmp_path / "missing.db3"))
    (tmp_path / "x.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match="recording"):
        RealSenseConfig(playback_file=str(tmp_path / "x.mp4"))


@pytest.mark.skipif(not _no_camera(), reason="a RealSense camera is attached")
def test_node_without_camera_exits_2_with_the_reason_in_seconds(ros_domain_id):
    exe = resolve_executable("subgoal_ros", "realsense")
    t0 = time.monotonic()
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    assert "no RealSense camera attached" in proc.stderr
    assert elapsed < 8.0, f"took {elapsed:.1f} s (includes starting Python and rclpy)"


def test_node_plays_the_recording_onto_camera_topics(recording, ros_domain_id, tmp_path):
    rclpy = pytest.importorskip("rclpy")
    from sensor_msgs.msg import CameraInfo, Image

    from subgoal_ros.conversions import SENSOR_QOS
    from subgoal_ros.images import image_array
    from subgoal_ros.testing import spin_until, wait_for_publishers

    path, frames, intr = recording
    rclpy.init()
    node = rclpy.create_node("rs_listener")
    images, infos = [], []
    node.create_subscription(Image, "/rs_test/camera/image_raw", images.append, SENSOR_QOS)
    node.create_subscription(CameraInfo, "/rs_test/camera/camera_info", infos.append, SENSOR_QOS)
    # looping playback at 8 fps: whatever frames are lost during discovery come round again
    cfg = BringupConfig(tmp_path / "x.yaml", [NodeSpec("camera", "subgoal_ros", "realsense", namespace="rs_test",
                                                       parameters={"playback_file": str(path), "fps": 8,
                                                                   "loop": True})])
    bringup = Bringup(cfg, tmp_path / "run")
    bringup.start()
    try:
        assert wait_for_publishers(node, "/rs_test/camera/image_raw", timeout_s=20), "node never appeared"
        distinct = lambda: len({bytes(m.data) for m in images})  # noqa: E731
        assert spin_until(node, lambda: distinct() >= N, 20), f"received {distinct()} of {N} distinct frames"
    finally:
        codes = bringup.stop()
        node.destroy_node()
        rclpy.shutdown()
    assert codes == {"camera": 0}
    recorded = [f.tobytes() for f in frames]
    for msg in images:
        assert msg.encoding == "rgb8" and (msg.width, msg.height) == (W, H)
        assert image_array(msg).tobytes() in recorded  # every published frame is a recorded frame, bit exact
    assert infos and infos[0].k[0] == pytest.approx(intr.fx) and infos[0].k[2] == pytest.approx(intr.ppx)
    assert images[-1].header.stamp.sec > 0
