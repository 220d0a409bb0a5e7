"""Per-step cost of the trainer's batch sampling (``subgoal train --sample-block K``) at the throughput bench's shapes.

    python bench/sample_blocks.py [--blocks 1 16 32 64 128] [--rounds 7] [--threads 1]

Times ``batch_source(replay, 256, K, …)(step)`` — ``GoalReplay.sample`` once per step for K = 1, one
``GoalReplay.sample(K·256)`` per K steps plus a row slice per step otherwise (``subgoal.algos.batch_blocks``)
— on ``train_throughput.synthetic_replay`` (20k transitions, HER/uniform relabeling), over whole blocks,
best round each. Prints one JSON object (ms per step for each K).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_throughput import BATCH, synthetic_replay  # noqa: E402


def main() -> int:
    import numpy as np
    import torch

    from subgoal.train.offline import batch_source

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blocks", type=int, nargs="+", default=[1, 16, 32, 64, 128])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    _, replay = synthetic_replay(np.random.default_rng(0))
    span = 4 * max(a.blocks)  # steps per round: whole blocks for every K given
    out: dict = {"bench": "sample_blocks", "batch": BATCH, "threads": a.threads, "ms_per_step": {}}
    for k in a.blocks:
        next_batch = batch_source(replay, BATCH, k, 0, 0)
        for s in range(span):  # warm-up
            next_batch(s)
        best = float("inf")
        for r in range(1, a.rounds + 1):
            t0 = time.perf_counter()
            for s in range(r * span, (r + 1) * span):
                next_batch(s)
            best = min(best, (time.perf_counter() - t0) / span * 1e3)
        out["ms_per_step"][str(k)] = best
    out["load_avg"] = os.getloadavg()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
