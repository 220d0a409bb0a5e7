"""Session layout: one bag per episode, atomic session.json index."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from data_testlib import T0
from subgoal.cli.main import main as cli_main
from subgoal.data.session import Session

TOPICS = {"/arm/task/success": "std_msgs/msg/Bool", "/arm/gripper/command": "std_msgs/msg/Float64"}


def test_episodes_are_indexed(tmp_path, msgs, both_readers):
    s = Session(tmp_path / "push")
    w = s.start_episode(TOPICS, task="push", operator_notes="first try")
    assert w.episode_dir.name == "episode_000"
    assert s.record("episode_000").status == "recording"
    for i in range(5):
        w.write("/arm/gripper/command", msgs.float64(0.04), T0 + i * 10**8)
    w.write("/arm/task/success", msgs.boolean(True), T0 + 5 * 10**8)
    rec = s.finish_episode(w, success=True, dropped_counts={"/arm/gripper/command": 2})
    assert rec.status == "complete" and rec.success is True
    assert rec.message_counts == {"/arm/task/success": 1, "/arm/gripper/command": 5}
    assert rec.dropped_counts == {"/arm/gripper/command": 2}
    assert rec.duration_s == pytest.approx(0.5)
    assert both_readers(s.episode_dir("episode_000")) == rec.message_counts

    w2 = s.start_episode(TOPICS, task="push")
    assert w2.episode_dir.name == "episode_001"
    s.discard_episode("episode_001", writer=w2)
    assert (s.dir / "discarded" / "episode_001").is_dir() and not (s.dir / "episode_001").exists()
    w3 = s.start_episode(TOPICS, task="push")
    assert w3.episode_dir.name == "episode_002"  # a discarded name is never reused
    s.finish_episode(w3, success=False)
    s.update_episode("episode_002", success=True, operator_notes="marked later")

    doc = json.loads((s.dir / "session.json").read_text())
    assert [e["name"] for e in doc["episodes"]] == ["episode_000", "episode_001", "episode_002"]
    assert [r.name for r in s.episodes()] == ["episode_000", "episode_002"]
    assert s.record("episode_002").success is True
    assert s.record("episode_000").operator_notes == "first try"
    assert not [p for p in s.dir.iterdir() if p.name.endswith(".tmp")]  # atomic writes left nothing
    with pytest.raises(ValueError, match="unknown or read-only field 'nme'"):
        s.update_episode("episode_000", nme="x")
    with pytest.raises(ValueError, match="status='bogus'"):
        s.update_episode("episode_000", status="bogus")


def test_killed_recording_is_listed_and_recover_updates_index(tmp_path):
    session = tmp_path / "s"
    script = (
        "import sys, time; sys.path.insert(0, sys.argv[2]);"
        "from data_testlib import Msgs; from subgoal.data.session import Session;"
        "m = Msgs(); s = Session(sys.argv[1]);"
        f"w = s.start_episode({TOPICS!r}, task='push');"
        "[w.write('/arm/gripper/command', m.float64(0.01 * i), time.time_ns()) for i in range(50)];"
        "w.flush(); print('ok', flush=True); time.sleep(60)"
    )
    p = subprocess.Popen([sys.executable, "-c", script, str(session), os.path.dirname(__file__)],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ok"
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    s = Session(session, create=False)
    assert s.record("episode_000").status == "recording"  # the index tells it never finished
    assert cli_main(["bag", "recover", str(session / "episode_000")]) == 0
    rec = s.record("episode_000")
    assert rec.status == "recovered" and rec.message_counts == {"/arm/gripper/command": 50, "/arm/task/success": 0}


def test_unindexed_and_corrupt_index(tmp_path):
    s = Session(tmp_path / "s")
    (s.dir / "episode_007").mkdir()
    assert [(r.name, r.status) for r in s.episodes()] == [("episode_007", "unindexed")]
    assert s.next_episode_name() == "episode_008"
    (s.dir / "session.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt session index"):
        s.episodes()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Session(tmp_path / "missing", create=False)
