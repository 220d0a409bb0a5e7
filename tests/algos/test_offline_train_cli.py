"""``subgoal train iql|awac|bc`` and ``subgoal export`` end to end on a tiny robomimic HDF5."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from safetensors.numpy import load_file

import sg_pointmass as pm
from subgoal.bundle import load_bundle
from subgoal.cli.main import main
from subgoal.data.relabel import RelabelConfig
from subgoal.train.offline import DatasetError, RunConfig, load_goal_dataset, train_offline
from subgoal.algos.iql import IQLConfig


@pytest.fixture()
def hdf5(tmp_path):
    return pm.write_hdf5(tmp_path / "pm.hdf5", pm.episodes(6, 10, 0.3, seed=0), empty_demos=1)


def _argv(algo, hdf5, tmp_path, *extra):
    return ["train", algo, "--dataset", str(hdf5), "--obs", "state", "--obs-keys", "ee_pos",
            "--out", str(tmp_path / "models" / algo), "--run-dir", str(tmp_path / "runs" / algo),
            "--steps", "6", "--batch-size", "32", "--hidden", "16", "16", "--log-every", "2",
            "--no-progress-bar", *extra]


@pytest.mark.parametrize("algo", ["iql", "awac", "bc"])
def test_train_cli_writes_a_loadable_bundle(algo, hdf5, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.argv", ["subgoal", *_argv(algo, hdf5, tmp_path)])
    assert main(_argv(algo, hdf5, tmp_path)) == 0
    out = tmp_path / "models" / algo
    b = load_bundle(out, kind="policy", expect={"policy": {"obs": (None, 2), "goal": (None, 2)}})
    card = b.card
    assert card.algorithm == algo and card.action["low"] == [-1.0, -1.0] and card.action["scale"] == [1.0, 1.0]
    assert card.observation["keys"] == ["ee_pos"] and card.observation["achieved_key"] == "ee_pos"
    assert card.training["dataset_sha256"] and "train " + algo in card.training["command"]
    assert card.training["skipped_empty_demos"] == 1 and card.metrics["train/steps"] == 6
    assert (out / "config.json").is_file()
    assert ("value" in card.files) == (algo != "bc")
    rows = [json.loads(x) for x in (tmp_path / "runs" / algo / "tb" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6] and all("charts/steps_per_s" in r for r in rows)
    # export from the checkpoint gives the same policy graph behaviour
    assert main(["export", str(tmp_path / "runs" / algo), "--out", str(tmp_path / "exported")]) == 0
    b2 = load_bundle(tmp_path / "exported", kind="policy")
    x = {"obs": np.full((3, 2), 0.1, np.float32), "goal": np.zeros((3, 2), np.float32)}
    assert np.allclose(b.run("policy", x)["action"], b2.run("policy", x)["action"], atol=1e-6)


def test_resume_is_exact(hdf5, tmp_path):
    def run(steps, run_dir, resume=False):
        cfg = RunConfig(dataset=hdf5, out=tmp_path / "m" / run_dir, run_dir=tmp_path / run_dir, obs_keys=("ee_pos",),
                        steps=steps, batch_size=32, checkpoint_every=3, resume=resume, progress_bar=False)
        train_offline("iql", IQLConfig(hidden=(16, 16)), cfg, RelabelConfig(eps=0.1))
        return load_file(str(tmp_path / run_dir / "checkpoint" / "tensors.safetensors"))

    straight = run(8, "a")
    run(5, "b")
    with pytest.raises(Exception, match="pass --resume"):
        run(8, "b")
    resumed = run(8, "b", resume=True)
    keys = [k for k in straight if k.startswith(("model/", "optim/"))]
    assert keys and all(np.array_equal(straight[k], resumed[k]) for k in keys)


def _corrupt(path, fn):
    with h5py.File(path, "a") as f:
        fn(f["data"])


def test_bad_datasets_are_refused_with_the_place(hdf5):
    ok = load_goal_dataset(hdf5, obs_keys=("ee_pos",))
    assert ok.info["skipped_empty_demos"] == 1 and ok.info["episodes"] == 6
    with pytest.raises(DatasetError, match=r"obs keys \['ee_quat'\] not in the dataset"):
        load_goal_dataset(hdf5, obs_keys=("ee_pos", "ee_quat"))

    def nan_reward(d):
        d["demo_2/rewards"][3] = np.nan
    _corrupt(hdf5, nan_reward)
    with pytest.raises(DatasetError, match=r"demo_2: rewards contains NaN/inf at rows \[3\]"):
        load_goal_dataset(hdf5, obs_keys=("ee_pos",))


def test_out_of_range_actions_are_refused(hdf5):
    def big_action(d):
        d["demo_1/actions"][4, 1] = 1.7
    _corrupt(hdf5, big_action)
    with pytest.raises(DatasetError, match=r"demo_1: actions outside the declared range .*row 4 dim 1 = 1.7"):
        load_goal_dataset(hdf5, obs_keys=("ee_pos",))
    # a file that declares a wider range is accepted
    _corrupt(hdf5, lambda d: d.attrs.update({"action_low": -2.0, "action_high": 2.0}))
    assert load_goal_dataset(hdf5, obs_keys=("ee_pos",)).action_high.tolist() == [2.0, 2.0]


def test_cli_reports_bad_values_without_a_traceback(hdf5, tmp_path, caplog, monkeypatch):
    argv = _argv("iql", hdf5, tmp_path, "--expectile", "1.5")
    monkeypatch.setattr("sys.argv", ["subgoal", *argv])  # cli/train.py picks the trainer from sys.argv
    assert main(argv) == 2
    assert "expectile=1.5" in caplog.text
    assert main(["export", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2


def test_robomimic_key_names_load_through_the_key_map(hdf5):
    def rename(d):
        for name in d:
            for grp in ("obs", "next_obs"):
                d[name].move(f"{grp}/ee_pos", f"{grp}/robot0_eef_pos")
    _corrupt(hdf5, rename)
    with pytest.raises(DatasetError, match=r"obs keys \['ee_pos'\] not in the dataset"):
        load_goal_dataset(hdf5, obs_keys=("ee_pos",))
    ds = load_goal_dataset(hdf5, obs_keys=("ee_pos",), key_map="robomimic")
    assert ds.obs.shape == (60, 2) and ds.info["achieved_key"] == "ee_pos"


def test_object_goal_frame_needs_an_ee_and_object_position(hdf5, tmp_path, caplog, monkeypatch):
    """The point mass has a 2-D ``ee_pos`` and no object: --frame object_goal is a clear error, exit 2."""
    argv = _argv("iql", hdf5, tmp_path, "--frame", "object_goal")
    monkeypatch.setattr("sys.argv", ["subgoal", *argv])
    assert main(argv) == 2
    assert "frame=object_goal" in caplog.text and "ee_pos" in caplog.text
