"""The robomimic-layout HDF5 loader the trainers use: validation, foreign files, hash, CLI info/show."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from subgoal.cli.main import main as cli_main
from subgoal.data.hdf5 import ROBOMIMIC_KEY_MAP, DatasetError, Demo, dataset_hash, load_dataset


def _robomimic_file(path, lengths=(5, 7, 6), next_obs=True, corrupt=None):
    """A file shaped like robomimic's own image datasets (agentview_image, robot0_eef_pos ...)."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        for i, n in enumerate(lengths):
            g = data.create_group(f"demo_{i}")
            g.attrs["num_samples"] = n
            for grp in ("obs", "next_obs") if next_obs else ("obs",):
                o = g.create_group(grp)
                o["agentview_image"] = rng.integers(0, 255, (n, 84, 84, 3), dtype=np.uint8)
                o["robot0_eef_pos"] = rng.normal(size=(n, 3)).astype(np.float64)
                o["robot0_eef_quat"] = rng.normal(size=(n, 4))
            g["actions"] = rng.uniform(-1, 1, (n, 7))
            g["rewards"] = np.zeros(n)
            g["dones"] = np.eye(n)[-1] if n else np.zeros(0)
        data.attrs["total"] = sum(lengths)
        data.attrs["env_args"] = json.dumps({"env_name": "Lift", "type": 1, "env_kwargs": {}})
        if corrupt == "nan_reward":
            data["demo_1/rewards"][2] = np.nan
        if corrupt == "zero_length":
            pass  # lengths contains a 0
        f.create_group("mask")["train"] = np.array([b"demo_0", b"demo_1"])
    return path


def test_foreign_robomimic_file_with_key_map(tmp_path):
    p = _robomimic_file(tmp_path / "image.hdf5", lengths=(5, 7, 6, 4, 4, 4, 4, 4, 4, 4, 3))
    ds = load_dataset(p, obs_keys=["image", "ee_pos"], key_map=ROBOMIMIC_KEY_MAP)
    assert [d.name for d in ds.demos][-2:] == ["demo_9", "demo_10"]  # numeric order, not lexical
    assert ds.obs_keys == ["ee_pos", "image"] and ds.sha256 is None
    d = ds.demos[1]
    assert d.obs["image"].shape == (7, 84, 84, 3) and d.actions.shape == (7, 7) and d.actions.dtype == np.float32
    assert ds.env_args["env_name"] == "Lift"
    with pytest.raises(DatasetError, match=r"obs keys \['image'\] absent"):
        load_dataset(p, obs_keys=["image"])  # without the mapping the key is agentview_image
    ds = load_dataset(_robomimic_file(tmp_path / "nonext.hdf5", next_obs=False), key_map=ROBOMIMIC_KEY_MAP)
    np.testing.assert_array_equal(ds.demos[0].next_obs["ee_pos"][:-1], ds.demos[0].obs["ee_pos"][1:])


def test_validation_errors_and_skips(tmp_path):
    p = _robomimic_file(tmp_path / "nan.hdf5", corrupt="nan_reward")
    with pytest.raises(DatasetError, match=r"nan.hdf5 demo_1: rewards contains NaN/inf at rows \[2\]"):
        load_dataset(p)
    ds = load_dataset(p, on_bad="skip")
    assert [d.name for d in ds.demos] == ["demo_0", "demo_2"] and ds.skipped[0][0] == "demo_1"

    p = _robomimic_file(tmp_path / "zero.hdf5", lengths=(5, 0, 3))
    with pytest.raises(DatasetError, match="demo_1: zero-length episode"):
        load_dataset(p)
    assert len(load_dataset(p, on_bad="skip").skipped) == 1

    p = _robomimic_file(tmp_path / "range.hdf5")
    with pytest.raises(DatasetError, match="actions outside the declared range"):
        load_dataset(p, action_low=[-0.5] * 7, action_high=[0.5] * 7)
    with pytest.raises(DatasetError, match="cannot open as HDF5"):
        (tmp_path / "junk.hdf5").write_bytes(b"junk")
        load_dataset(tmp_path / "junk.hdf5")
    with pytest.raises(ValueError, match="on_bad='ignore'"):
        load_dataset(p, on_bad="ignore")


def test_hash_detects_modification(tmp_path):
    demo = Demo("demo_0", {"x": np.zeros((3, 2), np.float32)}, {"x": np.ones((3, 2), np.float32)},
                np.zeros((3, 4), np.float32), np.zeros(3, np.float32), np.array([0, 0, 1], np.float32))
    h = dataset_hash([demo])
    assert h != dataset_hash([Demo(demo.name, {"x": demo.obs["x"].reshape(3, 2, 1)}, demo.next_obs,
                                   demo.actions, demo.rewards, demo.dones)])  # shape is part of it
    p = tmp_path / "ours.hdf5"
    with h5py.File(p, "w") as f:
        g = f.create_group("data/demo_0")
        g["obs/x"], g["next_obs/x"] = demo.obs["x"], demo.next_obs["x"]
        g["actions"], g["rewards"], g["dones"] = demo.actions, demo.rewards, demo.dones
        f["data"].attrs["dataset_sha256"] = h
    assert load_dataset(p).sha256 == h
    with h5py.File(p, "a") as f:
        f["data/demo_0/actions"][0, 0] = 0.5
    with pytest.raises(DatasetError, match="does not match the stored"):
        load_dataset(p)


def test_cli_info_and_show(tmp_path, capsys):
    p = _robomimic_file(tmp_path / "image.hdf5")
    assert cli_main(["dataset", "info", str(p)]) == 0
    out = capsys.readouterr().out
    assert "demos:    3  samples: 18" in out and "agentview_image" in out
    assert cli_main(["dataset", "info", str(p), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 18
    bad = _robomimic_file(tmp_path / "nan.hdf5", corrupt="nan_reward")
    assert cli_main(["dataset", "info", str(bad)]) == 3
    assert "bad demo demo_1" in capsys.readouterr().out
    # show: plots per demo (+ contact sheet when there is an 'image' key)
    with h5py.File(p, "a") as f:
        for i in range(3):
            f[f"data/demo_{i}/obs/image"] = f[f"data/demo_{i}/obs/agentview_image"][()]
    assert cli_main(["dataset", "show", str(p), "-o", str(tmp_path / "show")]) == 0
    pngs = sorted(x.name for x in (tmp_path / "show").iterdir())
    assert pngs == ["contact_sheet.png", "demo_0.png", "demo_1.png", "demo_2.png"]
    import cv2

    sheet = cv2.imread(str(tmp_path / "show" / "contact_sheet.png"))
    assert sheet.shape[0] == 3 * (84 + 4) and sheet.shape[1] == 8 * (84 + 4)
