"""Launch files (for full ROS 2 installs) stay in sync with the configs `subgoal bringup` runs."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from subgoal.bringup import load_config, resolve_executable

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))


def test_there_are_launch_files():
    assert LAUNCH_FILES


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_names_an_existing_config_whose_nodes_exist(path):
    tree = ast.parse(path.read_text())
    consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
              for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}
    assert "CONFIG" in consts, f"{path.name} must name its config in a CONFIG constant"
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    cfg_path = ROOT / "config" / consts["CONFIG"]
    assert cfg_path.is_file(), f"{path.name}: config {consts['CONFIG']} missing"
    cfg = load_config(cfg_path)
    for node in cfg.nodes:
        assert resolve_executable(node.package, node.executable).is_file()
    # the config travels with the package (launch resolves it from share/subgoal_ros/config)
    installed = ROOT / "install/subgoal_ros/share/subgoal_ros/config" / consts["CONFIG"]
    assert installed.exists(), f"{installed} not installed by colcon (setup.py data_files)"
