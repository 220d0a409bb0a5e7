"""A/B of the twin-critic forward in our IQL update: batched ``baddbmm`` (before) vs per-member ``addmm`` (now).

    python bench/iql_critic_ab.py [--rounds 6] [--steps 150]

One process, one agent, rounds alternate the two ``EnsembleMLP.forward`` variants (same parameters,
same math) so load from other processes hits both alike; prints steps/s per round. Shapes as
``bench/train_throughput.py`` (20-dim state+goal, 4-dim action, 2×256, batch 256, 1 thread).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from subgoal.algos.buffers import GoalDataset, GoalReplay
from subgoal.algos.iql import IQL, IQLConfig
from subgoal.data.relabel import RelabelConfig
from subgoal.models import mlp

OBS, GOAL, ACT, BATCH = 17, 3, 4, 256


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
    n = 20000
    obs = rng.normal(size=(n + 1, OBS)).astype(np.float32)
    data = GoalDataset(obs=obs[:-1], next_obs=obs[1:], actions=rng.uniform(-1, 1, (n, ACT)).astype(np.float32),
                       achieved_next=obs[1:, :GOAL].copy(), episode_ends=np.arange(100, n + 1, 100),
                       action_low=-np.ones(ACT, np.float32), action_high=np.ones(ACT, np.float32))
    agent = IQL(IQLConfig(), OBS, GOAL, ACT)
    agent.set_normalization(data.obs, data.achieved_next)
    replay = GoalReplay(data, RelabelConfig(keep=0.2, future=0.5, uniform=0.3), rng=rng)
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
