"""``--obs latent --encoder``: dataset images → encoder ONNX → latent obs/goals, and the sim evaluation
that encodes the camera (real MuJoCo rendering, real ONNX Runtime; random-weight encoder)."""
from __future__ import annotations

import numpy as np
import pytest

from subgoal.bundle import load_bundle
from subgoal.bundle.synthetic import encoder_bundle
from subgoal.data.hdf5 import DatasetError
from subgoal.data.relabel import RelabelConfig
from subgoal.algos.bc import BCConfig
from subgoal.runtime.perception import PerceptionCore
from subgoal.train.common import ConfigError
from subgoal.train.offline import RunConfig, load_goal_dataset, train_offline
from subgoal.train.sim_eval import collect_expert_hdf5


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("latent")
    h5 = collect_expert_hdf5(d / "img.hdf5", task="reach", episodes=2, p=0.3, seed=0, horizon=6, images=True)
    return h5, encoder_bundle(d / "enc", image_size=48, latent_dim=4)


def test_images_are_encoded_by_the_bundle(files):
    import h5py
    h5, enc = files
    data = load_goal_dataset(h5, ("latent",), "goal_latent", "latent", encoder=enc)
    assert data.obs.shape == (12, 4) and data.commanded.shape == (12, 4)
    core = PerceptionCore(enc)
    with h5py.File(h5, "r") as f:
        img = f["data/demo_1/obs/image"][2]
        nxt = f["data/demo_1/next_obs/image"][2]
        goal_img = f["data/demo_1/obs/goal_image"][0]
    assert np.allclose(data.obs[6 + 2], core.step(img), atol=1e-5)
    assert np.allclose(data.achieved_next[6 + 2], core.step(nxt), atol=1e-5)  # achieved goal = next latent
    assert np.allclose(data.commanded[6 + 2], core.step(goal_img), atol=1e-5)


def test_train_latent_policy_and_evaluate_through_the_camera(files, tmp_path):
    h5, enc = files
    run = RunConfig(dataset=h5, out=tmp_path / "m", run_dir=tmp_path / "r", obs="latent", encoder=enc, steps=3,
                    batch_size=16, progress_bar=False, eval_task="reach", eval_episodes=1, eval_video=False)
    metrics = train_offline("bc", BCConfig(hidden=(16, 16)), run, RelabelConfig(reward="dense", eps=0.5))
    assert metrics["eval/episodes"] == 1.0 and 0.0 <= metrics["eval/success_rate"] <= 1.0
    card = load_bundle(tmp_path / "m", kind="policy", expect={"policy": {"obs": (None, 4), "goal": (None, 4)}}).card
    assert card.observation["keys"] == ["latent"] and card.observation["kind"] == "latent"
    assert card.observation["encoder"]["bundle"] == str(enc) and card.observation["encoder"]["encoder_onnx_sha256"]


def test_encoder_misuse_is_a_clear_error(files, tmp_path):
    h5, enc = files
    with pytest.raises(ConfigError, match="needs --obs latent"):
        RunConfig(dataset=h5, encoder=enc)
    with pytest.raises(ConfigError, match="no model.json"):
        RunConfig(dataset=h5, obs="latent", encoder=tmp_path)
    with pytest.raises(DatasetError, match="obs/camera"):
        load_goal_dataset(h5, ("latent",), "goal_latent", "latent", encoder=enc, image_key="camera")
    small = encoder_bundle(tmp_path / "enc32", image_size=32, latent_dim=4)
    with pytest.raises(DatasetError, match=r"needs uint8 \(32, 32, 3\)"):
        load_goal_dataset(h5, ("latent",), "goal_latent", "latent", encoder=small)
