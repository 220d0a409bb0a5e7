"""BagWriter: rosbag2 MCAP bags from CDR bytes, read back by two independent libraries."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from mcap.reader import make_reader
from mcap.records import Message
from mcap.stream_reader import StreamReader

from subgoal.data import msgdefs
from subgoal.data.bag_writer import BagWriteError, BagWriter, EpisodeExistsError, WriterConfig
from subgoal.data.qos import SENSOR_DATA_QOS

from data_testlib import NS, T0

TOPICS = {
    f"{NS}/camera/image_raw": "sensor_msgs/msg/Image",
    f"{NS}/joint_states": "sensor_msgs/msg/JointState",
    f"{NS}/ee_pose": "geometry_msgs/msg/PoseStamped",
    f"{NS}/task/success": "std_msgs/msg/Bool",
    f"{NS}/gripper/command": "std_msgs/msg/Float64",
}


def _write_episode(w: BagWriter, msgs, n: int = 12) -> dict[str, int]:
    rng = np.random.default_rng(0)
    for i in range(n):
        t = T0 + i * 50_000_000
        w.write(f"{NS}/camera/image_raw", msgs.image(t, rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)), t)
        w.write(f"{NS}/joint_states", msgs.joints(t, ["j1", "j2"], [0.1 * i, -0.1 * i]), t, t - 1000)
        w.write(f"{NS}/joint_states", msgs.joints(t + 1, ["j1", "j2"], [0.1 * i, -0.1 * i]), t + 1)
        w.write(f"{NS}/ee_pose", msgs.pose(t, [0.4 + 0.01 * i, 0.0, 0.2]), t)
        if i % 3 == 0:
            w.write(f"{NS}/gripper/command", msgs.float64(0.04), t)
    w.write(f"{NS}/task/success", msgs.boolean(True), T0 + n * 50_000_000)
    return {
        f"{NS}/camera/image_raw": n, f"{NS}/joint_states": 2 * n, f"{NS}/ee_pose": n,
        f"{NS}/gripper/command": len(range(0, n, 3)), f"{NS}/task/success": 1,
    }


def test_roundtrip_two_readers_and_metadata(tmp_path, msgs, both_readers):
    ep = tmp_path / "session" / "episode_000"
    qos = {f"{NS}/camera/image_raw": SENSOR_DATA_QOS}
    with BagWriter(ep, TOPICS, qos=qos, custom_data={"task": "push"}) as w:
        expected = _write_episode(w, msgs)
        w.set_custom_data("success", "true")
    assert both_readers(ep) == expected

    meta = yaml.safe_load((ep / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 9 and meta["storage_identifier"] == "mcap"
    assert meta["relative_file_paths"] == ["episode_000_0.mcap"]
    assert meta["message_count"] == sum(expected.values())
    assert meta["files"][0]["message_count"] == sum(expected.values())
    assert meta["starting_time"]["nanoseconds_since_epoch"] == T0
    assert meta["duration"]["nanoseconds"] == 12 * 50_000_000
    assert meta["custom_data"] == {"task": "push", "success": "true"}
    by_topic = {t["topic_metadata"]["name"]: t for t in meta["topics_with_message_count"]}
    assert {k: v["message_count"] for k, v in by_topic.items()} == expected
    img = by_topic[f"{NS}/camera/image_raw"]["topic_metadata"]
    share = msgdefs.find_interface_file("sensor_msgs/msg/Image", ".json")
    hashes = {h["type_name"]: h["hash_string"] for h in json.loads(share.read_text())["type_hashes"]}
    assert img["type_description_hash"] == hashes["sensor_msgs/msg/Image"]
    assert img["offered_qos_profiles"][0]["reliability"] == "best_effort"

    # the MCAP itself: ros2 profile, ros2msg schemas with the nested definitions, channel metadata
    with open(ep / "episode_000_0.mcap", "rb") as f:
        reader = make_reader(f)
        header = reader.get_header()
        summary = reader.get_summary()
        assert header.profile == "ros2"
        schema = next(s for s in summary.schemas.values() if s.name == "geometry_msgs/msg/PoseStamped")
        text = schema.data.decode()
        assert schema.encoding == "ros2msg"
        assert text.startswith(msgdefs.find_interface_file("geometry_msgs/msg/PoseStamped", ".msg").read_text())
        assert "=" * 80 + "\nMSG: std_msgs/Header\n" in text and "MSG: builtin_interfaces/Time" in text
        chan = next(c for c in summary.channels.values() if c.topic == f"{NS}/ee_pose")
        assert chan.message_encoding == "cdr"
        assert chan.metadata["topic_type_hash"].startswith("RIHS01_")
        assert yaml.safe_load(chan.metadata["offered_qos_profiles"])[0]["reliability"] == "reliable"
        meta_records = list(reader.iter_metadata())
        assert meta_records[0].name == "rosbag2" and "serialized_metadata" in meta_records[0].metadata
        times = [m.publish_time for _, _, m in reader.iter_messages(topics=[f"{NS}/joint_states"])]
        assert times[0] == T0 - 1000  # publish time kept apart from log time


def test_decoded_values_match(tmp_path, msgs):
    from mcap_ros2.decoder import DecoderFactory

    ep = tmp_path / "ep"
    arr = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    with BagWriter(ep, {"/cam": "sensor_msgs/msg/Image", "/pose": "geometry_msgs/msg/PoseStamped"}) as w:
        w.write("/cam", msgs.image(T0, arr), T0)
        w.write("/pose", msgs.pose(T0, [1.5, -2.0, 0.25], [0, 0, 0.6, 0.8]), T0)
    with open(ep / "ep_0.mcap", "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        got = {ch.topic: m for _, ch, _, m in reader.iter_decoded_messages()}
    assert bytes(got["/cam"].data) == arr.tobytes() and got["/cam"].encoding == "rgb8"
    p = got["/pose"].pose
    assert (p.position.x, p.position.y, p.position.z, p.orientation.z) == (1.5, -2.0, 0.25, 0.6)


def test_rclpy_serialized_bytes_are_readable(tmp_path, both_readers):
    """The recorder hands over what rclpy's raw subscriptions deliver; check that path too."""
    rclpy_ser = pytest.importorskip("rclpy.serialization")
    from geometry_msgs.msg import PoseStamped

    msg = PoseStamped()
    msg.header.frame_id = "base"
    msg.pose.position.x = 0.3
    ep = tmp_path / "ep"
    with BagWriter(ep, {"/pose": "geometry_msgs/msg/PoseStamped"}) as w:
        for i in range(3):
            w.write("/pose", rclpy_ser.serialize_message(msg), T0 + i)
    assert both_readers(ep) == {"/pose": 3}


def test_never_overwrites_existing_episode(tmp_path, msgs):
    ep = tmp_path / "ep"
    with BagWriter(ep, {"/b": "std_msgs/msg/Bool"}) as w:
        w.write("/b", msgs.boolean(True), T0)
    before = {p.name: p.read_bytes() for p in ep.iterdir()}
    with pytest.raises(EpisodeExistsError, match="already exists"):
        BagWriter(ep, {"/b": "std_msgs/msg/Bool"})
    assert {p.name: p.read_bytes() for p in ep.iterdir()} == before


def test_bad_inputs_are_clear(tmp_path, msgs):
    with pytest.raises(msgdefs.MessageDefinitionError, match="no_such_msgs/msg/Thing.msg"):
        BagWriter(tmp_path / "a", {"/x": "no_such_msgs/msg/Thing"})
    assert not (tmp_path / "a").exists()  # nothing created for a bad type
    with pytest.raises(ValueError, match="leading '/'"):
        BagWriter(tmp_path / "b", {"x": "std_msgs/msg/Bool"})
    with pytest.raises(ValueError, match="not recorded"):
        BagWriter(tmp_path / "c", {"/x": "std_msgs/msg/Bool"}, qos={"/y": SENSOR_DATA_QOS})
    with pytest.raises(ValueError, match="flush_period_s=0"):
        WriterConfig(flush_period_s=0)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(BagWriteError, match="cannot create episode directory"):
        BagWriter(not_a_dir / "ep", {"/x": "std_msgs/msg/Bool"})
    with BagWriter(tmp_path / "d", {"/x": "std_msgs/msg/Bool"}) as w:
        with pytest.raises(KeyError, match="not declared"):
            w.write("/nope", msgs.boolean(True), T0)


def _stream_count(path: Path) -> int:
    """Messages readable from the start of a (possibly unfinished) MCAP file."""
    n = 0
    with open(path, "rb") as f:
        try:
            for rec in StreamReader(f, validate_crcs=True).records:
                n += isinstance(rec, Message)
        except Exception:  # noqa: BLE001 - the unfinished tail
            pass
    return n


def test_time_based_flush_makes_data_durable_without_close(tmp_path, msgs):
    ep = tmp_path / "ep"
    w = BagWriter(ep, {"/b": "std_msgs/msg/Bool"}, config=WriterConfig(flush_period_s=0.05))
    for i in range(5):
        w.write("/b", msgs.boolean(True), T0 + i)
    assert _stream_count(ep / "ep_0.mcap") == 0  # still in the open chunk
    deadline = time.monotonic() + 5.0
    while _stream_count(ep / "ep_0.mcap") < 5 and time.monotonic() < deadline:
        time.sleep(0.02)  # the background thread commits although no message arrives
    assert _stream_count(ep / "ep_0.mcap") == 5
    assert w.committed_counts == {"/b": 5}
    w.close()


_FULL_DISK_SCRIPT = textwrap.dedent(
    """
    import json, resource, signal, sys
    sys.path.insert(0, sys.argv[2])
    from data_testlib import Msgs, T0
    from subgoal.data.bag_writer import BagWriteError, BagWriter, WriterConfig
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    limit = 200_000
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    m = Msgs()
    import numpy as np
    w = BagWriter(sys.argv[1], {"/cam": "sensor_msgs/msg/Image"},
                  config=WriterConfig(flush_period_s=1e-3, chunk_size=4096, background_flush=False))
    err = None
    for i in range(1000):
        try:
            w.write("/cam", m.image(T0 + i * 10**7, np.full((20, 20, 3), i % 255, np.uint8)), T0 + i * 10**7)
        except BagWriteError as exc:
            err = str(exc)
            break
    info = w.close()
    print(json.dumps({"error": err, "kept": w.committed_counts, "closed": info.message_count}))
    """
)


def test_disk_full_stops_cleanly_and_keeps_data(tmp_path, both_readers):
    from subgoal.data.recover import recover

    ep = tmp_path / "ep"
    out = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_SCRIPT, str(ep), str(Path(__file__).parent)],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["error"] is not None and "file size limit reached" in res["error"]
    assert "subgoal bag recover" in res["error"]
    kept = res["kept"]["/cam"]
    assert kept > 10 and res["closed"] == kept
    assert (ep / "ep_0.mcap").stat().st_size <= 200_000
    meta = yaml.safe_load((ep / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["message_count"] == kept  # metadata describes exactly what was kept
    r = recover(ep)
    assert r.message_count == kept and r.bytes_lost == 0  # the file was cut at a record boundary
    assert both_readers(ep) == {"/cam": kept}
