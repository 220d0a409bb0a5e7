"""The fast IQL updates (autograd engine: one fused backward, fused Adam, per-member critic GEMMs, batched V;
fused engine: hand-written backward on flat buffers) equal a plain textbook update: separate losses, three
separate Adam optimizers, one MLP per critic member."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from subgoal.algos.iql import IQL, IQLConfig

torch.set_num_threads(1)
OBS, GOAL, ACT, B = 7, 3, 4, 64


def _mlp_apply(x: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    for i, (w, b) in enumerate(layers):
        x = x @ w + b
        if i < len(layers) - 1:
            x = torch.relu(x)
    return x


class _Reference:
    """IQL written out by hand from the agent's initial weights (eq. 47–49, CORL order of terms)."""

    def __init__(self, agent: IQL) -> None:
        self.c = agent.config
        self.norm = copy.deepcopy(agent.normalizer)
        self.actor = copy.deepcopy(agent.actor)
        self.vf = copy.deepcopy(agent.vf)
        # each critic member as its own list of (W (in, out), b (out,)) leaf tensors
        self.q = [[(l.weight[e].detach().clone().requires_grad_(), l.bias[e, 0].detach().clone().requires_grad_())
                   for l in agent.qf.net.layers] for e in range(2)]
        self.q_t = [[(w.detach().clone(), b.detach().clone()) for w, b in member] for member in self.q]
        lr = agent.lr
        self.opt_actor = torch.optim.Adam(self.actor.parameters(), lr=lr, foreach=False)
        self.opt_v = torch.optim.Adam(self.vf.parameters(), lr=lr, foreach=False)
        self.opt_q = torch.optim.Adam([t for m in self.q for wb in m for t in wb], lr=lr, foreach=False)

    def step(self, batch: dict[str, torch.Tensor]) -> None:
        c = self.c
        x = self.norm(batch["obs"], batch["goal"])
        xn = self.norm(batch["next_obs"], batch["goal"])
        xa = torch.cat([x, batch["action"]], -1)
        with torch.no_grad():
            tq = torch.minimum(*[_mlp_apply(xa, m).squeeze(-1) for m in self.q_t])
            next_v = self.vf(xn)
            target = batch["reward"] + c.discount * (1 - batch["done"]) * next_v
        v = self.vf(x)
        adv = tq - v
        w = torch.where(adv > 0, c.expectile, 1 - c.expectile)
        v_loss = (w * adv.pow(2)).mean()
        q_loss = sum(((_mlp_apply(xa, m).squeeze(-1) - target) ** 2).mean() for m in self.q)
        weights = torch.exp(c.beta * adv.detach()).clamp(max=c.max_weight)
        pi_loss = -(weights * self.actor.log_prob(x, batch["action"])).mean()
        for opt, loss in ((self.opt_v, v_loss), (self.opt_q, q_loss), (self.opt_actor, pi_loss)):
            opt.zero_grad()
            loss.backward(retain_graph=True)
        for opt in (self.opt_v, self.opt_q, self.opt_actor):
            opt.step()
        with torch.no_grad():
            for m, mt in zip(self.q, self.q_t):
                for (w_, b_), (wt, bt) in zip(m, mt):
                    wt.lerp_(w_, c.target_tau)
                    bt.lerp_(b_, c.target_tau)


def _batch(rng: np.random.Generator) -> dict[str, torch.Tensor]:
    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return {"obs": t(rng.normal(size=(B, OBS))), "next_obs": t(rng.normal(size=(B, OBS))),
            "goal": t(rng.normal(size=(B, GOAL))), "action": t(rng.uniform(-1, 1, (B, ACT))),
            "reward": t(-(rng.random(B) > 0.2).astype(np.float32)), "done": t((rng.random(B) < 0.2).astype(np.float32))}


@pytest.mark.parametrize("engine", ["autograd", "fused"])
def test_fast_update_matches_the_textbook_update(engine):
    """Both update engines (``autograd``: IQL.losses + backward; ``fused``: subgoal.algos.iql_fused)."""
    torch.manual_seed(0)
    agent = IQL(IQLConfig(hidden=(32, 32), expectile=0.8, beta=5.0), OBS, GOAL, ACT)
    agent.set_engine(engine)
    rng = np.random.default_rng(0)
    agent.set_normalization(rng.normal(size=(100, OBS)).astype(np.float32), rng.normal(size=(100, GOAL)).astype(np.float32))
    ref = _Reference(agent)
    w0 = agent.qf.net.layers[0].weight.detach().clone()
    for _ in range(3):
        batch = _batch(rng)
        agent.update_tensors(batch)
        ref.step(batch)
    close = lambda a, b: torch.allclose(a, b, atol=2e-5, rtol=1e-4)  # noqa: E731
    for a, b in zip(agent.actor.parameters(), ref.actor.parameters()):
        assert close(a, b)
    for a, b in zip(agent.vf.parameters(), ref.vf.parameters()):
        assert close(a, b)
    for e in range(2):
        for layer, tlayer, (w, b), (wt, bt) in zip(agent.qf.net.layers, agent.qf_target.net.layers, ref.q[e], ref.q_t[e]):
            assert close(layer.weight[e], w) and close(layer.bias[e, 0], b)
            assert close(tlayer.weight[e], wt) and close(tlayer.bias[e, 0], bt)
    # the steps really moved the weights (a no-op update on both sides would pass trivially)
    assert (agent.qf.net.layers[0].weight - w0).abs().max() > 1e-4
