"""``subgoal train awac``: goal-conditioned AWAC (``subgoal.algos.awac``) on a robomimic HDF5 → model bundle.

    subgoal train awac --dataset data/reach.hdf5 --obs state --out models/reach_awac [--steps N] [--seed S] [--resume]

Loop, checkpoints, TensorBoard and export are shared: see ``subgoal.train.offline``.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from subgoal.algos.awac import AWACConfig
    from subgoal.train.offline import add_offline_arguments
    add_offline_arguments(parser, AWACConfig)


def run(args: argparse.Namespace) -> int:
    from subgoal.train.offline import run_offline
    return run_offline("awac", args)
