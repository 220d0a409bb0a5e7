"""subgoal.cli"""
