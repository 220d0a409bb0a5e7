from __future__ import annotations

import pytest
import torch

from subgoal.planning.toy_tasks import PointMaze, maze_demos, write_maze_hdf5

torch.set_num_threads(1)

# start/goal pairs on opposite sides of the wall (straight lines are infeasible) + one same-side pair
QUERIES = [((-0.7, -0.7), (0.7, -0.7)), ((-0.5, -0.2), (0.6, 0.0)), ((0.8, -0.3), (-0.6, -0.8)),
           ((-0.8, 0.8), (0.5, -0.5))]


@pytest.fixture(scope="session")
def queries():
    return QUERIES


@pytest.fixture(scope="session")
def maze():
    return PointMaze()


@pytest.fixture(scope="session")
def maze_hdf5(tmp_path_factory, maze):
    """200 noisy scripted demos x 150 steps (training data, seed 0)."""
    return write_maze_hdf5(tmp_path_factory.mktemp("maze") / "maze.hdf5", maze_demos(maze, 200, 150, seed=0, goal_bias=0.2))


@pytest.fixture(scope="session")
def heldout_demos(maze):
    """Demos the models never see (seed 123): the ground truth of the nearest-neighbour reach check."""
    return [d["obs"] for d in maze_demos(maze, 200, 150, seed=123, goal_bias=0.2)]


@pytest.fixture(scope="session")
def ptp_bundle(tmp_path_factory, maze_hdf5):
    """Two-level PTP generators (30 and 15 steps) trained briefly on the maze demos."""
    from subgoal.train.ptp import PTPModelConfig, PTPTrainConfig, train

    out = tmp_path_factory.mktemp("ptp") / "ptp_maze"
    train(str(maze_hdf5), out, PTPModelConfig(horizons=(30, 15), hidden=64),
          PTPTrainConfig(steps=400, batch_size=128, lr=1e-3, log_every=100))
    return out


@pytest.fixture(scope="session")
def squares8_hdf5(tmp_path_factory):
    """8 demos x 10 frames of 48x48 coloured squares (for latent-space bundles)."""
    from subgoal.planning.toy_tasks import write_square_images

    return write_square_images(tmp_path_factory.mktemp("sq8") / "squares.hdf5", n_demos=8, length=10, seed=2)
