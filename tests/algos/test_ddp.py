"""Two CPU processes (gloo) each stepping IQL on half a batch end with the parameters of one process
stepping on the whole batch: the gradient all-reduce is the DDP-equivalent of single-process training."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from subgoal.algos.iql import IQL, IQLConfig

B = 64


def _batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return {"obs": torch.randn(B, 5, generator=g), "goal": torch.randn(B, 2, generator=g),
            "action": torch.rand(B, 2, generator=g) * 2 - 1, "reward": -torch.ones(B),
            "next_obs": torch.randn(B, 5, generator=g), "done": (torch.rand(B, generator=g) < 0.2).float()}


def _agent(engine: str = "autograd") -> IQL:
    torch.manual_seed(0)
    agent = IQL(IQLConfig(hidden=(32, 32)), obs_dim=5, goal_dim=2, act_dim=2)
    agent.set_engine(engine)
    return agent


def _params(agent: IQL) -> dict[str, np.ndarray]:
    return {f"{n}.{k}": v.detach().numpy().copy() for n, m in agent.modules().items() for k, v in m.state_dict().items()}


def _worker(rank: int, world: int, init_file: str, out_dir: str, engine: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        agent = _agent(engine)
        agent.broadcast_parameters()
        half = {k: v.chunk(world)[rank] for k, v in _batch().items()}
        for _ in range(2):
            agent.update_tensors(half)
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), **_params(agent))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("engine", ["autograd", "fused"])  # fused: one all-reduce of the flat gradient buffer
def test_two_process_step_equals_single_process(tmp_path, engine):
    torch.set_num_threads(1)
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path), engine), nprocs=2, join=True)
    single = _agent(engine)
    batch = _batch()
    for _ in range(2):
        single.update_tensors(batch)
    ref = _params(single)
    r0, r1 = np.load(tmp_path / "rank0.npz"), np.load(tmp_path / "rank1.npz")
    assert set(r0.files) == set(ref)
    for k in ref:
        assert np.array_equal(r0[k], r1[k]), k  # ranks stay in lockstep
        assert np.allclose(r0[k], ref[k], rtol=0, atol=1e-6), (k, np.abs(r0[k] - ref[k]).max())
    # and the step really moved the weights (the comparison is not between two untouched inits)
    assert not np.allclose(ref["actor.net.net.0.weight"], _params(_agent())["actor.net.net.0.weight"])
