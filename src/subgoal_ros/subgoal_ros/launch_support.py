"""Turn a bringup YAML into ``launch_ros`` actions, so launch files and ``subgoal bringup`` agree.

Only importable on a full ROS 2 install (``launch``/``launch_ros`` have no PyPI wheels); the
config parsing it relies on (:func:`subgoal.bringup.load_config`) is tested here.
"""
from __future__ import annotations

from pathlib import Path


def config_path(name: str) -> Path:
    """``config/<name>`` from the installed share dir of subgoal_ros."""
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("subgoal_ros")) / "config" / name


def launch_description(config_name: str):
    """A LaunchDescription with one ``Node`` per node of the config; ``config:=FILE`` overrides."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    from subgoal.bringup import load_config

    def _nodes(context, *_):
        cfg = load_config(LaunchConfiguration("config").perform(context))
        return [
            Node(
                package=n.package, executable=n.executable, name=n.name,
                namespace=n.namespace or None, parameters=[n.parameters],
                remappings=list(n.remappings.items()), additional_env=cfg.env or None,
                output="screen", prefix=f"nice -n {n.nice}" if n.nice else None,
            )
            for n in cfg.nodes
        ]

    return LaunchDescription([
        DeclareLaunchArgument("config", default_value=str(config_path(config_name)),
                              description="bringup YAML (same file `subgoal bringup` reads)"),
        OpaqueFunction(function=_nodes),
    ])
