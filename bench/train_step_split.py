"""Where a step of our IQL update goes: time inside the MLP GEMMs vs everything else, fp32 and bf16, in place.

    python bench/train_step_split.py [--steps 100] [--rounds 6] [--threads 1] [--engine both|autograd|fused]
                                     [--sample-block 64]

``bench/train_throughput.py``'s GEMM floor times the products alone with hot caches; this measures them
where they run. Both variants go through ``subgoal.models.bf16_mlp`` (one autograd node per network):
``bf16`` is ``--precision bf16``; ``fp32_fused`` is the same code with fp32 as the 'low' dtype, which runs
at the speed of the plain fp32 update (the fused node removes no cost, interleaved A/B: 97.6 vs 95.6
steps/s), so it stands in for fp32. For each, the update is timed as is and with every MLP matrix product
(``torch.mm/addmm/matmul`` inside ``bf16_mlp``) replaced by a zero-filled result of the same shape:
``gemm_ms = step_ms - no_gemm_ms``, and ``no_gemm_ms`` is what no GEMM speed-up can remove (loss
arithmetic, casts, ReLU masks, autograd, Adam, sampling). ``fused_engine_bf16`` / ``fused_engine_fp32``:
the same split for ``--engine fused`` (``subgoal.algos.iql_fused``: its ``mm``/``addmm`` return their
``out`` buffer untouched, i.e. last step's values). Variants alternate per round; best round each.
Same shapes as ``train_throughput.py``. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_throughput import ACT, BATCH, GOAL, OBS, synthetic_replay  # noqa: E402


class _ZeroGemms(types.ModuleType):
    """Stands in for ``torch`` inside ``bf16_mlp``: matrix products return zeros, everything else is torch."""

    def __init__(self, torch_module: types.ModuleType) -> None:
        super().__init__("torch_without_gemms")
        self._t = torch_module

    def __getattr__(self, name: str):
        return getattr(self._t, name)

    def mm(self, a, b, out=None):
        return out if out is not None else self._t.zeros(a.shape[0], b.shape[1], dtype=a.dtype)

    def addmm(self, bias, a, b, out=None):
        return out if out is not None else self._t.zeros(a.shape[0], b.shape[1], dtype=a.dtype)

    def matmul(self, a, b):
        batch = self._t.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        return self._t.zeros(*batch, a.shape[-2], b.shape[-1], dtype=a.dtype)


def main() -> int:
    import numpy as np
    import torch

    from subgoal.algos import iql_fused
    from subgoal.algos.iql import IQL, IQLConfig
    from subgoal.models import bf16_mlp
    from subgoal.train.offline import batch_source

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--engine", choices=("both", "autograd", "fused"), default="both")
    ap.add_argument("--sample-block", type=int, default=64, help="as subgoal train --sample-block")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    data, replay = synthetic_replay(rng)
    variants = {}
    if a.engine in ("both", "autograd"):
        variants.update({"bf16": torch.bfloat16, "fp32_fused": torch.float32})
    if a.engine in ("both", "fused"):
        variants.update({"fused_engine_bf16": torch.bfloat16, "fused_engine_fp32": torch.float32})
    agents = {}
    for name, dtype in variants.items():
        torch.manual_seed(0)
        agent = IQL(IQLConfig(hidden=(256, 256)), OBS, GOAL, ACT)
        agent.set_normalization(data.obs, data.achieved_next)
        if name.startswith("fused_engine"):
            agent.set_engine("fused")
            agent.set_precision("bf16" if dtype == torch.bfloat16 else "fp32")
        else:
            agent.set_precision("bf16")  # the bf16_mlp path; its low dtype is set per variant below
        agents[name] = agent
    next_batch = batch_source(replay, BATCH, a.sample_block, 0, 0)  # the trainer's sampling path
    counter = itertools.count()
    fake, real = _ZeroGemms(torch), torch
    ms: dict[str, list[float]] = {f"{v}/{g}": [] for v in variants for g in ("step", "no_gemm")}
    try:
        for r in range(a.rounds):
            for key in (list(ms) if r % 2 == 0 else list(ms)[::-1]):
                name, what = key.split("/")
                bf16_mlp._BF16 = variants[name]
                bf16_mlp.torch = iql_fused.torch = fake if what == "no_gemm" else real
                agent = agents[name]
                for _ in range(a.warmup if r == 0 else 20):
                    agent.update_tensors(next_batch(counter.__next__()))
                t0 = time.perf_counter()
                for _ in range(a.steps):
                    agent.update_tensors(next_batch(counter.__next__()))
                ms[key].append((time.perf_counter() - t0) / a.steps * 1e3)
    finally:
        bf16_mlp._BF16, bf16_mlp.torch, iql_fused.torch = torch.bfloat16, real, real
    out: dict = {"bench": "train_step_split", "threads": a.threads, "sample_block": a.sample_block,
                 "load_avg": os.getloadavg()}
    for name in variants:
        step, rest = min(ms[f"{name}/step"]), min(ms[f"{name}/no_gemm"])
        out[name] = {"step_ms": step, "no_gemm_ms": rest, "gemm_ms": step - rest, "steps_per_s": 1e3 / step}
    out["rounds_ms"] = ms
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
