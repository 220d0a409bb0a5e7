"""subgoal.sim"""
