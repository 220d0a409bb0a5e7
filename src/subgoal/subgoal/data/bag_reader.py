"""Read chosen topics of one rosbag2 bag into per-topic time series of decoded numpy values.

Uses rosbags' ``AnyReader`` with the message definitions stored in the bag, so any bag written by
``ros2 bag record`` or our writer is read without ROS. Every failure names the bag and the topic.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

log = logging.getLogger(__name__)


class BagReadError(RuntimeError):
    """A bag (or one of its topics) cannot be turned into data; the message says which."""


@dataclass
class Series:
    """Messages of one topic: log times (ns, sorted) and one decoded value per message."""

    topic: str
    msgtype: str
    times: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    values: list[Any] = field(default_factory=list)


def _image_array(msg: Any, where: str) -> np.ndarray:
    """A sensor_msgs/Image as an (H, W, C) array of its encoding's dtype."""
    enc = str(msg.encoding).lower()
    channels, dtype = {
        "rgb8": (3, np.uint8), "bgr8": (3, np.uint8), "rgba8": (4, np.uint8), "bgra8": (4, np.uint8),
        "mono8": (1, np.uint8), "8uc1": (1, np.uint8), "8uc3": (3, np.uint8), "32fc1": (1, np.float32),
    }.get(enc, (0, None))
    if dtype is None:
        raise BagReadError(f"{where}: unsupported image encoding {msg.encoding!r}")
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.asarray(msg.data, dtype=np.uint8)
    row = w * channels * np.dtype(dtype).itemsize
    if h <= 0 or w <= 0 or step < row or data.size != step * h:
        raise BagReadError(
            f"{where}: image {w}x{h} {msg.encoding} with step {step} does not match its {data.size} data bytes"
        )
    rows = data.reshape(h, step)[:, :row]
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    arr = np.ascontiguousarray(rows).view(dt).reshape(h, w, channels).astype(dtype)
    return arr


def decode_rgb(msg: Any, size: int, where: str) -> np.ndarray:
    """An image message as uint8 RGB (size, size, 3), resized with area interpolation."""
    arr = _image_array(msg, where)
    enc = str(msg.encoding).lower()
    if arr.dtype != np.uint8:
        raise BagReadError(f"{where}: expected an 8-bit color image, got {msg.encoding!r}")
    if enc in ("bgr8", "bgra8"):
        arr = arr[..., [2, 1, 0]]
    elif arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    arr = np.ascontiguousarray(arr[..., :3])
    if arr.shape[:2] != (size, size):
        arr = cv2.resize(arr, (size, size), interpolation=cv2.INTER_AREA)
    return arr


def decode_vector(msg: Any, where: str) -> np.ndarray:
    """A 1xD (or Hx W) 32FC1 image as a float32 vector; 1x0 is the empty vector (e.g. reach has no object)."""
    if str(msg.encoding).lower() != "32fc1":
        raise BagReadError(f"{where}: vector topics must be 32FC1 images, got {msg.encoding!r}")
    if int(msg.width) == 0 and int(msg.step) == 0 and len(msg.data) == 0:
        return np.zeros(0, np.float32)
    return _image_array(msg, where).reshape(-1).astype(np.float32)


def read_series(
    bag_dir: Path,
    topics: dict[str, Callable[[Any, str], Any]],
) -> dict[str, Series]:
    """Decode every message of ``topics`` (topic -> decoder(msg, where)) from one bag directory.

    Topics absent from the bag are absent from the result (the caller decides whether that is
    an error). Raises :class:`BagReadError` naming the bag (and topic) on any read/decode failure.
    """
    from rosbags.highlevel import AnyReader

    bag_dir = Path(bag_dir)
    out: dict[str, Series] = {}
    try:
        with AnyReader([bag_dir]) as reader:
            conns = [c for c in reader.connections if c.topic in topics]
            for c in conns:
                out.setdefault(c.topic, Series(c.topic, c.msgtype))
            times: dict[str, list[int]] = {t: [] for t in out}
            for conn, t_ns, raw in reader.messages(connections=conns):
                where = f"{bag_dir} topic {conn.topic}"
                try:
                    msg = reader.deserialize(raw, conn.msgtype)
                except Exception as exc:  # noqa: BLE001 - any decoder error is a bad message
                    raise BagReadError(f"{where}: cannot deserialize a {conn.msgtype} message ({exc})") from exc
                out[conn.topic].values.append(topics[conn.topic](msg, where))
                times[conn.topic].append(int(t_ns))
    except BagReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - rosbags raises many types for broken files
        raise BagReadError(
            f"{bag_dir}: cannot read bag ({type(exc).__name__}: {exc}); "
            f"if the recording was interrupted, run `subgoal bag recover {bag_dir}`"
        ) from exc
    for topic, s in out.items():
        t = np.asarray(times[topic], np.int64)
        order = np.argsort(t, kind="stable")
        s.times = t[order]
        s.values = [s.values[i] for i in order]
    return out


def list_topics(bag_dir: Path) -> dict[str, str]:
    """Topic -> message type of a bag (reads only the metadata / summary)."""
    from rosbags.highlevel import AnyReader

    try:
        with AnyReader([Path(bag_dir)]) as reader:
            return {c.topic: c.msgtype for c in reader.connections}
    except Exception as exc:  # noqa: BLE001
        raise BagReadError(
            f"{bag_dir}: cannot read bag ({type(exc).__name__}: {exc}); "
            f"if the recording was interrupted, run `subgoal bag recover {bag_dir}`"
        ) from exc
