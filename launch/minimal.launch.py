"""ros2 launch subgoal_ros minimal.launch.py — the heartbeat graph of config/minimal.yaml."""
from subgoal_ros.launch_support import launch_description

CONFIG = "minimal.yaml"


def generate_launch_description():
    return launch_description(CONFIG)
