"""``subgoal train iql``: goal-conditioned IQL (``subgoal.algos.iql``) on a robomimic HDF5 → model bundle.

    subgoal train iql --dataset data/reach.hdf5 --obs state --out models/reach_iql [--steps N] [--seed S] [--resume]

Loop, checkpoints, TensorBoard and export are shared: see ``subgoal.train.offline``.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from subgoal.algos.iql import IQLConfig
    from subgoal.train.offline import add_offline_arguments
    add_offline_arguments(parser, IQLConfig)


def run(args: argparse.Namespace) -> int:
    from subgoal.train.offline import run_offline
    return run_offline("iql", args)
