"""PolicyLoop: says why it sends nothing (no goal, missing/stale obs, NaN output) and counts it."""
from __future__ import annotations

import numpy as np
import pytest

from subgoal.runtime.policy import PolicyCore
from subgoal.runtime.policy_loop import PolicyLoop, PolicyLoopConfig

from subgoal.bundle.synthetic import policy_bundle


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    return PolicyLoop(PolicyCore(policy_bundle(tmp_path_factory.mktemp("b") / "p")), PolicyLoopConfig(rate_hz=10))


def test_reasons_then_command(loop):
    assert loop.step(0.0).reason == "no_goal"
    loop.on_goal(np.array([0.5, 0.1, 0.2]))
    assert loop.step(0.0).reason == "missing:ee_pos"
    loop.on_obs({"ee_pos": np.array([0.5, 0.0, 0.3]), "ee_quat": np.array([1.0, 0, 0, 0])}, 0.0, 0.0)
    loop.on_obs({"gripper_width": np.array([0.04])}, 0.0, -0.05)
    st = loop.step(0.05)
    assert st.reason == "ok" and st.source_stamp_s == 0.0
    assert np.all(np.abs(st.command.target_pos - [0.5, 0.0, 0.3]) <= 0.01 + 1e-6)
    assert loop.step(0.5).reason == "stale:ee_pos"
    assert loop.counts["ok"] == 1 and loop.counts["stale:ee_pos"] == 1


def test_target_is_commanded_equilibrium_plus_delta(loop):
    loop.on_goal(np.array([0.5, 0.1, 0.2]))
    loop.on_obs({"ee_pos": np.array([0.5, 0.0, 0.3]), "gripper_width": np.array([0.04])}, 2.0, 2.0)
    loop.on_reference(np.array([0.52, 0.0, 0.3]), 2.0)
    st = loop.step(2.01)
    assert np.allclose(st.command.target_pos, np.array([0.52, 0.0, 0.3]) + st.command.delta_pos, atol=1e-6)
    assert loop.step(3.0).reason == "stale:ee_pos"
    loop.on_obs({"ee_pos": np.array([0.5, 0.3, 0.3]), "gripper_width": np.array([0.04])}, 3.0, 3.0)  # arm moved away
    loop.on_reference(np.array([0.52, 0.0, 0.3]), 3.0)
    st = loop.step(3.01)
    assert np.allclose(st.command.target_pos, np.array([0.5, 0.3, 0.3]) + st.command.delta_pos, atol=1e-6)


def test_nan_output_is_never_sent(tmp_path):
    lp = PolicyLoop(PolicyCore(policy_bundle(tmp_path / "nan", poison=True)))
    lp.on_goal(np.zeros(3))
    lp.on_obs({"ee_pos": np.array([0.5, 0.0, 0.3]), "gripper_width": np.array([0.04])}, 0.0, 0.0)
    st = lp.step(0.01)
    assert st.command is None and st.reason == "output_nonfinite"


def test_wrong_goal_size_is_an_input_error(loop):
    loop.on_goal(np.zeros(5))
    loop.on_obs({"ee_pos": np.array([0.5, 0.0, 0.3]), "gripper_width": np.array([0.04])}, 1.0, 1.0)
    assert loop.step(1.0).reason == "input_error"


def test_deltas_chain_from_own_target_not_a_lagging_reference(loop):
    """The controller's published equilibrium trails the last target (step limit, one hop): chaining
    from it would drop part of every delta. The second target starts where the first one ended."""
    loop.forget_episode()
    loop.on_goal(np.array([0.5, 0.1, 0.2]))
    loop.on_obs({"ee_pos": np.array([0.5, 0.0, 0.3]), "gripper_width": np.array([0.04])}, 5.0, 5.0)
    loop.on_reference(np.array([0.5, 0.0, 0.3]), 5.0)
    first = loop.step(5.01).command
    loop.on_obs({"ee_pos": np.array([0.5, 0.0, 0.3]), "gripper_width": np.array([0.04])}, 5.1, 5.1)
    loop.on_reference(np.array([0.5, 0.0, 0.3]), 5.1)  # the controller has not caught up yet
    second = loop.step(5.11).command
    assert np.allclose(second.target_pos, first.target_pos + second.delta_pos, atol=1e-6)
    assert not np.allclose(second.target_pos, np.array([0.5, 0.0, 0.3]) + second.delta_pos, atol=1e-4)


def test_target_stays_on_a_leash_around_the_measured_ee(tmp_path):
    """An arm blocked by a wall while the policy keeps pushing: the target never winds up past the leash."""
    lp = PolicyLoop(PolicyCore(policy_bundle(tmp_path / "p")), PolicyLoopConfig(rate_hz=10, leash=0.012))
    lp.on_goal(np.array([0.9, 0.0, 0.3]))  # far away: every step pushes the same way
    ee = np.array([0.5, 0.0, 0.3])
    for i in range(20):
        t = 0.1 * i
        lp.on_obs({"ee_pos": ee, "gripper_width": np.array([0.04])}, t, t)
        st = lp.step(t + 0.01)
        assert st.reason == "ok" and np.linalg.norm(st.command.target_pos - ee) <= 0.012 + 1e-6
    assert lp.counts["target_leashed"] > 0
