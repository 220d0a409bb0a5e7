"""SimLoop pacing: sim time follows the wall clock, falls behind (never jumps) when the host is slow."""
from __future__ import annotations

import pytest

from subgoal.runtime.sim_loop import SimLoop, SimLoopConfig


@pytest.fixture(scope="module")
def loop():
    lp = SimLoop(SimLoopConfig(task="reach", camera_rate_hz=10.0, lowpoly=True))
    yield lp
    lp.close()


def test_sim_time_tracks_a_virtual_wall_clock(loop):
    loop.reset(seed=1)
    wall, images = 1000.0, 0
    for _ in range(100):  # 1 s of wall time in 10 ms ticks
        wall += 0.01
        out = loop.step(wall)
        images += out.image is not None
    assert loop.sim.time == pytest.approx(1.0, abs=0.011)
    assert loop.real_time_factor(wall) == pytest.approx(1.0, abs=0.02)
    assert 9 <= images <= 11  # 10 Hz camera


def test_slow_host_makes_sim_fall_behind_not_jump(loop):
    loop.reset(seed=2)
    loop.step(0.0)
    loop.step(1.0)  # a whole second passed between two ticks
    assert loop.sim.time == pytest.approx(loop.config.max_catchup_s, abs=0.003)
    loop.step(1.01)  # afterwards it keeps pace with the wall clock again, from where it is
    assert loop.sim.time == pytest.approx(loop.config.max_catchup_s + 0.01, abs=0.003)


def test_bad_config_names_the_value():
    with pytest.raises(ValueError, match="state_rate_hz"):
        SimLoopConfig(state_rate_hz=0)


def test_people_view_at_its_own_rate_and_size():
    lp = SimLoop(SimLoopConfig(task="reach", camera_rate_hz=0.0, lowpoly=True, view_rate_hz=5.0,
                               view_width=64, view_height=40))
    try:
        views = [lp.step(2000.0 + 0.01 * k).view for k in range(101)]
    finally:
        lp.close()
    got = [v for v in views if v is not None]
    assert 5 <= len(got) <= 6 and got[0].shape == (40, 64, 3) and got[0].std() > 1.0
    with pytest.raises(ValueError, match="view"):
        SimLoopConfig(view_rate_hz=-1)
