"""The in-process stack replica: the config's cores at their rates, fixed latency, seeded sim.

It must reproduce the stack's behaviour where the direct evaluation does (reach: the shipped IQL
succeeds), and its ablation switch must be wired to the policy loop (the drawer finding)."""
from __future__ import annotations

import pytest

from subgoal.evaluation.stack_replica import ReplicaConfig, evaluate, main


def test_reach_stack_succeeds_with_one_period_of_latency():
    cfg = ReplicaConfig.from_bringup("config/sim.yaml", latency_periods=1, seconds=5.0)
    res = evaluate(cfg, "reach", episodes=2, seed=10_000)
    assert res["successes"] == 2, res["per_episode"]
    ep = res["per_episode"][0]
    assert ep["policy_counts"]["ok"] > 0 and ep["time_to_success_s"] < 5.0


def test_reference_switch_reaches_the_policy_loop(tmp_path):
    """Same seed, same latency: chaining from the lagging controller equilibrium gives a different run."""
    runs = {}
    for ref in ("own_target", "controller"):
        cfg = ReplicaConfig.from_bringup("config/sim.yaml", latency_periods=2, reference=ref, seconds=1.0)
        runs[ref] = evaluate(cfg, "reach", episodes=1, seed=10_003)["per_episode"][0]
    assert runs["own_target"]["policy_counts"] != runs["controller"]["policy_counts"] or \
        runs["own_target"]["time_to_success_s"] != runs["controller"]["time_to_success_s"]


def test_config_without_a_policy_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("namespace: arm\nnodes:\n  sim:\n    package: subgoal_ros\n    executable: sim\n")
    with pytest.raises(ValueError, match="policy"):
        ReplicaConfig.from_bringup(bad)


def test_cli_writes_results(tmp_path, capsys):
    assert main(["--config", "config/sim.yaml", "--episodes", "1", "--seed", "10000", "--seconds", "3",
                 "--out", str(tmp_path)]) == 0
    assert "1/1" in capsys.readouterr().out and (tmp_path / "results.json").is_file()
