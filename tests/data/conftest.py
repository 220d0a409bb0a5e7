"""Fixtures of the data-layer tests (helpers live in data_testlib.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from data_testlib import Msgs, counts_anyreader, counts_mcap_ros2


@pytest.fixture(scope="session")
def msgs() -> Msgs:
    return Msgs()


@pytest.fixture(scope="session")
def both_readers():
    """``both_readers(bag_dir) -> counts``; fails unless both libraries agree."""

    def check(bag_dir: Path) -> dict[str, int]:
        bag_dir = Path(bag_dir)
        (mcap,) = sorted(bag_dir.glob("*.mcap"))
        a = counts_anyreader(bag_dir)
        b = counts_mcap_ros2(mcap)
        assert a == b, f"readers disagree: rosbags {a} vs mcap_ros2 {b}"
        return a

    return check
