"""ros2 launch subgoal_ros sim.launch.py — the whole stack on the simulated Panda (config/sim.yaml)."""
from subgoal_ros.launch_support import launch_description

CONFIG = "sim.yaml"


def generate_launch_description():
    return launch_description(CONFIG)
