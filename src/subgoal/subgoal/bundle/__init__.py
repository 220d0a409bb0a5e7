"""subgoal.bundle"""
