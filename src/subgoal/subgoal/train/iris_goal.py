"""``subgoal train iris_goal``: IRIS high level (seed 000, Algorithm 1 lines 6-12) -> goal-proposal bundle.

Trains, on one robomimic-layout dataset, the goal cVAE p(s_{t+T} | s_t) (KL weight beta_g), the action
cVAE p(a | s) (beta_a) and the BCQ-style Q(s, a) with target r + gamma * max over M action proposals
(target network, Polyak averaging). In state space (``--obs-key``) or an encoder's latent space
(``--encoder``). Bundle: goal_sampler.onnx (state, z) -> goal, value.onnx (state, z_actions) -> V.
``--terminal-on-reward``: a transition with reward > 0 ends the task (sparse success reward).
"""
from __future__ import annotations

import argparse
import copy
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from subgoal.bundle.export import OnnxExport
from subgoal.models.goal_cvae import (CVAEDecoderExport, IrisValue, IrisValueConfig, StateValueExport, VectorCVAE,
                                      VectorCVAEConfig, bcq_q_loss)
from subgoal.train import _goal_glue as glue
from subgoal.train import common
from subgoal.train.ptp import PTPTrainConfig, load_planning_states

log = logging.getLogger(__name__)


@dataclass
class IrisModelConfig:
    horizon: int = 10
    """T: the goal cVAE proposes states T steps ahead (held for T steps by the low level)"""
    latent_dim: int = 8
    """z of the goal cVAE and action cVAE"""
    hidden: int = 256
    """MLP width of every network"""
    beta_g: float = 0.5
    """KL weight of the goal cVAE"""
    beta_a: float = 0.5
    """KL weight of the action cVAE"""
    gamma: float = 0.99
    """discount of the value"""
    num_action_proposals: int = 10
    """M action proposals in the BCQ-style max"""
    tau: float = 0.005
    """Polyak rate of the target Q"""
    terminal_on_reward: bool = True
    """treat reward > 0 as the end of the task (done) in the value target"""
    n_step: int = 1
    """n-step value targets (IRIS samples T-step windows; n > 1 propagates sparse rewards n times faster)"""

    def __post_init__(self) -> None:
        common.require(self.horizon >= 1, "horizon", self.horizon, "must be >= 1")
        common.require(0.0 < self.tau <= 1.0, "tau", self.tau, "must be in (0, 1]")
        common.require(self.n_step >= 1, "n_step", self.n_step, "must be >= 1")


class IrisModel(nn.Module):
    """Everything IRIS's high level learns (one module so checkpoints hold the target net too)."""

    def __init__(self, state_dim: int, action_dim: int, cfg: IrisModelConfig) -> None:
        super().__init__()
        self.goal_cvae = VectorCVAE(VectorCVAEConfig(state_dim, state_dim, cfg.latent_dim, cfg.hidden, cfg.beta_g))
        vcfg = IrisValueConfig(state_dim, action_dim, cfg.hidden, cfg.latent_dim, cfg.beta_a, cfg.gamma,
                               cfg.num_action_proposals)
        self.value = IrisValue(vcfg)
        self.target = copy.deepcopy(self.value)
        self.target.requires_grad_(False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    glue.add_common_arguments(parser)
    common.add_dataclass_arguments(parser, IrisModelConfig, "model")
    common.add_dataclass_arguments(parser, PTPTrainConfig, "training")


def run(args: argparse.Namespace) -> int:
    mcfg, tcfg = glue.configs_from_args(args, IrisModelConfig, PTPTrainConfig)
    train(args.dataset, Path(args.out), mcfg, tcfg)
    return 0


class _Transitions:
    """Flat (s, a, r, s', done) plus (s_t, s_{t+T}) index pairs, from per-demo arrays."""

    def __init__(self, states: list[np.ndarray], actions: list[np.ndarray], rewards: list[np.ndarray],
                 dones: list[np.ndarray], horizon: int, terminal_on_reward: bool, n_step: int = 1,
                 gamma: float = 0.99) -> None:
        s, a, r, s2, d, disc, goal_pairs = [], [], [], [], [], [], []
        base = 0
        for st, ac, rw, dn in zip(states, actions, rewards, dones):
            n = min(len(ac), len(st) - 1)
            if len(st) < len(ac) + 1:  # obs without the final next_obs: drop the last transition
                n = len(st) - 1
            done = dn[:n].astype(np.float32)
            if terminal_on_reward:
                done = np.maximum(done, (rw[:n] > 0).astype(np.float32))
            ret, nxt, dn_n, g_n = _n_step(rw[:n].astype(np.float32), done, n_step, gamma)
            s.append(st[:n]), a.append(ac[:n]), r.append(ret), s2.append(st[nxt]), d.append(dn_n), disc.append(g_n)
            if len(st) > horizon:
                goal_pairs.append(np.stack([np.arange(len(st) - horizon), np.arange(horizon, len(st))], 1) + base)
            base += len(st)
        if not goal_pairs:
            raise ValueError(f"no demo is longer than the goal horizon T={horizon} steps")
        self.all_states = np.concatenate(states).astype(np.float32)
        self.s, self.a = np.concatenate(s).astype(np.float32), np.concatenate(a).astype(np.float32)
        self.r, self.s2, self.d = np.concatenate(r).astype(np.float32), np.concatenate(s2).astype(np.float32), np.concatenate(d)
        self.disc = np.concatenate(disc).astype(np.float32)
        self.pairs = np.concatenate(goal_pairs)


def _n_step(r: np.ndarray, done: np.ndarray, n: int, gamma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per t: discounted return over up to n steps (stopping at done or the demo end), index of s_{t+k},
    done flag and gamma^k. Row t's next state is s_{t+k} (states has one more row than r)."""
    T = len(r)
    ret, nxt, dn, disc = np.zeros(T, np.float32), np.zeros(T, np.int64), np.zeros(T, np.float32), np.zeros(T, np.float32)
    for t in range(T):
        acc, g, k = 0.0, 1.0, 0
        while k < n and t + k < T:
            acc += g * r[t + k]
            g *= gamma
            k += 1
            if done[t + k - 1]:
                dn[t] = 1.0
                break
        ret[t], nxt[t], disc[t] = acc, t + k, g
    return ret, nxt, dn, disc


def train(dataset: str, out: Path, mcfg: IrisModelConfig, tcfg: PTPTrainConfig) -> dict:
    states, space = load_planning_states(dataset, tcfg)
    actions = [x.reshape(len(x), -1) for x in glue.load_demo_key(dataset, "actions")]
    rewards = [x.reshape(-1) for x in glue.load_demo_key(dataset, "rewards")]
    dones = [x.reshape(-1) for x in glue.load_demo_key(dataset, "dones")]
    if space["space"] == "state":  # robomimic obs has one row per action: append next_obs' last row when present
        states = _with_final_next_obs(dataset, tcfg.obs_key, states)
    data = _Transitions(states, actions, rewards, dones, mcfg.horizon, mcfg.terminal_on_reward, mcfg.n_step, mcfg.gamma)
    gen = glue.seed_everything(tcfg.seed)
    glue.save_config(out, model=mcfg, training=tcfg)
    model = IrisModel(data.s.shape[1], data.a.shape[1], mcfg)
    st = torch.from_numpy(data.all_states)
    model.goal_cvae.set_normalization(st, st)
    model.value.set_normalization(torch.from_numpy(data.s), torch.from_numpy(data.a))
    model.target.load_state_dict(model.value.state_dict())
    t = {k: torch.from_numpy(getattr(data, k)) for k in ("s", "a", "r", "s2", "d", "disc", "all_states", "pairs")}

    def loss_fn(g: torch.Generator):
        gi = t["pairs"][torch.randint(0, len(t["pairs"]), (tcfg.batch_size,), generator=g)]
        goal_loss, gi_info = model.goal_cvae.compute_loss(t["all_states"][gi[:, 1]], t["all_states"][gi[:, 0]])
        i = torch.randint(0, len(t["s"]), (tcfg.batch_size,), generator=g)
        act_loss, ai = model.value.action_cvae.compute_loss(t["a"][i], t["s"][i])
        q_loss, qi = bcq_q_loss(model.value, model.target, t["s"][i], t["a"][i], t["r"][i], t["s2"][i], t["d"][i], g, t["disc"][i])
        info = {**{k.replace("losses/", "losses/goal_"): v for k, v in gi_info.items()},
                **{k.replace("losses/", "losses/action_"): v for k, v in ai.items()}, **qi}
        total = goal_loss + act_loss + q_loss
        info["losses/total"] = total.item()
        return total, info

    info = glue.fit(model, loss_fn, tcfg.steps, tcfg.lr, out, gen, tcfg.log_every, tcfg.ckpt_every, "iris", "iris",
                    after_step=lambda: common.soft_update(model.target, model.value, mcfg.tau))
    metrics = {k: v for k, v in info.items() if k.startswith("losses/")}
    ex_s = t["all_states"][:4]
    z_a = torch.zeros(4, mcfg.num_action_proposals, mcfg.latent_dim)
    exports = {"goal_sampler": OnnxExport(CVAEDecoderExport(model.goal_cvae), {"state": ex_s, "z": torch.zeros(4, mcfg.latent_dim)}, ["goal"]),
               "value": OnnxExport(StateValueExport(model.value), {"state": ex_s, "z": z_a}, ["value"])}
    card = glue.write_bundle(out, name=out.name, kind="goal_proposal", algorithm="iris", exports=exports, metrics=metrics,
                             training={"dataset": str(dataset), "dataset_sha256": glue.file_sha256(dataset),
                                       "steps": tcfg.steps, "seed": tcfg.seed, "config": {"model": mcfg, "training": tcfg}},
                             extra={"method": "iris", "horizon": mcfg.horizon, "state_dim": int(data.s.shape[1]),
                                    "z_dim": mcfg.latent_dim, "action_z_dim": mcfg.latent_dim,
                                    "num_action_proposals": mcfg.num_action_proposals, **space})
    log.info("iris bundle written to %s: %s", out, card.metrics)
    return card.metrics


def _with_final_next_obs(dataset: str, key: str, states: list[np.ndarray]) -> list[np.ndarray]:
    import h5py

    out = []
    with h5py.File(dataset, "r") as f:
        names = sorted(f["data"].keys(), key=lambda n: (len(n), n))
        for n, st in zip(names, states):
            nxt = f["data"][n].get(f"next_obs/{key}")
            out.append(np.concatenate([st, nxt[-1:].reshape(1, -1)]) if nxt is not None else st)
    return out
