"""subgoal.models"""
