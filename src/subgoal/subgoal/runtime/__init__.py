"""subgoal.runtime"""
