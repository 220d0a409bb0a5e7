"""Gradient steps/s of our goal-conditioned IQL (fp32 and bf16) vs d3rlpy 2.8.1's IQL, same shapes, same run, CPU.

    python bench/train_throughput.py [--steps 300] [--threads 1] [--rounds 3] [--precision both|fp32|bf16]
                                     [--engine both|autograd|fused] [--sample-block 64] [--no-peer]

Shapes (issue 6): state 17 + goal 3 = 20-dim input, 4-dim action, 2×256 MLPs (actor, twin Q, V),
batch 256. Ours runs the real training path: the trainer's ``batch_source`` (``GoalReplay.sample``:
numpy indices into preloaded tensors + HER/uniform goal relabeling, ``--sample-block`` batches per call,
``subgoal.algos.batch_blocks``) then ``IQL.update_tensors``, once per ``--precision``
(``subgoal train … --precision``) and ``--engine`` (``autograd``: keys ``ours_fp32``/``ratio_bf16`` …;
``fused``, ``subgoal.algos.iql_fused``: keys ``ours_fused_fp32``/``ratio_fused_bf16`` …); the peer is d3rlpy's default fp32 IQL. The peer runs in its own venv
(``bench/.peers/d3rlpy-venv``: d3rlpy pins gymnasium 1.0.0 and pulls gym, so never the project's venv)
through ``bench/peers/d3rlpy_iql.py``. Rounds alternate the order of ours/peer so load from other
processes hits all alike; the best round of each is compared (``ratio_fp32``, ``ratio_bf16``). Also per
CPU-second of the timed loop (``time.process_time``; ``ratio_cpu_*``): on an oversubscribed box the wall
rate also measures how much of a core the scheduler gave each round, the CPU rate does not.

GEMM floors (``matmul_floor``): every matrix product of one update at these shapes (0.54 GFLOP), alone,
preallocated — ``fp32``: all fp32; ``bf16``: the hidden→hidden products in bf16 as ``--precision bf16``
runs them; ``bf16_all``: all bf16. ``ours_*_vs_floor`` = how much of a step is not GEMM time, and
``ratio_ceiling_*`` = floor / d3rlpy = the best ratio any implementation of that precision could reach.

Why bf16: measured on the 2-core AMD EPYC (Zen 4, AVX512-BF16) with 1 thread, the fp32 floor is only
~1.8–2.1× d3rlpy's steps/s and our fp32 update already runs at 75–90% of it, so the issue's ≥ 3× cannot
come from cutting fp32 overhead; oneDNN's bf16 GEMMs at 256×256×256 run ~2× faster (~180 vs ~360 µs),
which lifts the ceiling to ~3.9×. What the bf16 mode reaches and what limits it: docs/learning.md
§ Throughput (numbers with their load averages).

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


def synthetic_replay(rng: np.random.Generator, n: int = 20000):
    """The benches' data (shared by iql_critic_ab.py and train_step_split.py): n random transitions in
    100-step episodes at these shapes, and the training path's sampler (HER/uniform goal relabeling)."""
    from subgoal.algos.buffers import GoalDataset, GoalReplay
    from subgoal.data.relabel import RelabelConfig

    obs = rng.normal(size=(n + 1, OBS)).astype(np.float32)
    data = GoalDataset(obs=obs[:-1], next_obs=obs[1:], actions=rng.uniform(-1, 1, (n, ACT)).astype(np.float32),
                       achieved_next=obs[1:, :GOAL].copy(), episode_ends=np.arange(100, n + 1, 100),
                       action_low=-np.ones(ACT, np.float32), action_high=np.ones(ACT, np.float32))
    return data, GoalReplay(data, RelabelConfig(keep=0.2, future=0.5, uniform=0.3, prior=0.0), rng=rng)


def ours(steps: int, warmup: int, threads: int, precision: str = "fp32", n: int = 20000,
         engine: str = "autograd", sample_block: int = 64) -> dict:
    import torch

    from subgoal.algos.iql import IQL, IQLConfig
    from subgoal.train.offline import batch_source

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    data, replay = synthetic_replay(rng, n)
    agent = IQL(IQLConfig(hidden=(256, 256)), OBS, GOAL, ACT)
    agent.set_normalization(data.obs, data.achieved_next)
    agent.set_precision(precision)
    agent.set_engine(engine)
    next_batch = batch_source(replay, BATCH, sample_block, 0, 0)  # the trainer's (subgoal train --sample-block)
    for step in range(warmup):
        agent.update_tensors(next_batch(step))
    t0, c0 = time.perf_counter(), time.process_time()
    for step in range(warmup, warmup + steps):
        info = agent.update_tensors(next_batch(step))
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert all(np.isfinite(float(v)) for v in info.values())
    return {"engine": engine, "precision": precision, "sample_block": sample_block, "steps": steps, "seconds": dt,
            "steps_per_s": steps / dt, "cpu_seconds": cpu, "steps_per_cpu_s": steps / cpu}


def matmul_floor(threads: int, precision: str = "fp32", rounds: int = 20) -> dict:
    """Steps/s if a step were nothing but its GEMMs: every matrix product of one IQL update at these
    shapes (forward: actor, V(s), V(s'), 2 critics, 2 target critics; backward: weight and input grads
    of actor, V and the 2 critics), timed alone with preallocated outputs, best of ``rounds``.

    ``precision="fp32"``: all GEMMs fp32 — the ceiling for *any* fp32 implementation on this CPU at this
    thread count. ``"bf16"``: the hidden→hidden GEMMs (forward, weight grad, input grad; ~88% of the
    FLOPs) in bf16 and the first layers and heads in fp32, i.e. what ``--precision bf16`` runs.
    ``"bf16_all"``: every GEMM in bf16 (the ceiling of a pure-bf16 update). ours/floor says how much
    framework overhead is left."""
    import torch

    torch.set_num_threads(threads)
    h, b, x_in, q_in = 256, BATCH, OBS + GOAL, OBS + GOAL + ACT
    shapes: list[tuple[int, int, int, bool]] = []  # (m, k, n, hidden->hidden): (m, k) @ (k, n)
    # (input, output, forwards, with backward): actor, V(s'), V(s), twin critics, twin target critics
    nets = [(x_in, ACT, 1, True), (x_in, 1, 1, False), (x_in, 1, 1, True), (q_in, 1, 2, True), (q_in, 1, 2, False)]
    for d_in, d_out, count, grad in nets:
        for _ in range(count):
            shapes += [(b, d_in, h, False), (b, h, h, True), (b, h, d_out, False)]
            if grad:
                shapes += [(h, b, d_out, False), (b, d_out, h, False), (h, b, h, True), (b, h, h, True),
                           (d_in, b, h, False)]

    def dtype(hidden: bool) -> torch.dtype:
        low = precision == "bf16_all" or (precision == "bf16" and hidden)
        return torch.bfloat16 if low else torch.float32

    mats = [(torch.randn(m, k, dtype=dtype(hid)), torch.randn(k, n, dtype=dtype(hid)), torch.empty(m, n, dtype=dtype(hid)))
            for m, k, n, hid in shapes]
    flop = sum(2 * m * k * n for m, k, n, _ in shapes)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(5):
            for a, w, o in mats:
                torch.mm(a, w, out=o)
        best = min(best, (time.perf_counter() - t0) / 5)
    return {"precision": precision, "gflop_per_step": flop / 1e9,
            "hidden_flop_frac": sum(2 * m * k * n for m, k, n, hid in shapes if hid) / flop,
            "gemm_seconds_per_step": best, "gflop_per_s": flop / best / 1e9, "floor_steps_per_s": 1.0 / best}


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
    ap.add_argument("--warmup", type=int, default=200,
                    help="untimed steps first, both sides (30 left ours 10-20%% below its steady rate)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both (1: robust on a shared box)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--precision", choices=("both", "fp32", "bf16"), default="both",
                    help="our update's precision(s) (subgoal train --precision); the peer is always fp32")
    ap.add_argument("--engine", choices=("both", "autograd", "fused"), default="both",
                    help="our IQL update engine(s) (subgoal train iql --engine): autograd (default) and/or fused")
    ap.add_argument("--sample-block", type=int, default=64,
                    help="batches per sampling call, as subgoal train --sample-block (1: one call per step)")
    ap.add_argument("--no-peer", action="store_true")
    a = ap.parse_args()
    precisions = ("fp32", "bf16") if a.precision == "both" else (a.precision,)
    engines = ("autograd", "fused") if a.engine == "both" else (a.engine,)
    # variant keys: "fp32"/"bf16" = the autograd engine (the keys of earlier runs), "fused_fp32"/"fused_bf16"
    variants = {(p if e == "autograd" else f"fused_{p}"): (e, p) for e in engines for p in precisions}
    rounds_ours: dict[str, list[dict]] = {v: [] for v in variants}
    rounds_peer = []
    for r in range(a.rounds):
        # alternate the order each round so drifting load from other processes hits every variant alike
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        if r % 2 == 0 and not a.no_peer:
            rounds_peer.append(peer(a.steps, a.warmup, a.threads))
        for v in order:
            e, p = variants[v]
            rounds_ours[v].append(ours(a.steps, a.warmup, a.threads, p, engine=e, sample_block=a.sample_block))
        if r % 2 == 1 and not a.no_peer:
            rounds_peer.append(peer(a.steps, a.warmup, a.threads))
    best = {v: max(r["steps_per_s"] for r in rs) for v, rs in rounds_ours.items()}
    floors = {p: matmul_floor(a.threads, p) for p in (*precisions, *(("bf16_all",) if "bf16" in precisions else ()))}
    out = {"bench": "train_throughput", "algo": "iql", "shapes": {"obs": OBS, "goal": GOAL, "act": ACT, "batch": BATCH,
                                                                  "hidden": [256, 256]},
           "threads": a.threads, "sample_block": a.sample_block, "cpu_count": os.cpu_count(), "load_avg": os.getloadavg(),
           "python": platform.python_version()}
    for v, (e, p) in variants.items():
        out[f"ours_{v}_steps_per_s"] = best[v]
        out[f"ours_{v}_vs_floor"] = best[v] / floors[p]["floor_steps_per_s"]
    out["gemm_floor"] = floors
    ok_peer = [r for r in rounds_peer if "steps_per_s" in r]
    best_peer = None
    if ok_peer:
        best_peer = max(r["steps_per_s"] for r in ok_peer)
        out.update(peer="d3rlpy " + ok_peer[0]["version"], peer_steps_per_s=best_peer)
        for v in variants:
            out[f"ratio_{v}"] = best[v] / best_peer
        for p, f in floors.items():
            out[f"ratio_ceiling_{p}"] = f["floor_steps_per_s"] / best_peer
    elif rounds_peer:
        out["peer_error"] = rounds_peer[0].get("error")
    # steps per CPU-second of the timed loop (process_time): on an oversubscribed box (load > cores) wall time
    # also measures how much of a core the scheduler happened to give each round; CPU time does not
    best_cpu = {v: max(r["steps_per_cpu_s"] for r in rs) for v, rs in rounds_ours.items()}
    best_peer_cpu = max((r["steps_per_cpu_s"] for r in ok_peer if "steps_per_cpu_s" in r), default=None)
    for v in variants:
        out[f"ours_{v}_steps_per_cpu_s"] = best_cpu[v]
        if best_peer_cpu:
            out[f"ratio_cpu_{v}"] = best_cpu[v] / best_peer_cpu
    if best_peer_cpu:
        out["peer_steps_per_cpu_s"] = best_peer_cpu
    # the human-readable rows (stderr; stdout stays one JSON object)
    print(f"{'variant':<22}{'best steps/s':>13}{'ratio':>8}{'steps/cpu-s':>13}{'ratio':>8}   per round (wall)",
          file=sys.stderr)
    for v, (e, p) in variants.items():
        ratio = f"{best[v] / best_peer:.2f}" if best_peer else "-"
        ratio_cpu = f"{best_cpu[v] / best_peer_cpu:.2f}" if best_peer_cpu else "-"
        per = " ".join(f"{r['steps_per_s']:.1f}" for r in rounds_ours[v])
        print(f"{'ours ' + e + ' ' + p:<22}{best[v]:>13.1f}{ratio:>8}{best_cpu[v]:>13.1f}{ratio_cpu:>8}   {per}",
              file=sys.stderr)
    if best_peer:
        per = " ".join(f"{r['steps_per_s']:.1f}" for r in ok_peer)
        cpu = f"{best_peer_cpu:>13.1f}{'1.00':>8}" if best_peer_cpu else f"{'-':>13}{'-':>8}"
        print(f"{'d3rlpy (fp32)':<22}{best_peer:>13.1f}{'1.00':>8}{cpu}   {per}", file=sys.stderr)
    print(f"load avg (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)
    out.update(ours_rounds=rounds_ours, peer_rounds=rounds_peer)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
