"""subgoal.algos"""
