"""``subgoal train actionable``: Actionable Models (seed 004): goal-conditioned Q in [0, 1] with conservative negatives and goal chaining → model bundle.

    subgoal train actionable --dataset data/reach.hdf5 --obs state --out models/reach_actionable [--steps N] [--seed S] [--resume]

Loop, checkpoints, TensorBoard, sim evaluation and export are shared: see ``subgoal.train.offline``.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from subgoal.algos.actionable import ActionableConfig
    from subgoal.train.offline import add_offline_arguments
    add_offline_arguments(parser, ActionableConfig)


def run(args: argparse.Namespace) -> int:
    from subgoal.train.offline import run_offline
    return run_offline("actionable", args)
