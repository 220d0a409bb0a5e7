"""`subgoal bringup`: bad configs fail before anything starts; shutdown leaves no orphans."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from subgoal.bringup import Bringup, BringupConfig, BringupError, NodeSpec, load_config


def _subgoal(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "subgoal.cli.main", *args], capture_output=True,
                          text=True, timeout=60, **kw)


def test_missing_config_is_a_clear_error():
    r = _subgoal("bringup", "missing.yaml")
    assert r.returncode == 1
    assert "config file not found: missing.yaml" in r.stderr


def test_unknown_executable_fails_before_starting_anything(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(textwrap.dedent("""
        namespace: t
        nodes:
          heartbeat: {package: subgoal_ros, executable: heartbeat}
          ghost: {package: subgoal_ros, executable: no_such_node}
    """))
    before = {p.pid for p in psutil.process_iter()}
    r = _subgoal("bringup", str(cfg), "--duration", "5")
    assert r.returncode == 1
    assert "executable 'no_such_node' not found in package 'subgoal_ros'" in r.stderr
    assert "heartbeat" in r.stderr  # lists what does exist
    new = [p for p in psutil.process_iter(["cmdline"]) if p.pid not in before
           and any("heartbeat" in c for c in (p.info["cmdline"] or []))]
    assert not new, f"orphan processes: {new}"


@pytest.mark.parametrize("body, message", [
    ("nodes: {}", "non-empty 'nodes:'"),
    ("nodes:\n  a: {package: subgoal_ros}", "missing 'executable'"),
    ("nodes:\n  a: {package: nope_pkg, executable: x}", "package 'nope_pkg' not found"),
    ("launch: 1\nnodes:\n  a: {package: subgoal_ros, executable: heartbeat}", "unknown top-level keys"),
    ("nodes:\n  a-b: {package: subgoal_ros, executable: heartbeat}", "invalid node name"),
    ("nodes: [", "not valid YAML"),
])
def test_config_errors_name_the_problem(tmp_path, body, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(body)
    with pytest.raises(BringupError, match=message):
        Bringup(load_config(cfg), tmp_path / "run")


def test_ctrl_c_stops_every_node(tmp_path, ros_domain_id):
    cfg = tmp_path / "two.yaml"
    cfg.write_text(textwrap.dedent("""
        namespace: ctrlc
        nodes:
          hb1: {package: subgoal_ros, executable: heartbeat, parameters: {rate_hz: 5.0}}
          hb2: {package: subgoal_ros, executable: heartbeat, parameters: {rate_hz: 5.0}}
    """))
    proc = subprocess.Popen([sys.executable, "-m", "subgoal.cli.main", "bringup", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    children = []
    while time.monotonic() < deadline and len(children) < 2:
        children = parent.children(recursive=True)
        time.sleep(0.2)
    assert len(children) >= 2
    time.sleep(2.0)  # let them come up fully (rclpy.init)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"orphans: {alive}"
    assert "[hb1]" in out and "[hb2]" in out


def test_node_ignoring_sigterm_is_killed(tmp_path, monkeypatch):
    """A real child that traps SIGTERM: stop() escalates to SIGKILL after the timeout."""
    prefix = tmp_path / "prefix"
    (prefix / "share/ament_index/resource_index/packages").mkdir(parents=True)
    (prefix / "share/ament_index/resource_index/packages/stubborn_pkg").touch()
    exe = prefix / "lib/stubborn_pkg/stubborn"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/bash\ntrap '' TERM\nwhile true; do sleep 0.1; done\n")
    exe.chmod(0o755)
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{prefix}{os.pathsep}{os.environ.get('AMENT_PREFIX_PATH', '')}")
    b = Bringup(BringupConfig(tmp_path / "c.yaml", [NodeSpec("s", "stubborn_pkg", "stubborn")]),
                tmp_path / "run", kill_timeout_s=1.0)
    b.start()
    time.sleep(0.5)
    pid = b.procs["s"].pid
    t0 = time.monotonic()
    codes = b.stop()
    assert codes["s"] == -signal.SIGKILL
    assert 0.9 < time.monotonic() - t0 < 10
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_params_file_is_standard_ros_layout(tmp_path):
    b = Bringup(BringupConfig(tmp_path / "c.yaml", [
        NodeSpec("hb", "subgoal_ros", "heartbeat", namespace="ns", parameters={"rate_hz": 3.0})]), tmp_path / "run")
    from subgoal.bringup import command_line, ros_params_file
    node, exe = b._plan[0]
    assert ros_params_file(node) == {"/ns/hb": {"ros__parameters": {"rate_hz": 3.0}}}
    cmd = command_line(node, exe, Path("p.yaml"))
    assert cmd[1:] == ["--ros-args", "-r", "__node:=hb", "-r", "__ns:=/ns", "--params-file", "p.yaml"]


def test_nice_lowers_the_priority_of_a_node(tmp_path, ros_domain_id):
    cfg = tmp_path / "n.yaml"
    cfg.write_text("nodes:\n  hb: {package: subgoal_ros, executable: heartbeat, nice: 7}\n")
    b = Bringup(load_config(cfg), tmp_path / "run")
    b.start()
    try:
        # relative to the test's own niceness; the kernel caps at 19 (pytest itself may run under nice)
        assert psutil.Process(b.procs["hb"].pid).nice() == min(os.nice(0) + 7, 19)
    finally:
        b.stop()
    cfg.write_text("nodes:\n  hb: {package: subgoal_ros, executable: heartbeat, nice: -5}\n")
    with pytest.raises(BringupError, match="nice must be an integer 0..19"):
        load_config(cfg)
