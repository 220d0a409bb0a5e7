"""Helpers for the data-layer tests: real CDR from rosbags' serializer, two independent readers.

(A uniquely named module, not conftest, so test files and subprocesses can import it.)
"""
from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
from rosbags.typesys import Stores, get_typestore

NS = "/arm"
T0 = 1_700_000_000_000_000_000


class Msgs:
    """Build serialized (CDR) ROS 2 Jazzy messages with rosbags' typestore."""

    def __init__(self) -> None:
        self.ts = get_typestore(Stores.ROS2_JAZZY)
        self.T = self.ts.types

    def header(self, t_ns: int, frame: str = "base"):
        T = self.T
        return T["std_msgs/msg/Header"](
            stamp=T["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9), frame_id=frame
        )

    def ser(self, msg, msgtype: str) -> bytes:
        return bytes(self.ts.serialize_cdr(msg, msgtype))

    def image(self, t_ns: int, arr: np.ndarray, encoding: str = "rgb8") -> bytes:
        arr = np.ascontiguousarray(arr)
        h, w = arr.shape[:2]
        step = arr.nbytes // h
        msg = self.T["sensor_msgs/msg/Image"](
            header=self.header(t_ns, "cam"), height=h, width=w, encoding=encoding, is_bigendian=0, step=step,
            data=np.frombuffer(arr.tobytes(), dtype=np.uint8),
        )
        return self.ser(msg, "sensor_msgs/msg/Image")

    def vector(self, t_ns: int, vec) -> bytes:
        """A 1xD 32FC1 image: how vectors travel in this project."""
        return self.image(t_ns, np.asarray(vec, np.float32).reshape(1, -1), encoding="32FC1")

    def pose(self, t_ns: int, pos, quat=(0.0, 0.0, 0.0, 1.0)) -> bytes:
        T = self.T
        msg = T["geometry_msgs/msg/PoseStamped"](
            header=self.header(t_ns),
            pose=T["geometry_msgs/msg/Pose"](
                position=T["geometry_msgs/msg/Point"](x=float(pos[0]), y=float(pos[1]), z=float(pos[2])),
                orientation=T["geometry_msgs/msg/Quaternion"](
                    x=float(quat[0]), y=float(quat[1]), z=float(quat[2]), w=float(quat[3])
                ),
            ),
        )
        return self.ser(msg, "geometry_msgs/msg/PoseStamped")

    def joints(self, t_ns: int, names, pos) -> bytes:
        msg = self.T["sensor_msgs/msg/JointState"](
            header=self.header(t_ns), name=list(names), position=np.asarray(pos, np.float64),
            velocity=np.zeros(0), effort=np.zeros(0),
        )
        return self.ser(msg, "sensor_msgs/msg/JointState")

    def boolean(self, v: bool) -> bytes:
        return self.ser(self.T["std_msgs/msg/Bool"](data=bool(v)), "std_msgs/msg/Bool")

    def float64(self, v: float) -> bytes:
        return self.ser(self.T["std_msgs/msg/Float64"](data=float(v)), "std_msgs/msg/Float64")


def counts_anyreader(bag_dir: Path) -> dict[str, int]:
    """Per-topic counts from rosbags' AnyReader, deserializing every message (types from the bag)."""
    from rosbags.highlevel import AnyReader

    out: collections.Counter[str] = collections.Counter()
    with AnyReader([Path(bag_dir)]) as reader:
        for conn, _, raw in reader.messages():
            reader.deserialize(raw, conn.msgtype)
            out[conn.topic] += 1
    return dict(out)


def counts_mcap_ros2(mcap_path: Path) -> dict[str, int]:
    """Per-topic counts from mcap-ros2-support, decoding every message with the bag's schemas."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    out: collections.Counter[str] = collections.Counter()
    with open(mcap_path, "rb") as f:
        for _, channel, _, ros_msg in make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages():
            assert ros_msg is not None
            out[channel.topic] += 1
    return dict(out)
