"""subgoal.planning"""
