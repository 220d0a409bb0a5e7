"""Interleaved A/B of the fused IQL engine: the working tree's ``iql_fused`` vs the one at a git ref, same batches.

    python bench/iql_fused_ab.py --ref 7f1413d [--precision bf16] [--steps 300] [--rounds 6] [--threads 1]

Loads ``src/subgoal/subgoal/algos/iql_fused.py`` as of ``--ref`` (``git show``) beside the current module,
builds one agent per engine from the same seed at ``train_throughput.py``'s shapes, and times
``FusedIQLUpdate.step`` on the same pre-sampled batches (sampling is not timed), alternating which engine goes
first each round; best and median round of each (``at_ref`` / ``current``). Checks that both end with identical flat parameters (the
changes measured so far are meant to be bit-identical). Prints one JSON object.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from train_throughput import ACT, BATCH, GOAL, OBS, synthetic_replay  # noqa: E402


def main() -> int:
    import numpy as np
    import torch

    from subgoal.algos import iql_fused
    from subgoal.algos.iql import IQL, IQLConfig

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", required=True, help="git ref of the engine to compare against")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    src = subprocess.run(["git", "show", f"{a.ref}:src/subgoal/subgoal/algos/iql_fused.py"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "iql_fused_ref.py"
        path.write_text(src)
        spec = importlib.util.spec_from_file_location("iql_fused_ref", path)
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)  # type: ignore[union-attr]
    data, replay = synthetic_replay(np.random.default_rng(0))
    batches = [replay.sample(BATCH) for _ in range(a.steps)]
    engines = {}
    for name, mod in (("at_ref", ref), ("current", iql_fused)):
        torch.manual_seed(0)
        agent = IQL(IQLConfig(hidden=(256, 256)), OBS, GOAL, ACT)
        agent.set_normalization(data.obs, data.achieved_next)
        agent.set_precision(a.precision)
        engines[name] = mod.FusedIQLUpdate(agent)
        for b in batches[:200]:  # warm-up, the same for both
            engines[name].step(b)
    ms: dict[str, list[float]] = {n: [] for n in engines}
    for r in range(a.rounds):
        for name in (list(engines) if r % 2 == 0 else list(engines)[::-1]):
            eng = engines[name]
            t0 = time.perf_counter()
            for b in batches:
                eng.step(b)
            ms[name].append((time.perf_counter() - t0) / len(batches) * 1e3)
    out = {"bench": "iql_fused_ab", "ref": a.ref, "precision": a.precision, "threads": a.threads,
           "identical_weights": bool(torch.equal(engines["at_ref"].flat, engines["current"].flat))}
    for name, xs in ms.items():
        out[name] = {"best_ms": min(xs), "median_ms": statistics.median(xs), "best_steps_per_s": 1e3 / min(xs)}
    out["speedup_best"] = out["at_ref"]["best_ms"] / out["current"]["best_ms"]
    out["speedup_median"] = out["at_ref"]["median_ms"] / out["current"]["median_ms"]
    out["rounds_ms"] = ms
    out["load_avg"] = os.getloadavg()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
