"""``IQL.set_engine("fused")`` (``subgoal.algos.iql_fused``): the same update as the autograd engine, step for
step; checkpoints resume bit-exactly and cross between engines; bf16 stays close to fp32; bad values fail."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from subgoal.algos.iql import IQL, IQLConfig
from subgoal.train.common import load_checkpoint, save_checkpoint
from test_iql_update_parity import ACT, GOAL, OBS, _batch

torch.set_num_threads(1)


def _agent(hidden=(32, 32), seed: int = 0, **cfg) -> IQL:
    torch.manual_seed(seed)
    agent = IQL(IQLConfig(hidden=hidden, **cfg), OBS, GOAL, ACT)
    rng = np.random.default_rng(seed)
    agent.set_normalization(rng.normal(size=(100, OBS)).astype(np.float32), rng.normal(size=(100, GOAL)).astype(np.float32))
    return agent


def _params(agent: IQL) -> dict[str, torch.Tensor]:
    return {f"{k}.{n}": p.detach().clone() for k, m in agent.modules().items() for n, p in m.state_dict().items()}


def _update_both(ref: IQL, fused: IQL, rng: np.random.Generator, steps: int) -> None:
    for _ in range(steps):
        batch = _batch(rng)
        ref.update(batch), fused.update(batch)


def _max_diff(a: IQL, b: IQL) -> float:
    pa, pb = _params(a), _params(b)
    assert pa.keys() == pb.keys()
    return max(float((pa[k] - pb[k]).abs().max()) for k in pa)


@pytest.mark.parametrize("schedule", [0, 8])
def test_fused_engine_equals_the_autograd_engine(schedule):
    """8 steps from the same weights on the same batches (hidden 3 layers deep, actor cosine schedule or
    not): every weight, target weight and metric agrees to 1e-5; the weights really moved."""
    ref = _agent(hidden=(32, 48, 32), expectile=0.8, beta=5.0)
    fused = copy.deepcopy(ref)
    fused.set_engine("fused")
    if schedule:
        ref.set_actor_lr_decay(schedule)
        fused.set_actor_lr_decay(schedule)
    start = _params(ref)
    rng = np.random.default_rng(1)
    for _ in range(8):
        batch = _batch(rng)
        i_ref, i_fused = ref.update(batch), fused.update(batch)
        assert i_ref.keys() == i_fused.keys()
        for k in i_ref:
            assert i_fused[k] == pytest.approx(i_ref[k], rel=1e-5, abs=1e-6), k
    assert _max_diff(ref, fused) < 1e-5
    moved = _params(fused)
    assert max(float((moved[k] - start[k]).abs().max()) for k in start) > 1e-3
    assert float((moved["actor.log_std"] - start["actor.log_std"]).abs().max()) > 1e-4  # log_std has a gradient
    assert fused.total_steps == ref.total_steps == 8


def test_fused_engine_equals_autograd_in_the_object_goal_frame():
    """``--frame object_goal`` (GoalFrameNormalizer: rotated inputs and actions) goes through the engine's
    general input path; same update as autograd to 1e-5."""
    torch.manual_seed(0)
    ref = IQL(IQLConfig(hidden=(32, 32)), OBS, GOAL, ACT)
    ref.use_goal_frame([0, 1, 2], [3, 4, 5])
    rng = np.random.default_rng(0)
    ref.set_normalization(rng.normal(size=(100, OBS)).astype(np.float32), rng.normal(size=(100, GOAL)).astype(np.float32))
    fused = copy.deepcopy(ref)
    fused.set_engine("fused")
    _update_both(ref, fused, rng, 4)
    assert _max_diff(ref, fused) < 1e-5


def test_switching_to_the_fused_engine_mid_run_keeps_the_adam_state():
    """An agent that already took autograd steps continues under the fused engine like under autograd
    (its Adam moments and step count carry over; a fresh Adam state would move the weights ~100% away)."""
    a = _agent()
    rng = np.random.default_rng(4)
    for _ in range(3):
        a.update(_batch(rng))
    b = copy.deepcopy(a)
    b.set_engine("fused")
    _update_both(a, b, rng, 3)
    assert _max_diff(a, b) < 1e-5


def test_fused_parameters_are_views_of_one_flat_buffer():
    """What makes Adam one kernel and the Polyak update one lerp; the modules see the trained weights."""
    agent = _agent()
    agent.set_engine("fused")
    agent.update(_batch(np.random.default_rng(0)))
    eng = agent._fused
    params = [p for m in agent.trainable().values() for p in m.parameters()]
    assert sum(p.numel() for p in params) == eng.flat.numel()
    assert all(p.untyped_storage().data_ptr() == eng.flat.untyped_storage().data_ptr() for p in params)
    assert all(p.grad.untyped_storage().data_ptr() == eng.grad.untyped_storage().data_ptr() for p in params)
    assert all(p.untyped_storage().data_ptr() == eng.flat_target.untyped_storage().data_ptr()
               for p in agent.qf_target.parameters())


def test_fused_checkpoint_resumes_bit_exactly_and_crosses_engines(tmp_path):
    """Save after 3 fused steps; a fresh fused agent loaded from it continues exactly like the original
    (bit for bit), and an autograd agent loaded from it continues to within 1e-5 (the Adam state is saved
    in torch.optim.Adam's format)."""
    rng = np.random.default_rng(2)
    batches = [_batch(rng) for _ in range(6)]
    a = _agent()
    a.set_engine("fused")
    for b in batches[:3]:
        a.update(b)
    save_checkpoint(tmp_path, modules=a.modules(), optimizers=a.optimizers(), counters={"step": 3})
    b_fused = _agent(seed=5)
    b_fused.set_engine("fused")
    load_checkpoint(tmp_path, modules=b_fused.modules(), optimizers=b_fused.optimizers(), restore_rng=False)
    b_auto = _agent(seed=6)
    load_checkpoint(tmp_path, modules=b_auto.modules(), optimizers=b_auto.optimizers(), restore_rng=False)
    assert _max_diff(a, b_fused) == 0.0
    for b in batches[3:]:
        a.update(b), b_fused.update(b), b_auto.update(b)
    assert _max_diff(a, b_fused) == 0.0
    assert _max_diff(a, b_auto) < 1e-5
    # and the other way: an autograd checkpoint continues under the fused engine
    save_checkpoint(tmp_path / "auto", modules=b_auto.modules(), optimizers=b_auto.optimizers())
    c = _agent(seed=7)
    c.set_engine("fused")
    load_checkpoint(tmp_path / "auto", modules=c.modules(), optimizers=c.optimizers(), restore_rng=False)
    extra = _batch(rng)
    b_auto.update(extra), c.update(extra)
    assert _max_diff(b_auto, c) < 1e-5


def test_fused_bf16_moves_the_weights_like_fp32():
    """bf16 hidden GEMMs in the fused engine: 6 updates land within 15% (relative L2 of the weight change)
    of the fp32 fused updates per network; the control (fp32 on other batches) lands farther away."""
    fp32 = _agent(hidden=(64, 64))
    bf16, control = copy.deepcopy(fp32), copy.deepcopy(fp32)
    for a in (fp32, bf16, control):
        a.set_engine("fused")
    bf16.set_precision("bf16")
    rng = np.random.default_rng(3)
    batches, others = [_batch(rng) for _ in range(6)], [_batch(rng) for _ in range(6)]
    start = {k: torch.cat([p.detach().flatten() for p in m.parameters()]) for k, m in fp32.trainable().items()}
    for b, o in zip(batches, others):
        fp32.update(b), bf16.update(b), control.update(o)
    ctl = []
    for name, w0 in start.items():
        d = {k: torch.cat([p.detach().flatten() for p in a.trainable()[name].parameters()]) - w0
             for k, a in (("32", fp32), ("16", bf16), ("ctl", control))}
        err = float((d["16"] - d["32"]).norm() / d["32"].norm())
        assert 1e-5 < err < 0.15, (name, err)
        ctl.append(float((d["ctl"] - d["32"]).norm() / d["32"].norm()))
    assert max(ctl) > 0.15
    assert all(p.dtype == torch.float32 for m in bf16.modules().values() for p in m.state_dict().values())


def test_bad_engine_values_fail_clearly():
    agent = _agent()
    with pytest.raises(ValueError, match="engine='jit'"):
        agent.set_engine("jit")
    agent.set_engine("fused")
    agent.update(_batch(np.random.default_rng(0)))
    with pytest.raises(ValueError, match="already in use"):
        agent.set_engine("autograd")


def test_cli_engine_fused_trains_resumes_exactly_and_exports(tmp_path, monkeypatch, caplog):
    """``subgoal train iql --engine fused``: a bundle whose card records the engine; a run resumed from its
    checkpoint ends bit-identical to a straight run; ``--engine fused`` on bc is a clean error (exit 2)."""
    import sg_pointmass as pm
    from safetensors.numpy import load_file

    from subgoal.bundle import load_bundle
    from subgoal.cli.main import main

    h5 = pm.write_hdf5(tmp_path / "pm.hdf5", pm.episodes(6, 10, 0.3, seed=0))

    def argv(name, steps, *extra):
        return ["train", "iql", "--dataset", str(h5), "--obs", "state", "--obs-keys", "ee_pos",
                "--out", str(tmp_path / "m" / name), "--run-dir", str(tmp_path / "r" / name), "--steps", str(steps),
                "--batch-size", "32", "--hidden", "16", "16", "--checkpoint-every", "3", "--no-progress-bar",
                "--engine", "fused", *extra]

    monkeypatch.setattr("sys.argv", ["subgoal", *argv("a", 8)])
    assert main(argv("a", 8)) == 0
    assert main(argv("b", 5)) == 0
    assert main(argv("b", 8, "--resume")) == 0
    straight, resumed = (load_file(str(tmp_path / "r" / n / "checkpoint" / "tensors.safetensors")) for n in "ab")
    keys = [k for k in straight if k.startswith(("model/", "optim/"))]
    assert any(k.startswith("optim/") for k in keys)
    assert keys and all(np.array_equal(straight[k], resumed[k]) for k in keys)
    b = load_bundle(tmp_path / "m" / "a", kind="policy")
    assert b.card.training["config"]["run"]["engine"] == "fused"
    x = {"obs": np.zeros((2, 2), np.float32), "goal": np.zeros((2, 2), np.float32)}
    assert np.isfinite(b.run("policy", x)["action"]).all()
    bad = argv("c", 2)
    bad[1] = "bc"
    assert main(bad) == 2 and "only iql has a fused update engine" in caplog.text
