"""subgoal.bundle: export → model.json → ONNX Runtime load with checks; every failure names its cause."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from subgoal.bundle import (BundleError, BundleFileMissing, BundleHashMismatch, BundleKindMismatch,
                            BundleShapeMismatch, load_bundle)
from subgoal.bundle.export import OnnxExport, write_bundle

torch.set_num_threads(1)


class _TwoHead(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.ReLU())
        self.a = torch.nn.Linear(32, 4)
        self.v = torch.nn.Linear(32, 1)

    def forward(self, obs, goal):
        h = self.body(torch.cat([obs, goal], -1))
        return torch.tanh(self.a(h)), self.v(h)


@pytest.fixture()
def bundle_dir(tmp_path):
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 7 * 7, 8))
    write_bundle(tmp_path / "m", name="m", kind="policy", algorithm="test",
                 exports={"policy": OnnxExport(_TwoHead(), {"obs": torch.zeros(1, 4), "goal": torch.zeros(1, 2)},
                                               ["action", "value"]),
                          "encoder": OnnxExport(conv, {"image": torch.rand(1, 3, 16, 16)}, ["latent"])},
                 observation={"keys": ["ee_pos"]}, action={"scale": [0.05] * 4},
                 training={"command": "subgoal train test"}, metrics={"eval/success": 0.5},
                 config={"steps": 3})
    return tmp_path / "m"


def test_roundtrip_matches_torch_and_card(bundle_dir):
    card = json.loads((bundle_dir / "model.json").read_text())
    assert card["kind"] == "policy" and card["files"]["policy"]["inputs"][0] == \
        {"name": "obs", "shape": ["batch", 4], "dtype": "float32"}
    assert all(v <= 1e-4 for v in card["onnx_parity_max_err"].values())
    assert (bundle_dir / "config.json").is_file()
    b = load_bundle(bundle_dir, kind="policy", expect={"policy": {"obs": (None, 4), "action": (None, 4)}})
    assert b.card.metrics == {"eval/success": 0.5} and b.card.action["scale"] == [0.05] * 4
    out = b.run("policy", {"obs": np.ones((5, 4), np.float32), "goal": np.zeros((5, 2), np.float32)})
    assert out["action"].shape == (5, 4) and out["value"].shape == (5, 1)
    assert b.run("encoder", {"image": np.random.rand(2, 3, 16, 16)})["latent"].shape == (2, 8)


def test_card_records_the_code_it_was_made_with(bundle_dir, tmp_path):
    from subgoal.bundle.code_version import REPO, code_version

    code = json.loads((bundle_dir / "model.json").read_text())["training"]["code"]
    if (REPO / ".git").exists():  # a checkout (CI clones one): the commit and whether tracked files differed
        assert len(code["commit"]) == 40 and int(code["commit"], 16) >= 0 and isinstance(code["dirty"], bool)
    none = code_version(tmp_path)  # not a git checkout: said, not guessed
    assert none["commit"] is None and "no git checkout" in none["why"]


def test_tampered_file_is_refused(bundle_dir):
    data = bytearray((bundle_dir / "policy.onnx").read_bytes())
    data[-1] ^= 0xFF
    (bundle_dir / "policy.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleHashMismatch, match=r"policy.onnx: sha256 .* does not match model.json"):
        load_bundle(bundle_dir)


def test_missing_files_are_named(bundle_dir, tmp_path):
    (bundle_dir / "encoder.onnx").unlink()
    with pytest.raises(BundleFileMissing, match=r"'encoder' file 'encoder.onnx', which is missing"):
        load_bundle(bundle_dir)
    with pytest.raises(BundleFileMissing, match="no model.json"):
        load_bundle(tmp_path)


def test_wrong_kind_and_shapes_are_named(bundle_dir):
    with pytest.raises(BundleKindMismatch, match=r"is kind 'policy', expected 'encoder'"):
        load_bundle(bundle_dir, kind="encoder")
    with pytest.raises(BundleShapeMismatch, match=r"'obs' has shape \[batch, 4\], expected \[batch, 20\]"):
        load_bundle(bundle_dir, expect={"policy": {"obs": (None, 20)}})
    b = load_bundle(bundle_dir)
    with pytest.raises(BundleShapeMismatch, match=r"input 'obs' has shape \[5, 3\], model takes \[batch, 4\]"):
        b.run("policy", {"obs": np.ones((5, 3)), "goal": np.zeros((5, 2))})
    with pytest.raises(BundleShapeMismatch, match=r"inputs \['obs'\] given"):
        b.run("policy", {"obs": np.ones((5, 4))})
    with pytest.raises(BundleError, match="has no 'value' model"):
        b.run("value", {})


def test_card_that_lies_about_the_graph(bundle_dir):
    path = bundle_dir / "model.json"
    card = json.loads(path.read_text())
    card["files"]["policy"]["inputs"][0]["shape"] = ["batch", 7]
    path.write_text(json.dumps(card))
    with pytest.raises(BundleShapeMismatch, match=r"input 'obs' has shape \[batch, 4\] in the ONNX graph, "
                                                  r"model.json says \[batch, 7\]"):
        load_bundle(bundle_dir)
    card["format"] = "something-else"
    path.write_text(json.dumps(card))
    with pytest.raises(BundleError, match="format='something-else'"):
        load_bundle(bundle_dir)


def test_load_path_never_imports_torch(bundle_dir):
    code = ("import sys, subgoal.bundle as b; bb = b.load_bundle(sys.argv[1]); "
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    res = subprocess.run([sys.executable, "-c", code, str(bundle_dir)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr


def test_parity_check_catches_a_graph_that_differs(tmp_path):
    from subgoal.bundle.export import check_parity, export_onnx

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    ex = {"x": torch.zeros(1, 3)}
    export_onnx(net, tmp_path / "n.onnx", ex, ["y"])
    assert check_parity(net, tmp_path / "n.onnx", ex, ["y"]) <= 1e-6
    with torch.no_grad():
        net[2].bias.add_(1e-3)  # torch side changes after export: ONNX no longer matches
    with pytest.raises(BundleError, match=r"n.onnx: ONNX Runtime differs from torch by 0.001"):
        check_parity(net, tmp_path / "n.onnx", ex, ["y"])
