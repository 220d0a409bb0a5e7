"""subgoal.sim: ROS-free MuJoCo sim of a Panda / Sawyer arm under Cartesian impedance control.

``Sim`` is the core the ROS sim node drives; ``SubgoalSimEnv`` (gymnasium) wraps it for learning.
See docs/sim.md.
"""
from subgoal.sim.controller import ImpedanceConfig
from subgoal.sim.core import POLICY_DT, Sim
from subgoal.sim.robots import ROBOTS, get_robot
from subgoal.sim.safety import Workspace
from subgoal.sim.tasks import TASKS, make_task
from subgoal.sim.tasks.base import ACTION_SCALE

__all__ = ["ACTION_SCALE", "ImpedanceConfig", "POLICY_DT", "ROBOTS", "Sim", "TASKS", "Workspace",
           "get_robot", "make_task"]
