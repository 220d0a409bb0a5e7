"""Gradient steps/s of our goal-conditioned IQL vs d3rlpy 2.8.1's IQL, same shapes, same run, CPU.

    python bench/train_throughput.py [--steps 300] [--threads 1] [--rounds 2] [--no-peer]

Shapes (issue 6): state 17 + goal 3 = 20-dim input, 4-dim action, 2×256 MLPs (actor, twin Q, V),
batch 256. Ours runs the real training path: ``GoalReplay.sample`` (numpy indices into preloaded
tensors + HER/uniform goal relabeling) then ``IQL.update_tensors``. The peer runs in its own venv
(``bench/.peers/d3rlpy-venv``: d3rlpy pins gymnasium 1.0.0 and pulls gym, so never the project's venv)
through ``bench/peers/d3rlpy_iql.py``. Rounds alternate ours/peer so load from other processes hits
both alike; the best round of each is compared. Also times the GEMM floor (``matmul_floor``: the
update's matrix products alone) so ``ours_vs_floor`` and ``ratio_ceiling`` say how much of a gap is
framework overhead and how high the ratio could go at this thread count. Prints one JSON object.

Create the peer venv once:
    python3.11 -m venv bench/.peers/d3rlpy-venv
    bench/.peers/d3rlpy-venv/bin/pip install torch==2.13.0 && bench/.peers/d3rlpy-venv/bin/pip install d3rlpy==2.8.1
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEER_PY = ROOT / "bench" / ".peers" / "d3rlpy-venv" / "bin" / "python"
OBS, GOAL, ACT, BATCH = 17, 3, 4, 256


def ours(steps: int, warmup: int, threads: int, n: int = 20000) -> dict:
    import torch

    from subgoal.algos.buffers import GoalDataset, GoalReplay
    from subgoal.algos.iql import IQL, IQLConfig
    from subgoal.data.relabel import RelabelConfig

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n + 1, OBS)).astype(np.float32)
    data = GoalDataset(obs=obs[:-1], next_obs=obs[1:], actions=rng.uniform(-1, 1, (n, ACT)).astype(np.float32),
                       achieved_next=obs[1:, :GOAL].copy(), episode_ends=np.arange(100, n + 1, 100),
                       action_low=-np.ones(ACT, np.float32), action_high=np.ones(ACT, np.float32))
    agent = IQL(IQLConfig(hidden=(256, 256)), OBS, GOAL, ACT)
    agent.set_normalization(data.obs, data.achieved_next)
    replay = GoalReplay(data, RelabelConfig(keep=0.2, future=0.5, uniform=0.3, prior=0.0), rng=rng)
    for _ in range(warmup):
        agent.update_tensors(replay.sample(BATCH))
    t0 = time.perf_counter()
    for _ in range(steps):
        info = agent.update_tensors(replay.sample(BATCH))
    dt = time.perf_counter() - t0
    assert all(np.isfinite(float(v)) for v in info.values())
    return {"steps": steps, "seconds": dt, "steps_per_s": steps / dt}


def matmul_floor(threads: int, rounds: int = 20) -> dict:
    """Steps/s if a step were nothing but its GEMMs: every matrix product of one IQL update at these
    shapes (forward: actor, V(s), V(s'), 2 critics, 2 target critics; backward: weight and input grads
    of actor, V and the 2 critics), timed alone with preallocated outputs, best of ``rounds``.

    At 2×256 MLPs and batch 256 the update is ~0.55 GFLOP, so this is the ceiling for *any* fp32
    implementation on this CPU at this thread count; ours/floor says how much framework overhead is left."""
    import torch

    torch.set_num_threads(threads)
    h, b, x_in, q_in = 256, BATCH, OBS + GOAL, OBS + GOAL + ACT
    shapes: list[tuple[int, int, int]] = []  # (m, k, n): (m, k) @ (k, n)
    nets = [(x_in, ACT, 1, True), (x_in, 1, 2, False), (x_in, 1, 1, True), (q_in, 1, 2, True), (q_in, 1, 2, False)]
    for d_in, d_out, count, grad in nets:  # (input, output, how many forwards, with backward)
        for _ in range(count):
            shapes += [(b, d_in, h), (b, h, h), (b, h, d_out)]
            if grad:
                shapes += [(h, b, d_out), (b, d_out, h), (h, b, h), (b, h, h), (d_in, b, h)]
    mats = [(torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)) for m, k, n in shapes]
    flop = sum(2 * m * k * n for m, k, n in shapes)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(5):
            for a, w, o in mats:
                torch.mm(a, w, out=o)
        best = min(best, (time.perf_counter() - t0) / 5)
    return {"gflop_per_step": flop / 1e9, "gemm_seconds_per_step": best, "gflop_per_s": flop / best / 1e9,
            "floor_steps_per_s": 1.0 / best}


def peer(steps: int, warmup: int, threads: int) -> dict:
    if not PEER_PY.exists():
        return {"error": f"{PEER_PY} missing (see this script's docstring)"}
    res = subprocess.run([str(PEER_PY), str(ROOT / "bench" / "peers" / "d3rlpy_iql.py"), "--steps", str(steps),
                          "--warmup", str(warmup), "--threads", str(threads)],
                         capture_output=True, text=True, timeout=1800, env={**os.environ, "PYTHONPATH": ""})
    lines = [x for x in res.stdout.splitlines() if x.startswith("{")]
    if res.returncode != 0 or not lines:
        return {"error": (res.stderr or res.stdout)[-2000:]}
    return json.loads(lines[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=300, help="timed gradient steps per round")
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both (1: robust on a shared box)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true")
    a = ap.parse_args()
    rounds_ours, rounds_peer = [], []
    for _ in range(a.rounds):
        rounds_ours.append(ours(a.steps, a.warmup, a.threads))
        if not a.no_peer:
            rounds_peer.append(peer(a.steps, a.warmup, a.threads))
    best_ours = max(r["steps_per_s"] for r in rounds_ours)
    floor = matmul_floor(a.threads)
    out = {"bench": "train_throughput", "algo": "iql", "shapes": {"obs": OBS, "goal": GOAL, "act": ACT, "batch": BATCH,
                                                                  "hidden": [256, 256]},
           "threads": a.threads, "cpu_count": os.cpu_count(), "load_avg": os.getloadavg(),
           "python": platform.python_version(), "ours_steps_per_s": best_ours, "ours_rounds": rounds_ours,
           "gemm_floor": floor, "ours_vs_floor": best_ours / floor["floor_steps_per_s"]}
    ok_peer = [r for r in rounds_peer if "steps_per_s" in r]
    if ok_peer:
        best_peer = max(r["steps_per_s"] for r in ok_peer)
        out.update(peer="d3rlpy " + ok_peer[0]["version"], peer_steps_per_s=best_peer, peer_rounds=rounds_peer,
                   ratio=best_ours / best_peer, ratio_ceiling=floor["floor_steps_per_s"] / best_peer)
    elif rounds_peer:
        out["peer_error"] = rounds_peer[0].get("error")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
