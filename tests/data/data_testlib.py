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


EPISODE_TOPICS = {
    f"{NS}/camera/image_raw": "sensor_msgs/msg/Image",
    f"{NS}/ee_pose": "geometry_msgs/msg/PoseStamped",
    f"{NS}/joint_states": "sensor_msgs/msg/JointState",
    f"{NS}/equilibrium_pose": "geometry_msgs/msg/PoseStamped",
    f"{NS}/gripper/command": "std_msgs/msg/Float64",
    f"{NS}/task/success": "std_msgs/msg/Bool",
    f"{NS}/task/object_state": "sensor_msgs/msg/Image",
    f"{NS}/task/goal_state": "sensor_msgs/msg/Image",
}
JOINTS = ["panda_joint1", "panda_joint2", "panda_finger_joint1", "panda_finger_joint2"]
STEP = np.array([0.01, -0.005, 0.002])  # equilibrium position change per 0.1 s command


def write_episode(
    writer,
    m: Msgs,
    duration_s: float = 2.0,
    t0: int = T0,
    skip: tuple[str, ...] = (),
    resize_image_at: float | None = None,
    silence: tuple[str, float, float] | None = None,
    success_after_s: float = 1.5,
    goal_once: bool = False,
    empty_object: bool = False,
) -> None:
    """A synthetic push episode on every project topic, with known commands.

    Commands at 10 Hz (t = 0, 0.1, ...): equilibrium position p_k = p0 + k * STEP, gripper
    opening 0.04 then 0.0 after 1 s. Image 30 Hz (value encodes the frame number), ee_pose and
    joint_states 100 Hz, object/goal state 10 Hz, task/success 10 Hz (true from success_after_s).
    """
    events = []
    p0 = np.array([0.4, 0.0, 0.2])
    n_cmd = int(round(duration_s * 10))
    for k in range(n_cmd + 1):
        t = t0 + k * 100_000_000
        events.append((t, "equilibrium_pose", m.pose(t, p0 + k * STEP)))
        events.append((t, "gripper/command", m.float64(0.04 if k < 10 else 0.0)))
        events.append((t + 1000, "task/object_state", m.vector(t, [] if empty_object else [k, 0.5, -0.5])))
        if k == 0 or not goal_once:  # goal_once: latched, one message per episode (as the sim sends it)
            events.append((t + 1000, "task/goal_state", m.vector(t, [1.0, 2.0, 3.0])))
        events.append((t + 2000, "task/success", m.boolean(k / 10 >= success_after_s)))
    for j in range(int(duration_s * 30) + 1):
        t = t0 + j * 33_333_333 + 5_000_000
        h, w = (24, 32) if resize_image_at is None or (t - t0) / 1e9 < resize_image_at else (12, 16)
        img = np.full((h, w, 3), j % 250, np.uint8)
        img[..., 1] = 7
        events.append((t, "camera/image_raw", m.image(t, img)))
    for j in range(int(duration_s * 100) + 1):
        t = t0 + j * 10_000_000 + 3_000_000
        q = 0.01 * j
        events.append((t, "ee_pose", m.pose(t, p0 + STEP * (q * 10))))  # follows the target
        events.append((t, "joint_states", m.joints(t, JOINTS, [q, -q, 0.02, 0.02])))
    events.sort(key=lambda e: e[0])
    for t, rel, data in events:
        if rel in skip:
            continue
        if silence and rel == silence[0] and silence[1] <= (t - t0) / 1e9 < silence[2]:
            continue
        writer.write(f"{NS}/{rel}", data, t)
