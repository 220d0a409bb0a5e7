"""numpy <-> sensor_msgs/Image without cv_bridge (no wheel for it), with checks that name the problem.

Vectors travel as 1×D ``32FC1`` images (DESIGN.md) so latents and task states keep a header stamp.
"""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, Image

_ENCODINGS = {"rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3), "mono8": (np.uint8, 1), "32FC1": (np.float32, 1)}


def image_msg(array: np.ndarray, stamp: Time, frame_id: str, encoding: str = "rgb8") -> Image:
    dtype, channels = _ENCODINGS[encoding]
    a = np.ascontiguousarray(array, dtype=dtype)
    h, w = a.shape[:2]
    msg = Image(height=h, width=w, encoding=encoding, is_bigendian=0, step=w * channels * a.itemsize)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.data = a.tobytes()
    return msg


def vector_msg(vec: np.ndarray, stamp: Time, frame_id: str = "") -> Image:
    return image_msg(np.asarray(vec, np.float32).reshape(1, -1), stamp, frame_id, "32FC1")


def image_array(msg: Image, expect_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Image message -> (H, W, C) uint8 RGB or (H, W) float32; ValueError that says what is wrong."""
    if msg.encoding not in _ENCODINGS:
        raise ValueError(f"unsupported image encoding {msg.encoding!r} (supported: {sorted(_ENCODINGS)})")
    dtype, channels = _ENCODINGS[msg.encoding]
    itemsize = np.dtype(dtype).itemsize
    if msg.step != msg.width * channels * itemsize or len(msg.data) != msg.step * msg.height:
        raise ValueError(f"image {msg.width}x{msg.height} {msg.encoding}: step {msg.step} / {len(msg.data)} bytes "
                         f"do not match (expected step {msg.width * channels * itemsize})")
    if expect_hw is not None and (msg.height, msg.width) != tuple(expect_hw):
        raise ValueError(f"image is {msg.width}x{msg.height}, expected {expect_hw[1]}x{expect_hw[0]}")
    a = np.frombuffer(bytes(msg.data), dtype=dtype)
    a = a.reshape(msg.height, msg.width, channels) if channels > 1 else a.reshape(msg.height, msg.width)
    return a[..., ::-1].copy() if msg.encoding == "bgr8" else a


def vector_array(msg: Image) -> np.ndarray:
    return image_array(msg).reshape(-1)


def camera_info(width: int, height: int, stamp: Time, frame_id: str, fovy_deg: float = 45.0) -> CameraInfo:
    """Pinhole intrinsics of a MuJoCo camera (vertical field of view ``fovy_deg``)."""
    f = 0.5 * height / np.tan(np.deg2rad(fovy_deg) / 2)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob", d=[0.0] * 5)
    info.k = [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.header.stamp, info.header.frame_id = stamp, frame_id
    return info
