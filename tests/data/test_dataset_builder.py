"""Bags -> robomimic-layout HDF5: alignment, decoding, bad input, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from data_testlib import EPISODE_TOPICS, NS, STEP, T0, Msgs, write_episode
from subgoal.cli.main import main as cli_main
from subgoal.data.bag_reader import BagReadError, decode_rgb
from subgoal.data.dataset_builder import DatasetBuildError, build_dataset
from subgoal.data.dataset_config import DatasetConfig, ObsSource
from subgoal.data.hdf5 import load_dataset
from subgoal.data.session import Session

SMALL = DatasetConfig(image_size=8)


def _session(root: Path, m: Msgs, specs: list[dict]) -> Session:
    s = Session(root)
    for spec in specs:
        w = s.start_episode(EPISODE_TOPICS, task="push")
        write_episode(w, m, **spec)
        s.finish_episode(w, success=True)
    return s


@pytest.fixture(scope="module")
def good_session(tmp_path_factory):
    return _session(tmp_path_factory.mktemp("good") / "push", Msgs(), [{}, {"duration_s": 2.5}])


def test_alignment_and_layout(good_session, tmp_path):
    out = tmp_path / "push.hdf5"
    report = build_dataset([good_session.dir], out, SMALL)
    assert [n for _, _, n in report.demos] == [20, 25]  # ticks 0.05 .. last command + 0.05 s
    with h5py.File(out, "r") as f:
        data = f["data"]
        assert data.attrs["total"] == 45
        env = json.loads(data.attrs["env_args"])
        assert env["env_name"] == "push" and env["env_kwargs"]["rate_hz"] == 10.0
        g = data["demo_0"]
        assert g.attrs["num_samples"] == 20 and g.attrs["task"] == "push"
        assert set(g["obs"]) == set(g["next_obs"]) == {
            "image", "ee_pos", "ee_quat", "joint_pos", "gripper_width", "object_state", "goal_state"}
        act = g["actions"][()]
        assert act.shape == (20, 4) and act.dtype == np.float32
        np.testing.assert_allclose(act[:, :3], np.tile(STEP, (20, 1)), atol=1e-6)  # delta per tick
        # the command in force at the next tick: 0.04 until t=1.0 s, then 0
        ticks = 0.05 + 0.1 * np.arange(21)
        np.testing.assert_allclose(act[:, 3], np.where(ticks[1:] < 1.0, 0.04, 0.0), atol=1e-7)
        img = g["obs/image"][()]
        assert img.shape == (20, 8, 8, 3) and img.dtype == np.uint8
        frame = np.floor((ticks[:20] - 0.005) * 30 + 1e-9).astype(int)  # nearest-before 30 Hz frame
        np.testing.assert_array_equal(img[:, 0, 0, 0], frame % 250)
        assert (img[..., 1] == 7).all()
        np.testing.assert_array_equal(g["next_obs/image"][:-1], img[1:])
        # 100 Hz ee_pose at +3 ms: nearest-before tick t is the sample at floor((t-0.003)/0.01)
        ee_t = np.floor((ticks[:20] - 0.003) * 100 + 1e-9) / 100 + 0.003
        np.testing.assert_allclose(g["obs/ee_pos"][()], 0.0 + np.array([0.4, 0.0, 0.2]) + STEP * (ee_t[:, None] - 0.003) * 10, atol=1e-5)
        np.testing.assert_allclose(g["obs/gripper_width"][()], 0.04, atol=1e-7)
        assert g["obs/joint_pos"].shape == (20, 2)  # finger joints are not arm joints
        np.testing.assert_array_equal(g["obs/object_state"][:, 0], np.arange(20))  # the 10 Hz vector
        # success turns true at t=1.5 s: reward for the transition whose next tick sees it
        np.testing.assert_array_equal(g["rewards"][()], (ticks[1:] > 1.5).astype(np.float32))
        assert g["dones"][-1] == 1.0
    ds = load_dataset(out)  # verifies the stored hash against the arrays
    assert ds.sha256 == report.sha256 and ds.total == 45


def test_bad_bags_clear_errors_and_skip_bad(tmp_path, good_session, capsys):
    m = Msgs()
    bad = _session(
        tmp_path / "bad",
        m,
        [
            {},  # good
            {"skip": ("ee_pose",)},
            {"resize_image_at": 1.0},
            {"silence": ("joint_states", 0.8, 1.3)},
            {},  # will be corrupted below
        ],
    )
    mcap = next((bad.dir / "episode_004").glob("*.mcap"))
    raw = bytearray(mcap.read_bytes())
    raw[len(raw) // 3: len(raw) // 3 + 64] = b"\xff" * 64
    mcap.write_bytes(bytes(raw))

    def err(ep: str) -> str:
        with pytest.raises(DatasetBuildError) as exc:
            build_dataset([bad.dir / ep], tmp_path / f"{ep}.hdf5", SMALL)
        return str(exc.value)

    e = err("episode_001")
    assert "episode_001" in e and f"{NS}/ee_pose" in e and "has no messages" in e
    e = err("episode_002")
    assert "episode_002" in e and f"{NS}/camera/image_raw" in e and "changed from 32x24" in e
    e = err("episode_003")
    assert "episode_003" in e and f"{NS}/joint_states" in e and "gap" in e
    e = err("episode_004")
    assert "episode_004" in e and "cannot" in e
    with pytest.raises(DatasetBuildError, match="episode_001"):
        build_dataset([bad.dir], tmp_path / "all.hdf5", SMALL)
    assert not (tmp_path / "all.hdf5").exists()

    out = tmp_path / "skip.hdf5"
    rc = cli_main(["dataset", "build", str(bad.dir), str(good_session.dir), "-o", str(out), "--skip-bad", "--image-size", "8"])
    text = capsys.readouterr().out
    assert rc == 0 and "3 demos" in text and text.count("skipped") == 4
    assert load_dataset(out).total == 20 + 20 + 25


def test_optional_keys_and_namespace_detection(tmp_path):
    m = Msgs()
    s = _session(tmp_path / "s", m, [{}, {"skip": ("task/object_state",)}])
    rep = build_dataset([s.dir], tmp_path / "a.hdf5", DatasetConfig(image_size=8, namespace=None))
    assert rep.dropped_keys == ["object_state"] and len(rep.demos) == 2
    with pytest.raises(DatasetBuildError, match="required topic /robot/equilibrium_pose .* is missing"):
        build_dataset([s.dir / "episode_000"], tmp_path / "b.hdf5", DatasetConfig(image_size=8, namespace="/robot"))
    required = DatasetConfig(image_size=8, obs=(ObsSource("object_state", "task/object_state", "vector"),))
    with pytest.raises(DatasetBuildError, match="object_state"):
        build_dataset([s.dir / "episode_001"], tmp_path / "c.hdf5", required)
    with pytest.raises(FileExistsError):
        build_dataset([s.dir], tmp_path / "a.hdf5", SMALL)


def test_latched_goal_and_empty_object_state(tmp_path):
    """The sim latches task/goal_state once per episode and reach has no object (1x0 vector)."""
    s = _session(tmp_path / "s", Msgs(), [{"goal_once": True, "empty_object": True}])
    rep = build_dataset([s.dir], tmp_path / "a.hdf5", SMALL)
    assert len(rep.demos) == 1
    with h5py.File(tmp_path / "a.hdf5") as f:
        obs = f["data/demo_0/obs"]
        assert obs["object_state"].shape[1] == 0
        assert np.allclose(obs["goal_state"][:], [1.0, 2.0, 3.0])
        assert f["data/demo_0/actions"].shape[0] >= 15  # the whole episode, not cut after 0.25 s


def test_config_validation_and_yaml(tmp_path):
    with pytest.raises(ValueError, match="rate_hz=0"):
        DatasetConfig(rate_hz=0)
    with pytest.raises(ValueError, match="extract='nope'"):
        ObsSource("x", "t", "nope")
    p = tmp_path / "cfg.yaml"
    p.write_text("image_size: 3\n")
    with pytest.raises(ValueError, match="cfg.yaml.*image_size=3"):
        DatasetConfig.from_yaml(p)
    p.write_text("rate_hz: 5\nobs:\n  - {key: img, topic: cam/image, extract: image}\n")
    cfg = DatasetConfig.from_yaml(p)
    assert cfg.rate_hz == 5 and cfg.obs[0].key == "img"
    assert DatasetConfig.from_dict(cfg.to_dict()) == cfg


def test_image_decoding(msgs):
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200  # red
    bgr = rgb[..., ::-1].copy()
    for arr, enc in ((rgb, "rgb8"), (bgr, "bgr8")):
        msg = ts.deserialize_cdr(msgs.image(T0, arr, enc), "sensor_msgs/msg/Image")
        out = decode_rgb(msg, 4, "t")
        assert out.shape == (4, 4, 3) and (out[..., 0] == 200).all() and (out[..., 2] == 0).all()
    msg = ts.deserialize_cdr(msgs.image(T0, rgb, "rgb8"), "sensor_msgs/msg/Image")
    msg.step = 5  # lies about its row length
    with pytest.raises(BagReadError, match="does not match"):
        decode_rgb(msg, 4, "where")
