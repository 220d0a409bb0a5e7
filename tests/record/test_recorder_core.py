"""RecorderCore on real files: episodes, latched topics, marks, discards, bad config, disk full."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from subgoal.data.session import Session
from subgoal.runtime.recorder import RecorderConfig, RecorderCore, RecorderError

NS = "/arm"
T0 = 1_700_000_000_000_000_000
TOPICS = {f"{NS}/ee_pose": "geometry_msgs/msg/PoseStamped", f"{NS}/task/goal_state": "sensor_msgs/msg/Image",
          f"{NS}/gripper/command": "std_msgs/msg/Float64"}


def _core(tmp_path, **kw) -> RecorderCore:
    return RecorderCore(RecorderConfig(out_dir=str(tmp_path / "s"), topics=tuple(TOPICS), task="push", **kw))


def _episode(core, msgs, n=20, start=T0, metadata=None):
    name = core.start(TOPICS, metadata=metadata, now_ns=start)
    for i in range(n):
        t = start + (i + 1) * 10_000_000
        assert core.write(f"{NS}/ee_pose", msgs.pose(t, (0.5, 0.0, 0.2 + i * 1e-3)), t)
        if i % 5 == 0:
            assert core.write(f"{NS}/gripper/command", msgs.float64(0.04), t)
    return name


def test_episodes_counts_latched_metadata(tmp_path, msgs, both_readers):
    core = _core(tmp_path)
    goal = msgs.vector(T0 - 10**9, [0.5, 0.1, 0.02])
    core.remember_latched(f"{NS}/task/goal_state", goal, T0 - 10**9)  # arrived before the episode
    name = _episode(core, msgs, metadata={"seed": "7"})
    core.mark_success(True)
    rec = core.stop()
    assert name == rec.name == "episode_000" and rec.status == "complete" and rec.success is True
    expected = {f"{NS}/ee_pose": 20, f"{NS}/gripper/command": 4, f"{NS}/task/goal_state": 1}
    assert rec.message_counts == expected
    assert both_readers(tmp_path / "s" / name) == expected  # both readers agree with the index
    meta = yaml.safe_load((tmp_path / "s" / name / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["custom_data"]["seed"] == "7" and meta["custom_data"]["task"] == "push"
    assert meta["custom_data"]["success"] == "true"
    # the latched goal is written again at the next start; mark after stop updates the index
    name2 = _episode(core, msgs, n=5, start=T0 + 10**10)
    core.stop()
    assert core.mark_success(False) == name2
    assert Session(tmp_path / "s").record(name2).success is False
    assert both_readers(tmp_path / "s" / name2)[f"{NS}/task/goal_state"] == 1


def test_discard_moves_and_never_reuses_the_name(tmp_path, msgs):
    core = _core(tmp_path)
    _episode(core, msgs, n=3)
    rec = core.discard()
    assert rec.status == "discarded" and (tmp_path / "s" / "discarded" / "episode_000").is_dir()
    assert _episode(core, msgs, n=3) == "episode_001"
    core.stop()
    assert core.discard().name == "episode_001"  # the last finished one
    with pytest.raises(RecorderError, match="nothing to discard"):
        core.discard()


def test_state_errors_are_clear(tmp_path, msgs):
    core = _core(tmp_path)
    with pytest.raises(RecorderError, match="not recording"):
        core.stop()
    with pytest.raises(RecorderError, match="nothing recorded yet"):
        core.mark_success(True)
    missing = dict(TOPICS, **{f"{NS}/ee_pose": ""})
    with pytest.raises(RecorderError, match=f"no publisher for {NS}/ee_pose"):
        core.start(missing)
    assert not core.write(f"{NS}/ee_pose", msgs.pose(T0, (0, 0, 0)), T0)  # idle: ignored
    _episode(core, msgs, n=1)
    with pytest.raises(RecorderError, match="already recording episode_000"):
        core.start(TOPICS)
    assert not core.write("/not/recorded", b"\x00", T0)
    core.close()
    assert Session(tmp_path / "s").record("episode_000").status == "complete"


def test_max_episode_s_stops_in_poll(tmp_path, msgs):
    core = _core(tmp_path, max_episode_s=1.0)
    _episode(core, msgs, n=2)
    assert core.poll(core.started_mono + 0.5) is None
    assert "max_episode_s" in core.poll(core.started_mono + 1.0)
    assert not core.recording


@pytest.mark.parametrize("kw, match", [
    ({"topics": ()}, "non-empty"), ({"topics": ("a", "a")}, "duplicates"),
    ({"episode_metadata": "{oops"}, "not JSON"), ({"episode_metadata": "[1]"}, "JSON object"),
    ({"flush_period_s": 0.0}, "flush_period_s"), ({"max_episode_s": -1.0}, "max_episode_s")])
def test_bad_config_names_the_value(kw, match):
    with pytest.raises(ValueError, match=match):
        RecorderConfig(**kw)


def test_unusable_session_dir_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        RecorderCore(RecorderConfig(out_dir=str(tmp_path / "file" / "session")))


_FULL_DISK = textwrap.dedent("""
    import json, resource, signal, sys
    sys.path.insert(0, sys.argv[2])
    import numpy as np
    from data_testlib import Msgs, T0
    from subgoal.data.bag_writer import WriterConfig
    from subgoal.runtime.recorder import RecorderConfig, RecorderCore
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    core = RecorderCore(RecorderConfig(out_dir=sys.argv[1], topics=("/cam",)),
                        WriterConfig(flush_period_s=1e-3, chunk_size=4096, background_flush=False))
    core.session.index_path.parent.mkdir(exist_ok=True)
    core.start({"/cam": "sensor_msgs/msg/Image"})
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
    m = Msgs()
    accepted = 0
    for i in range(1000):
        if not core.write("/cam", m.image(T0 + i, np.full((20, 20, 3), i % 255, np.uint8)), T0 + i * 10**7):
            break
        accepted += 1
    print(json.dumps({"error": core.last_error, "recording": core.recording, "accepted": accepted}))
""")


def test_disk_full_stops_recording_and_keeps_what_was_written(tmp_path, both_readers):
    out = subprocess.run([sys.executable, "-c", _FULL_DISK, str(tmp_path / "s"),
                          str(Path(__file__).resolve().parents[1] / "data")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert not res["recording"] and "recording stopped: episode_000" in res["error"]
    assert "file size limit" in res["error"] and "kept" in res["error"]
    rec = Session(tmp_path / "s").record("episode_000")
    assert rec.status == "failed" and "file size limit" in rec.error
    from subgoal.data.recover import recover

    recover(tmp_path / "s" / "episode_000")  # the cut file has no footer: recover indexes it, losing nothing
    kept = both_readers(tmp_path / "s" / "episode_000")["/cam"]
    assert 10 < kept == rec.message_counts["/cam"] <= res["accepted"]
