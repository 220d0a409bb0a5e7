"""Where the robot MJCF and meshes come from: the robosuite 1.5.2 wheel, located on disk.

robosuite is installed with ``--no-deps`` only for its assets (MIT-licensed MJCF + meshes). It is
never imported: importing it would pull its own dependencies and register its own environments.
``importlib.util.find_spec`` finds the package folder without running its ``__init__``.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path


class AssetsNotFoundError(RuntimeError):
    """The robosuite wheel that ships the robot models is not installed."""


@functools.lru_cache(maxsize=1)
def robosuite_assets_dir() -> Path:
    """Return ``.../robosuite/models/assets`` (holds ``robots/`` and ``grippers/``)."""
    spec = importlib.util.find_spec("robosuite")
    if spec is None or not spec.submodule_search_locations:
        raise AssetsNotFoundError(
            "robot models not found: the robosuite wheel is not installed. "
            "Run `pip install --no-deps robosuite==1.5.2` (scripts/setup.sh does it)."
        )
    root = Path(list(spec.submodule_search_locations)[0]) / "models" / "assets"
    if not (root / "robots").is_dir() or not (root / "grippers").is_dir():
        raise AssetsNotFoundError(f"robosuite is installed but has no robot assets under {root}")
    return root


def robot_xml(name: str) -> Path:
    """MJCF of robot arm ``name`` (robosuite folder name, e.g. ``panda``)."""
    path = robosuite_assets_dir() / "robots" / name / "robot.xml"
    if not path.is_file():
        raise AssetsNotFoundError(f"no robot MJCF at {path}")
    return path


def gripper_xml(name: str) -> Path:
    """MJCF of gripper ``name`` (robosuite file stem, e.g. ``panda_gripper``)."""
    path = robosuite_assets_dir() / "grippers" / f"{name}.xml"
    if not path.is_file():
        raise AssetsNotFoundError(f"no gripper MJCF at {path}")
    return path


def license_files() -> list[Path]:
    """License files of the wheel the meshes come from (MIT; documented in docs/sim.md)."""
    dist = robosuite_assets_dir().parents[2]
    return sorted(dist.glob("robosuite-*.dist-info/licenses/*"))
