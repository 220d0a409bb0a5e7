"""subgoal.data"""
