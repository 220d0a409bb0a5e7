"""``subgoal train NAME …``: dispatch to ``subgoal.train.<module>`` (imported lazily).

Each trainer module exposes ``add_arguments(parser)`` and ``run(args) -> int``. A name whose module
does not exist yet exits with a clear "not implemented yet" and code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module under subgoal.train, help)
TRAINERS: dict[str, tuple[str, str]] = {
    "vae": ("vae", "beta-VAE image encoder (RIG)"),
    "ccvae": ("ccvae", "context-conditioned VAE (CC-RIG)"),
    "vqvae": ("vqvae", "VQ-VAE image encoder (VAL)"),
    "iris_goal": ("iris_goal", "IRIS goal cVAE + BCQ-style value for goal selection"),
    "pixelcnn": ("pixelcnn", "VAL conditional PixelCNN over VQ-VAE codes"),
    "ptp": ("ptp", "PTP multi-horizon subgoal generators (hierarchical planner)"),
    "iql": ("iql", "goal-conditioned IQL (offline)"),
    "awac": ("awac", "goal-conditioned AWAC (offline)"),
    "bc": ("bc", "goal-conditioned behaviour cloning baseline"),
    "iris_policy": ("iris_policy", "IRIS low-level goal-conditioned LSTM (BC on T-step windows)"),
    "actionable": ("actionable", "Actionable Models (conservative goal-conditioned Q-learning)"),
    "residual": ("residual", "residual RL (SAC/TD3/DDPGfD) on top of a P/impedance controller"),
    "finetune": ("finetune", "offline -> online fine-tuning of IQL/AWAC in sim (issue 7)"),
}


def _module(name: str):
    target = f"subgoal.train.{TRAINERS[name][0]}"
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name == target:
            return None
        raise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="trainer", metavar="NAME", required=True)
    from subgoal.cli.main import ARGV

    argv = ARGV or sys.argv[1:]  # `python -m subgoal.cli.main` loads main twice: its ARGV is the other copy's
    args = argv[argv.index("train") + 1:] if "train" in argv else []
    chosen = next((a for a in args if not a.startswith("-")), None)
    for name, (_, help_text) in TRAINERS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            mod = _module(name)
            if mod is not None:
                mod.add_arguments(p)


def run(args: argparse.Namespace) -> int:
    mod = _module(args.trainer)
    if mod is None:
        print(f"subgoal train {args.trainer}: not implemented yet (see the open issues)", file=sys.stderr)
        return 2
    return int(mod.run(args) or 0)
