"""The `subgoal` entry point: help lists every command; unimplemented ones say so and exit 2."""
from __future__ import annotations

import shutil
import subprocess
import sys

from subgoal.cli.main import COMMANDS


def test_console_script_help_lists_every_command():
    exe = shutil.which("subgoal")
    assert exe, "`subgoal` console script not on PATH (scripts/setup.sh installs it)"
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for name in COMMANDS:
        assert name in r.stdout


def test_each_command_has_help():
    for name in COMMANDS:
        r = subprocess.run([sys.executable, "-m", "subgoal.cli.main", name, "--help"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (name, r.stderr)


def test_bench_lists_and_refuses_unknown():
    r = subprocess.run([sys.executable, "-m", "subgoal.cli.main", "bench"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "dds_latency" in r.stdout
    r = subprocess.run([sys.executable, "-m", "subgoal.cli.main", "bench", "nope"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "unknown benchmark 'nope'" in r.stderr
