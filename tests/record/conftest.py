"""Fixtures of the recording tests: the data layer's two independent bag readers and CDR builder."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from data_testlib import Msgs, counts_anyreader, counts_mcap_ros2  # noqa: E402


@pytest.fixture(scope="session")
def msgs() -> Msgs:
    return Msgs()


@pytest.fixture(scope="session")
def read_counts():
    """``read_counts(bag_dir) -> {topic: n}``; fails unless rosbags and mcap-ros2 agree."""

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
