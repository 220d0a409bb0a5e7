"""subgoal.control: base controllers, residual composition and safety limits — pure functions shared
by training (sim) and the deployed controller node, so what is trained is what runs."""
from subgoal.control.p_controller import SEED_KP, PGains, p_step
from subgoal.control.residual import ResidualComposer
from subgoal.control.safety import Pose, SafetyFilter, SafetyLimits

__all__ = ["SEED_KP", "PGains", "Pose", "ResidualComposer", "SafetyFilter", "SafetyLimits", "p_step"]
