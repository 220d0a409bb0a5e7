"""``subgoal.algos.batch_blocks``: K batches per sampling call — same rows' distribution, seeded, resumable."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

import sg_pointmass as pm
from subgoal.algos.batch_blocks import MAX_BLOCK_ROWS, BatchBlocks
from subgoal.algos.buffers import GoalDataset, GoalReplay
from subgoal.algos.iql import IQLConfig
from subgoal.data.relabel import RelabelConfig
from subgoal.train.offline import RunConfig, batch_source, train_offline

EPISODES, LENGTH = 50, 20


def _tagged_replay(relabel: RelabelConfig, seed: int = 0) -> GoalReplay:
    """Rows that say where they come from: obs[:, 0] = transition index, achieved_next[:, 0] = index
    (so a goal names the transition it was taken from), commanded goals = -1 - episode (the 'keep' source)."""
    n = EPISODES * LENGTH
    idx = np.arange(n, dtype=np.float32)
    obs = np.stack([idx, idx * 0], 1)
    episode = np.repeat(np.arange(EPISODES), LENGTH).astype(np.float32)
    data = GoalDataset(obs=obs, next_obs=obs + 1, actions=np.zeros((n, 2), np.float32),
                       achieved_next=idx[:, None].copy(), episode_ends=np.arange(LENGTH, n + 1, LENGTH),
                       action_low=-np.ones(2, np.float32), action_high=np.ones(2, np.float32),
                       commanded=(-1.0 - episode)[:, None])
    return GoalReplay(data, relabel, rng=seed)


def _fractions(batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
    """Source fractions from the tags: keep (negative goal), future of the same episode, else uniform."""
    i = torch.cat([b["obs"][:, 0] for b in batches]).numpy().astype(np.int64)
    g = torch.cat([b["goal"][:, 0] for b in batches]).numpy()
    end = (i // LENGTH + 1) * LENGTH
    keep = g < 0
    future = ~keep & (g >= i) & (g < end)
    return {"keep": keep.mean(), "future": future.mean(), "other": (~keep & ~future).mean(),
            "index_hist": np.bincount(i // (LENGTH * 10), minlength=EPISODES // 10) / len(i)}


def test_rows_have_the_mixture_and_reward_of_per_step_sampling():
    relabel = RelabelConfig(keep=0.2, future=0.5, uniform=0.3, eps=0.5)
    per_step = _tagged_replay(relabel)
    blocks = BatchBlocks(_tagged_replay(relabel), batch_size=256, block=16, seed=3)
    steps = 160  # 40960 rows each
    a = _fractions([per_step.sample(256) for _ in range(steps)])
    b = _fractions([blocks.batch(s) for s in range(steps)])
    # uniform goals fall in the own episode's future with p ~ 10/1000: 'future' ~ 0.5 + 0.003, 'other' ~ 0.297
    for f in (a, b):
        assert f["keep"] == pytest.approx(0.2, abs=0.01)
        assert f["future"] == pytest.approx(0.503, abs=0.01)
        assert f["other"] == pytest.approx(0.297, abs=0.01)
        assert np.allclose(f["index_hist"], 0.2, atol=0.01)  # transitions uniform over the dataset
    for s in (0, 17, 159):  # reward/done follow the relabeled goal: achieved_next = index, eps 0.5
        batch = blocks.batch(s)
        reached = (batch["obs"][:, 0] == batch["goal"][:, 0])
        assert torch.equal(batch["done"], reached.float())
        assert torch.equal(batch["reward"], reached.float() - 1.0)
        assert batch["obs"].shape == (256, 2) and batch["action"].shape == (256, 2)


def test_same_seed_same_stream_other_seed_or_rank_another():
    relabel = RelabelConfig()
    a = BatchBlocks(_tagged_replay(relabel), 32, 4, seed=7)
    b = BatchBlocks(_tagged_replay(relabel, seed=99), 32, 4, seed=7)  # the replay's own rng is not used
    c = BatchBlocks(_tagged_replay(relabel), 32, 4, seed=8)
    d = BatchBlocks(_tagged_replay(relabel), 32, 4, seed=7, stream=1)
    for s in range(10):
        x, y = a.batch(s), b.batch(s)
        assert all(torch.equal(x[k], y[k]) for k in x)
    assert not torch.equal(a.batch(3)["obs"], c.batch(3)["obs"])
    assert not torch.equal(a.batch(3)["obs"], d.batch(3)["obs"])
    # consecutive steps get different batches, also across a block boundary
    assert not torch.equal(a.batch(3)["obs"], a.batch(4)["obs"])
    assert not torch.equal(a.batch(4)["obs"], a.batch(5)["obs"])


def test_a_fresh_stream_at_any_step_matches_the_straight_one():
    relabel = RelabelConfig()
    straight = BatchBlocks(_tagged_replay(relabel), 32, 5, seed=1)
    ref = [straight.batch(s) for s in range(23)]
    for start in (0, 4, 5, 6, 13, 22):  # mid-block and on block boundaries
        resumed = BatchBlocks(_tagged_replay(relabel), 32, 5, seed=1)
        for s in range(start, 23):
            got = resumed.batch(s)
            assert all(torch.equal(got[k], ref[s][k]) for k in got), (start, s)


def test_block_size_is_capped_and_block_1_is_the_per_step_path():
    replay = _tagged_replay(RelabelConfig())
    assert BatchBlocks(replay, 4096, 64, seed=0).k == MAX_BLOCK_ROWS // 4096
    assert BatchBlocks(replay, MAX_BLOCK_ROWS * 2, 64, seed=0).k == 1
    with pytest.raises(ValueError):
        BatchBlocks(replay, 32, 0, seed=0)
    one, other = _tagged_replay(RelabelConfig(), seed=5), _tagged_replay(RelabelConfig(), seed=5)
    step_fn = batch_source(one, 32, 1, seed=0, rank=0)
    for s in range(3):
        assert torch.equal(step_fn(s)["obs"], other.sample(32)["obs"])


@pytest.mark.parametrize("block", [3, 64])
def test_trainer_resume_is_exact_with_blocks(tmp_path, block):
    """Resume at step 5 (mid-block for K=3 and K=64) ends with the weights of the straight 8-step run."""
    hdf5 = pm.write_hdf5(tmp_path / "pm.hdf5", pm.episodes(6, 10, 0.3, seed=0))

    def run(steps, run_dir, resume=False, k=block):
        cfg = RunConfig(dataset=hdf5, out=tmp_path / "m" / run_dir, run_dir=tmp_path / run_dir, obs_keys=("ee_pos",),
                        steps=steps, batch_size=32, checkpoint_every=100, resume=resume, progress_bar=False,
                        sample_block=k)
        train_offline("iql", IQLConfig(hidden=(16, 16)), cfg, RelabelConfig(eps=0.1))
        return load_file(str(tmp_path / run_dir / "checkpoint" / "tensors.safetensors"))

    straight = run(8, "a")
    run(5, "b")
    resumed = run(8, "b", resume=True)
    keys = [k for k in straight if k.startswith(("model/", "optim/"))]
    assert keys and all(np.array_equal(straight[k], resumed[k]) for k in keys)
    # the check can fail: another batch stream (one call per step) ends with other weights
    per_step = run(8, "c", k=1)
    assert not all(np.array_equal(straight[k], per_step[k]) for k in keys)


def test_cli_records_the_sample_block(tmp_path):
    from subgoal.cli.main import main
    hdf5 = pm.write_hdf5(tmp_path / "pm.hdf5", pm.episodes(6, 10, 0.3, seed=0))
    argv = ["train", "iql", "--dataset", str(hdf5), "--obs", "state", "--obs-keys", "ee_pos", "--out",
            str(tmp_path / "m"), "--run-dir", str(tmp_path / "r"), "--steps", "4", "--batch-size", "16", "--hidden",
            "8", "8", "--no-progress-bar", "--sample-block", "3", "--engine", "fused", "--precision", "bf16"]
    assert main(argv) in (0, None)
    import json
    cfg = json.loads((tmp_path / "r" / "checkpoint" / "config.json").read_text())
    assert cfg["run"]["sample_block"] == 3 and cfg["run"]["engine"] == "fused"
