#!/usr/bin/env python3
"""PTP plan time: hierarchical MPPI planner, ONNX Runtime vs torch eager, in the same run.

Seed setting (ch. 10.6.2): N = 1024 samples, K = 8 subgoals, M = 2, 5 MPPI iterations per level,
generators with an 8-d z and 256-unit MLPs, horizons 60/30/15. Timed for two and three levels and
for planning spaces of 2 (maze state), 16 (VAE latent) and 720 (VQ-VAE latent, the seed's) dims.
The generators are exported from freshly initialised weights: plan time does not depend on what
the weights learned. Goal: <= 250 ms for two levels on 2 CPU cores. The work is ~150k generator rows
per two-level plan, so it scales with the MLP width: timed for 256 (seed-like) and 128 units.

    python bench/planner.py [--threads 2] [--repeats 5] [--dims 2 16] [--hidden 256 128]

Prints one JSON object: per (dims, levels, backend) the median and min plan time in ms.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


class TorchSubgoalGenerator:
    """The same generators run in torch eager (the comparison peer)."""

    def __init__(self, model) -> None:
        import torch

        self.torch = torch
        self.model = model.eval()
        self.horizons = tuple(model.config.horizons)
        self.state_dim = model.config.state_dim
        self.latent_dim = model.config.latent_dim

    def __call__(self, level: int, state: np.ndarray, z: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.model.generate(level, self.torch.from_numpy(np.ascontiguousarray(state)),
                                       self.torch.from_numpy(np.ascontiguousarray(z))).numpy()


def build(dim: int, hidden: int, out: Path, threads: int):
    import torch

    from subgoal.bundle import load_bundle
    from subgoal.bundle.export import OnnxExport
    from subgoal.models.subgoal_cvae import SubgoalCVAE, SubgoalCVAEConfig
    from subgoal.planning.ptp import OnnxSubgoalGenerator
    from subgoal.train import _goal_glue as glue
    from subgoal.train.ptp import _LevelExport

    torch.manual_seed(0)
    model = SubgoalCVAE(SubgoalCVAEConfig(state_dim=dim, horizons=(60, 30, 15), latent_dim=8, hidden=hidden)).eval()
    ex = {"state": torch.randn(4, dim), "z": torch.randn(4, 8)}
    glue.write_bundle(out, name=f"bench_{dim}", kind="goal_proposal", algorithm="ptp",
                      exports={f"generator_l{i}": OnnxExport(_LevelExport(model, i), ex, ["subgoal"]) for i in range(3)},
                      training={"command": "bench/planner.py"}, metrics={},
                      extra={"method": "ptp", "horizons": [60, 30, 15], "state_dim": dim, "z_dim": 8, "step_scale": 1.0})
    return OnnxSubgoalGenerator(load_bundle(out, kind="goal_proposal", threads=threads)), TorchSubgoalGenerator(model)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads for ONNX Runtime and torch")
    ap.add_argument("--repeats", type=int, default=5, help="timed plans per configuration (after 1 warm-up)")
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 16], help="planning-space sizes (720 = VQ latent)")
    ap.add_argument("--hidden", type=int, nargs="+", default=[256, 128], help="generator MLP widths")
    ap.add_argument("--levels", type=int, nargs="+", default=[2, 3], help="planning levels")
    ap.add_argument("--samples", type=int, default=1024, help="N")
    args = ap.parse_args()

    import torch

    from subgoal.planning.ptp import DistanceValue, PTPPlanner, PTPPlannerConfig

    torch.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for dim, hidden in [(d, h) for d in args.dims for h in args.hidden]:
            onnx_gen, torch_gen = build(dim, hidden, Path(tmp) / f"d{dim}_h{hidden}", args.threads)
            rng = np.random.default_rng(0)
            start, goal = rng.standard_normal(dim).astype(np.float32), rng.standard_normal(dim).astype(np.float32)
            for levels in args.levels:
                for backend, gen in (("onnxruntime", onnx_gen), ("torch_eager", torch_gen)):
                    cfg = PTPPlannerConfig(num_subgoals=8, levels=levels, multiplier=2, num_samples=args.samples,
                                           mppi_iters=5, seed=0)
                    planner = PTPPlanner(gen, DistanceValue(1.0), cfg)
                    planner.plan(start, goal)  # warm-up (also fills the plan buffer, as in use)
                    times = []
                    for _ in range(args.repeats):
                        t0 = time.perf_counter()
                        plan = planner.plan(start, goal)
                        times.append((time.perf_counter() - t0) * 1e3)
                    results.append({"dims": dim, "hidden": hidden, "levels": levels, "backend": backend,
                                    "subgoals": int(plan.subgoals.shape[0]),
                                    "median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1)})
                    print(json.dumps(results[-1]), file=sys.stderr)
    two = [r for r in results if r["levels"] == 2 and r["backend"] == "onnxruntime"]
    print(json.dumps({
        "bench": "planner", "N": args.samples, "K": 8, "M": 2, "mppi_iters": 5, "threads": args.threads,
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "goal_ms_two_levels": 250, "two_levels_onnx_meets_goal": {f"dims{r['dims']}_hidden{r['hidden']}": r["median_ms"] <= 250 for r in two},
        "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
