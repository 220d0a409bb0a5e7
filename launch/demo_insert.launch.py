"""ros2 launch subgoal_ros demo_insert.launch.py — the stack of config/demo_insert.yaml (sim.yaml + a people view)."""
from subgoal_ros.launch_support import launch_description

CONFIG = "demo_insert.yaml"


def generate_launch_description():
    return launch_description(CONFIG)
