"""Cosine decay of the actor's learning rate (IQL reference code): the actor's rate follows the cosine, the
critics keep theirs, the actor stops moving at the end, and a resumed agent continues the same curve."""
from __future__ import annotations

import math

import pytest
import torch

from subgoal.algos.iql import IQL, IQLConfig

torch.set_num_threads(1)
OBS, GOAL, ACT, B = 5, 3, 2, 32


def _batch(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    return {"obs": r(B, OBS), "next_obs": r(B, OBS), "goal": r(B, GOAL), "action": r(B, ACT).clamp(-1, 1),
            "reward": -torch.ones(B), "done": torch.zeros(B)}


def _agent(decay: int) -> IQL:
    torch.manual_seed(0)
    agent = IQL(IQLConfig(hidden=(16, 16), lr=1e-3), OBS, GOAL, ACT)
    if decay:
        agent.set_actor_lr_decay(decay)
    return agent


def test_actor_rate_follows_the_cosine_and_critics_keep_theirs():
    agent = _agent(10)
    for step in range(12):
        agent.update_tensors(_batch(step))
        groups = agent.optimizer.param_groups
        expected = 1e-3 * 0.5 * (1 + math.cos(math.pi * min(step, 10) / 10))
        assert groups[0]["lr"] == pytest.approx(expected)
        assert groups[1]["lr"] == pytest.approx(1e-3)
    actor_ids = {id(p) for p in agent.actor.parameters()}
    assert {id(p) for p in agent.optimizer.param_groups[0]["params"]} == actor_ids


def test_actor_is_frozen_once_decayed_but_the_critics_still_learn():
    agent = _agent(5)
    for step in range(5):
        agent.update_tensors(_batch(step))
    actor = [p.detach().clone() for p in agent.actor.parameters()]
    q = [p.detach().clone() for p in agent.qf.parameters()]
    agent.update_tensors(_batch(99))  # step 5: rate 0
    assert all(torch.equal(a, b) for a, b in zip(actor, agent.actor.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(q, agent.qf.parameters()))


def test_constant_schedule_is_the_single_group_optimizer_of_old_checkpoints():
    agent = _agent(0)
    agent.update_tensors(_batch(0))
    assert len(agent.optimizer.param_groups) == 1 and agent.actor_lr(10_000) == 1e-3


def test_resumed_agent_continues_the_curve(tmp_path):
    """Through the real checkpoint files (what ``--resume`` loads): same rates, same weights afterwards."""
    from subgoal.train.common import load_checkpoint, save_checkpoint

    a = _agent(8)
    for step in range(4):
        a.update_tensors(_batch(step))
    save_checkpoint(tmp_path, modules=a.modules(), optimizers=a.optimizers(), counters={"step": a.total_steps})
    b = _agent(8)
    state = load_checkpoint(tmp_path, modules=b.modules(), optimizers=b.optimizers())
    b.total_steps = int(state["counters"]["step"])
    for step in range(4, 8):
        a.update_tensors(_batch(step))
        b.update_tensors(_batch(step))
        assert b.optimizer.param_groups[0]["lr"] == a.optimizer.param_groups[0]["lr"] < 1e-3
    for pa, pb in zip(a.actor.parameters(), b.actor.parameters()):
        torch.testing.assert_close(pa, pb)


def test_bad_uses_are_clear_errors():
    agent = _agent(0)
    with pytest.raises(ValueError, match=">= 0"):
        agent.set_actor_lr_decay(-1)
    agent.update_tensors(_batch(0))
    with pytest.raises(RuntimeError, match="before the first update"):
        agent.set_actor_lr_decay(10)
