"""ros2 launch subgoal_ros demo.launch.py — the stack of config/demo.yaml (sim.yaml + a people view)."""
from subgoal_ros.launch_support import launch_description

CONFIG = "demo.yaml"


def generate_launch_description():
    return launch_description(CONFIG)
