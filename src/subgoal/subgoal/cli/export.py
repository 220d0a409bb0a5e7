"""``subgoal export CHECKPOINT_DIR --out models/NAME``: write a model bundle from a training checkpoint.

CHECKPOINT_DIR is a run folder (``runs/NAME``, holding ``checkpoint/``) or the ``checkpoint/`` folder
itself. The bundle (policy.onnx, value.onnx where the algorithm has a value, model.json, config.json)
is checked against torch (max error ≤ 1e-4) before it is written.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, metavar="CHECKPOINT_DIR",
                        help="run folder with checkpoint/ (e.g. runs/reach_iql) or the checkpoint/ folder")
    parser.add_argument("--out", type=Path, required=True, help="bundle folder to write, e.g. models/reach_iql")


def run(args: argparse.Namespace) -> int:
    from subgoal.bundle import BundleError
    from subgoal.train.common import CheckpointError
    from subgoal.train.offline import export_from_checkpoint

    try:
        card = export_from_checkpoint(args.checkpoint, args.out)
    except (CheckpointError, BundleError) as exc:
        log.error("subgoal export: %s", exc)
        return 2
    log.info("wrote %s (%s, %s): %s", args.out, card.kind, card.algorithm, ", ".join(sorted(card.files)))
    return 0
