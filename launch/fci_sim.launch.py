"""ros2 launch subgoal_ros fci_sim.launch.py — franka-sim + the direct FCI bridge + controller (config/fci_sim.yaml)."""
from subgoal_ros.launch_support import launch_description

CONFIG = "fci_sim.yaml"


def generate_launch_description():
    return launch_description(CONFIG)
