"""ros2 launch subgoal_ros sawyer.launch.py — the graph of config/sawyer.yaml (docs/hardware.md)."""
from subgoal_ros.launch_support import launch_description

CONFIG = "sawyer.yaml"


def generate_launch_description():
    return launch_description(CONFIG)
