"""Recovery of interrupted recordings: SIGKILL mid-episode, truncated files, CLI."""
from __future__ import annotations

import hashlib
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader

from data_testlib import T0
from subgoal.cli.main import main as cli_main
from subgoal.data.bag_writer import BagWriter, WriterConfig
from subgoal.data.recover import RecoverError, recover

_RECORDER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from data_testlib import Msgs
    from subgoal.data.bag_writer import BagWriter
    m = Msgs()
    session = sys.argv[1]
    topics = {"/arm/camera/image_raw": "sensor_msgs/msg/Image", "/arm/joint_states": "sensor_msgs/msg/JointState"}
    with BagWriter(session + "/episode_000", topics) as w:   # a finished earlier episode
        for i in range(20):
            t = time.time_ns()
            w.write("/arm/joint_states", m.joints(t, ["a"], [i]), t)
    print("episode_000 closed", flush=True)
    w = BagWriter(session + "/episode_001", topics)          # default config: 0.5 s flush period
    img = np.zeros((48, 48, 3), np.uint8)
    i = 0
    while True:
        t = time.time_ns()
        img[:] = i % 256
        w.write("/arm/camera/image_raw", m.image(t, img), t)
        w.write("/arm/joint_states", m.joints(t, ["a"], [i]), t)
        print(i, t, flush=True)
        i += 1
        time.sleep(0.01)
    """
)


def _digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_sigkill_mid_episode_loses_at_most_one_second(tmp_path, both_readers):
    session = tmp_path / "session"
    proc = subprocess.Popen(
        [sys.executable, "-c", _RECORDER, str(session), str(Path(__file__).parent)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line.strip())
                if len(lines) > 120:  # ~1.2 s into episode_001
                    break
        assert proc.poll() is None, proc.stderr.read()
        ep0_before = _digest(session / "episode_000")
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines += [s for s in rest.splitlines() if s.strip()]
    written = [tuple(map(int, s.split())) for s in lines if s[0].isdigit()]
    last_i, last_t = written[-1]

    ep1 = session / "episode_001"
    assert not (ep1 / "metadata.yaml").exists()
    r = recover(ep1)
    assert r.rewritten and not r.was_complete
    counts = both_readers(ep1)
    n_img, n_js = counts["/arm/camera/image_raw"], counts["/arm/joint_states"]
    # the background flush may land between an iteration's image and its joint_states
    assert n_js in (n_img, n_img - 1) and n_img <= last_i + 1
    with open(next(ep1.glob("*.mcap")), "rb") as f:
        times = [m.log_time for _, _, m in make_reader(f).iter_messages()]
    lost_s = (last_t - max(times)) / 1e9
    print(f"SIGKILL lost {lost_s:.3f} s")
    assert 0 <= lost_s <= 1.0, f"lost {lost_s:.3f} s of data"
    # what was recovered is exactly the first n messages that were written, in order
    assert times == sorted(times) and len(times) == n_img + n_js
    assert _digest(session / "episode_000") == ep0_before  # earlier episode untouched
    assert both_readers(session / "episode_000") == {"/arm/joint_states": 20}


def _complete_bag(path: Path, msgs, n: int = 40) -> list[int]:
    cfg = WriterConfig(chunk_size=1024, background_flush=False)
    with BagWriter(path, {"/cam": "sensor_msgs/msg/Image", "/ok": "std_msgs/msg/Bool"}, config=cfg) as w:
        for i in range(n):
            w.write("/cam", msgs.image(T0 + i, np.full((8, 8, 3), i, np.uint8)), T0 + i)
            if i % 10 == 0:
                w.flush()
        w.write("/ok", msgs.boolean(True), T0 + n)
    with open(next(path.glob("*.mcap")), "rb") as f:
        return [m.log_time for _, _, m in make_reader(f).iter_messages()]


def test_truncated_files_recover_to_a_prefix(tmp_path, msgs, both_readers):
    full = tmp_path / "full"
    times = _complete_bag(full, msgs)
    data = (full / "full_0.mcap").read_bytes()
    previous = -1
    for k, frac in enumerate((0.2, 0.4, 0.55, 0.7, 0.9)):  # data ends at ~78 %
        d = tmp_path / f"cut{k}"
        d.mkdir()
        (d / "full_0.mcap").write_bytes(data[: int(len(data) * frac)])
        r = recover(d)
        with open(d / "full_0.mcap", "rb") as f:
            got = [m.log_time for _, _, m in make_reader(f).iter_messages()]
        assert got == times[: len(got)]  # a prefix, nothing invented or reordered
        assert len(got) >= previous and r.message_count == len(got)
        assert r.bytes_lost > 0 and r.stop_reason
        previous = len(got)
        if k in (1, 4):
            assert sum(both_readers(d).values()) == len(got)
    assert previous == len(times)  # a cut in the summary section loses no message


def test_complete_bag_is_left_alone(tmp_path, msgs):
    d = tmp_path / "full"
    _complete_bag(d, msgs, n=5)
    before = _digest(d)
    r = recover(d)
    assert r.was_complete and not r.rewritten and r.message_count == 6
    assert _digest(d) == before


def test_garbage_and_missing(tmp_path):
    d = tmp_path / "junk"
    d.mkdir()
    (d / "junk_0.mcap").write_bytes(b"not an mcap file at all" * 10)
    with pytest.raises(RecoverError, match="no readable MCAP records"):
        recover(d)
    assert sorted(p.name for p in d.iterdir()) == ["junk_0.mcap"]  # no temp file left behind
    with pytest.raises(FileNotFoundError, match="no .mcap file"):
        recover(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        recover(tmp_path / "missing")


def test_cli_info_and_recover(tmp_path, msgs, capsys):
    full = tmp_path / "full"
    _complete_bag(full, msgs, n=20)
    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    (cut / "metadata.yaml").unlink()
    p = cut / "full_0.mcap"
    p.write_bytes(p.read_bytes()[: p.stat().st_size * 2 // 3])

    assert cli_main(["bag", "info", str(full)]) == 0
    out = capsys.readouterr().out
    assert "complete" in out and "/cam" in out and "20 msgs" in out

    assert cli_main(["bag", "info", str(cut)]) == 3  # incomplete: says so, does not modify
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "subgoal bag recover" in out
    assert not (cut / "metadata.yaml").exists()

    assert cli_main(["bag", "recover", str(cut), "--keep-original"]) == 0
    assert "recovered" in capsys.readouterr().out
    assert (cut / "full_0.mcap.orig").exists() and (cut / "metadata.yaml").exists()
    assert cli_main(["bag", "info", str(cut)]) == 0
    assert cli_main(["bag", "recover", str(tmp_path / "nope")]) == 1
