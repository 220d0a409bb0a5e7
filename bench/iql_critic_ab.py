"""A/B of the twin-critic forward in our IQL update: batched ``baddbmm`` (before) vs per-member ``addmm`` (now).

    python bench/iql_critic_ab.py [--rounds 6] [--steps 150]

One process, one agent, rounds alternate the two ``EnsembleMLP.forward`` variants (same parameters,
same math) so load from other processes hits both alike; prints steps/s per round. Shapes as
``bench/train_throughput.py`` (20-dim state+goal, 4-dim action, 2×256, batch 256, 1 thread).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from subgoal.algos.iql import IQL, IQLConfig
from subgoal.models import mlp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import ACT, BATCH, GOAL, OBS, synthetic_replay  # noqa: E402


def batched_forward(self: mlp.EnsembleMLP, x: torch.Tensor) -> torch.Tensor:
    """The former forward: all members in one ``baddbmm`` per layer on the expanded input."""
    h = x.unsqueeze(0).expand(self.ensemble, *x.shape)
    for i, layer in enumerate(self.layers):
        h = layer(h)
        if i < len(self.layers) - 1:
            h = torch.relu(h)
    return h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--steps", type=int, default=150)
    a = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    data, replay = synthetic_replay(rng)
    agent = IQL(IQLConfig(), OBS, GOAL, ACT)
    agent.set_normalization(data.obs, data.achieved_next)
    variants = {"baddbmm": batched_forward, "addmm_per_member": mlp.EnsembleMLP.forward}
    res: dict[str, list[float]] = {k: [] for k in variants}
    try:
        for _ in range(a.rounds):
            for k, fwd in variants.items():
                mlp.EnsembleMLP.forward = fwd  # type: ignore[method-assign]
                for _ in range(20):
                    agent.update_tensors(replay.sample(BATCH))
                t0 = time.perf_counter()
                for _ in range(a.steps):
                    agent.update_tensors(replay.sample(BATCH))
                res[k].append(round(a.steps / (time.perf_counter() - t0), 1))
    finally:
        mlp.EnsembleMLP.forward = variants["addmm_per_member"]  # type: ignore[method-assign]
    import os
    print(json.dumps({"steps_per_s": res, "mean": {k: round(float(np.mean(v)), 1) for k, v in res.items()},
                      "load_avg": os.getloadavg()}))


if __name__ == "__main__":
    main()
