"""Peer side of bench/train_throughput.py: d3rlpy 2.8.1 IQL gradient steps/s (run in its own venv).

Run by ``bench/train_throughput.py`` with ``bench/.peers/d3rlpy-venv/bin/python``; prints one JSON line.
Same shapes as ours: 20-dim input (state ⊕ goal), 4-dim action, d3rlpy's default 2×256 MLPs, batch 256.
The timed loop is exactly d3rlpy's ``fit`` inner loop (sample a transition batch, ``update``) without its
logging/progress overhead.
"""
import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=20000)
    a = ap.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    import d3rlpy
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(a.n, 20)).astype(np.float32)
    act = rng.uniform(-1, 1, size=(a.n, 4)).astype(np.float32)
    rew = -np.ones((a.n, 1), np.float32)
    term = np.zeros(a.n, np.float32)
    term[99::100] = 1.0
    dataset = d3rlpy.dataset.MDPDataset(obs, act, rew, term)
    iql = d3rlpy.algos.IQLConfig(batch_size=256).create(device="cpu:0")
    iql.build_with_dataset(dataset)
    for _ in range(a.warmup):
        iql.update(dataset.sample_transition_batch(256))
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        iql.update(dataset.sample_transition_batch(256))
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"peer": "d3rlpy", "version": d3rlpy.__version__, "torch": torch.__version__,
                      "steps": a.steps, "seconds": dt, "steps_per_s": a.steps / dt,
                      "cpu_seconds": cpu, "steps_per_cpu_s": a.steps / cpu}))


if __name__ == "__main__":
    main()
