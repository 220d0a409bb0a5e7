"""ros2 launch subgoal_ros realsense.launch.py — the graph of config/realsense.yaml (docs/hardware.md)."""
from subgoal_ros.launch_support import launch_description

CONFIG = "realsense.yaml"


def generate_launch_description():
    return launch_description(CONFIG)
