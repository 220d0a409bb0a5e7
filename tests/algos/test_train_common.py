"""subgoal.train.common: CLI from dataclasses, seeding, exact resume, metric prefixes, soft update."""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import torch

from subgoal.train import common as C

torch.set_num_threads(1)


@dataclass
class _Cfg:
    steps: int = 10
    """number of gradient steps"""
    lr: float = 3e-4
    """Adam learning rate"""
    obs: Literal["state", "latent"] = "state"
    """observation kind"""
    hidden: tuple[int, ...] = (256, 256)
    """hidden layer widths"""
    compile: bool = False
    """use torch.compile"""
    out: Path | None = None
    """output folder"""

    def __post_init__(self) -> None:
        C.require(self.steps > 0, "steps", self.steps, "must be > 0")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="x")
    C.add_dataclass_arguments(p, _Cfg)
    return p


def test_help_comes_from_field_docstrings():
    text = _parser().format_help()
    assert "number of gradient steps" in text and "Adam learning rate" in text
    assert "--hidden" in text and "--no-compile" in text


def test_parse_and_build_config():
    args = _parser().parse_args(["--steps", "5", "--hidden", "64", "32", "--obs", "latent", "--compile",
                                 "--out", "models/x"])
    cfg = C.dataclass_from_args(_Cfg, args)
    assert cfg == _Cfg(steps=5, hidden=(64, 32), obs="latent", compile=True, out=Path("models/x"))
    assert C.dataclass_from_args(_Cfg, _parser().parse_args([])) == _Cfg()  # dataclass defaults win


def test_bad_value_is_quoted():
    with pytest.raises(C.ConfigError, match=r"steps=-3"):
        C.dataclass_from_args(_Cfg, _parser().parse_args(["--steps", "-3"]))
    with pytest.raises(SystemExit):
        _parser().parse_args(["--obs", "pixels"])  # not a choice


def test_save_config_json_and_yaml(tmp_path):
    cfg = _Cfg(out=Path("a/b"))
    js = json.loads(C.save_config(cfg, tmp_path / "config.json").read_text())
    assert js == {"steps": 10, "lr": 3e-4, "obs": "state", "hidden": [256, 256], "compile": False, "out": "a/b"}
    assert "hidden" in C.save_config(cfg, tmp_path / "config.yaml").read_text()


def _train(model, opt, rng, steps):
    for _ in range(steps):
        x = torch.as_tensor(rng.normal(size=(8, 3)), dtype=torch.float32)
        loss = (model(x) + 0.01 * torch.randn(8, 2)).pow(2).mean()  # uses torch RNG too
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_checkpoint_resumes_bit_exactly(tmp_path):
    def fresh():
        rng = C.seed_everything(7)
        model = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        return model, torch.optim.Adam(model.parameters(), lr=1e-2), rng

    m1, o1, r1 = fresh()
    _train(m1, o1, r1, 10)

    m2, o2, r2 = fresh()
    _train(m2, o2, r2, 4)
    C.save_checkpoint(tmp_path, modules={"net": m2}, optimizers={"opt": o2}, counters={"step": 4},
                      np_rng=r2, config=_Cfg())
    assert (tmp_path / "checkpoint" / "config.json").is_file()
    _train(m2, o2, r2, 3)  # diverge the live objects: the load must restore everything

    m3, o3, r3 = fresh()
    state = C.load_checkpoint(tmp_path, modules={"net": m3}, optimizers={"opt": o3}, np_rng=r3)
    assert state["counters"] == {"step": 4}
    _train(m3, o3, r3, 6)
    for a, b in zip(m1.parameters(), m3.parameters()):
        assert torch.equal(a, b)
    # no pickle anywhere in the checkpoint
    for f in (tmp_path / "checkpoint").iterdir():
        assert f.suffix in (".json", ".safetensors"), f


def test_checkpoint_errors_name_the_problem(tmp_path):
    with pytest.raises(C.CheckpointError, match="no checkpoint"):
        C.load_checkpoint(tmp_path, modules={})
    C.save_checkpoint(tmp_path, modules={"net": torch.nn.Linear(3, 2)})
    with pytest.raises(C.CheckpointError, match=r"no module\(s\) \['policy'\]"):
        C.load_checkpoint(tmp_path, modules={"policy": torch.nn.Linear(3, 2)})
    with pytest.raises(C.CheckpointError, match="module 'net' does not fit"):
        C.load_checkpoint(tmp_path, modules={"net": torch.nn.Linear(4, 2)})


def test_metric_logger_prefixes_and_jsonl(tmp_path):
    with C.MetricLogger(tmp_path) as logger:
        logger.scalars({"losses/q": 1.5, "charts/sps": 100}, step=3)
        with pytest.raises(ValueError, match="lack a prefix"):
            logger.scalars({"q_loss": 1.0}, step=4)
    assert C.read_metrics(tmp_path) == [{"step": 3, "losses/q": 1.5, "charts/sps": 100.0}]
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())


def test_soft_update():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    wa, wb = a.weight.detach().clone(), b.weight.detach().clone()
    C.soft_update(a, b, 0.25)
    assert torch.allclose(a.weight, 0.75 * wa + 0.25 * wb)
    with pytest.raises(C.ConfigError, match="tau=1.5"):
        C.soft_update(a, b, 1.5)


def test_seed_everything_is_reproducible():
    x = C.seed_everything(3).normal(size=4), torch.rand(3)
    y = C.seed_everything(3).normal(size=4), torch.rand(3)
    assert np.array_equal(x[0], y[0]) and torch.equal(x[1], y[1])
    with pytest.raises(C.ConfigError, match="seed=-1"):
        C.seed_everything(-1)
