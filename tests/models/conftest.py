from __future__ import annotations

import pytest
import torch

from subgoal.planning.toy_tasks import write_square_images

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def squares_hdf5(tmp_path_factory):
    """6 demos x 6 frames of 48x48 coloured squares (robomimic layout, obs/image)."""
    return write_square_images(tmp_path_factory.mktemp("sq") / "squares.hdf5", n_demos=6, length=6, seed=1)
