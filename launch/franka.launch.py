"""ros2 launch subgoal_ros franka.launch.py — the graph of config/franka.yaml (docs/hardware.md)."""
from subgoal_ros.launch_support import launch_description

CONFIG = "franka.yaml"


def generate_launch_description():
    return launch_description(CONFIG)
