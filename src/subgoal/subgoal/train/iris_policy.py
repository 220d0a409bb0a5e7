"""``subgoal train iris_policy``: IRIS low-level goal-conditioned LSTM (seed 000): BC on T-step windows, recurrent state carried by the policy core → model bundle.

    subgoal train iris_policy --dataset data/reach.hdf5 --obs state --out models/reach_iris_policy [--steps N] [--seed S] [--resume]

Loop, checkpoints, TensorBoard, sim evaluation and export are shared: see ``subgoal.train.offline``.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from subgoal.algos.iris_policy import IrisPolicyConfig
    from subgoal.train.offline import add_offline_arguments
    add_offline_arguments(parser, IrisPolicyConfig)


def run(args: argparse.Namespace) -> int:
    from subgoal.train.offline import run_offline
    return run_offline("iris_policy", args)
