"""Test-session isolation for everything that starts DDS participants.

Each pytest session takes its own ROS_DOMAIN_ID (0–101) by holding an flock on
/tmp/subgoal-ros-domain-<id>.lock, so parallel runs (two CI jobs, a developer's shell) never see
each other's nodes; discovery stays on loopback; Fast DDS shared-memory segments this session
created are removed at the end (a killed participant leaves them behind otherwise).
"""
from __future__ import annotations

import fcntl
import glob
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data"))  # data_testlib: bag/CDR helpers used by several test dirs


def _claim_domain() -> tuple[int, object]:
    start = os.getpid() % 100
    for i in range(102):
        dom = (start + i) % 102
        fh = open(f"/tmp/subgoal-ros-domain-{dom}.lock", "w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return dom, fh
        except OSError:
            fh.close()
    raise RuntimeError("no free ROS_DOMAIN_ID in 0..101")


def _shm_segments() -> set[str]:
    return set(glob.glob("/dev/shm/fastrtps_*")) | set(glob.glob("/dev/shm/sem.fastrtps_*"))


_DOMAIN, _LOCK = _claim_domain()
os.environ["ROS_DOMAIN_ID"] = str(_DOMAIN)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_LOG_DIR", str(ROOT / "log" / "ros"))
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
_SHM_BEFORE = _shm_segments()


def pytest_sessionfinish(session, exitstatus):
    for seg in _shm_segments() - _SHM_BEFORE:
        try:
            os.unlink(seg)
        except OSError:
            pass


@pytest.fixture(scope="session")
def ros_domain_id() -> int:
    """The ROS_DOMAIN_ID this test session owns (already exported to os.environ)."""
    return _DOMAIN


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


# ---- bag fixtures shared by tests/data and tests/record (helpers: tests/data/data_testlib.py)
@pytest.fixture(scope="session")
def msgs():
    """CDR builder for the project's message types (rosbags typestore, no rclpy)."""
    from data_testlib import Msgs

    return Msgs()


@pytest.fixture(scope="session")
def both_readers():
    """``both_readers(bag_dir) -> {topic: n}``; fails unless rosbags AnyReader and mcap-ros2 agree."""
    from data_testlib import counts_anyreader, counts_mcap_ros2

    def check(bag_dir: Path) -> dict[str, int]:
        bag_dir = Path(bag_dir)
        (mcap,) = sorted(bag_dir.glob("*.mcap"))
        a = counts_anyreader(bag_dir)
        b = counts_mcap_ros2(mcap)
        assert a == b, f"readers disagree: rosbags {a} vs mcap_ros2 {b}"
        return a

    return check


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a test that records real-time episodes (tens of seconds)")
