"""subgoal.control"""
