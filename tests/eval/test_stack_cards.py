"""Stack cards: `make demo` compares each part with the full-stack success its config measured (issue 9)."""
from __future__ import annotations

import json

import pytest

from subgoal.evaluation.report import combine_reports
from subgoal.evaluation.stack_cards import DEFAULT_CARDS, compare, load_cards, wilson_interval


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(0, 3)
    assert lo == 0.0 and hi == pytest.approx(0.5615, abs=1e-3)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-3)
    lo, hi = wilson_interval(29, 50)
    assert lo < 0.58 < hi and hi - lo < 0.3
    with pytest.raises(ValueError):
        wilson_interval(4, 3)


def test_shipped_cards_cover_every_demo_config():
    cards = load_cards(DEFAULT_CARDS)
    for cfg in ("config/demo.yaml", "config/demo_drawer.yaml", "config/demo_insert.yaml"):
        assert cfg in cards, f"{cfg} has no stack card in {DEFAULT_CARDS}"
        assert cards[cfg].episodes >= 20 and "subgoal eval" in cards[cfg].command
    drawer = cards["config/demo_drawer.yaml"].direct  # what make pipeline compares its retrained pair with
    assert drawer is not None and 0 < drawer["success_rate"] < 1 and "sim_guided_eval" in drawer["command"]
    spread = [r["success_rate"] for r in drawer["recipe_spread"]["runs"]]  # make pipeline checks against it
    assert len(spread) >= 3 and min(spread) <= drawer["success_rate"] <= max(spread)


def _part(tmp_path, name, config, successes, episodes):
    d = tmp_path / name
    d.mkdir()
    (d / "summary.json").write_text(json.dumps({"episodes": episodes, "successes": successes,
                                                "success_rate": successes / episodes, "latency_ms": {}}))
    (d / "eval_config.json").write_text(json.dumps({"config": config}))
    return d


def test_front_page_flags_a_part_outside_its_card(tmp_path):
    cards = tmp_path / "cards.json"
    cards.write_text(json.dumps({"stacks": {
        "config/a.yaml": {"task": "reach", "success_rate": 1.0, "episodes": 50, "command": "subgoal eval ..."},
        "config/b.yaml": {"task": "drawer_object", "success_rate": 0.5, "episodes": 50, "command": "subgoal eval ..."}}}))
    parts = {"a": _part(tmp_path, "a", "config/a.yaml", 6, 10),   # 6/10 cannot come from a 100% stack
             "b": _part(tmp_path, "b", "./config/b.yaml", 1, 3),  # 1/3 is what a 50% stack gives
             "c": _part(tmp_path, "c", "config/none.yaml", 1, 1),
             "d": _part(tmp_path, "d", "config/a.yaml", 19, 20)}  # the card (50/50) is a sample too: >= 93%
    total = combine_reports(tmp_path / "front", parts, cards)
    assert total["parts"]["a"]["card"]["agrees"] is False
    assert total["parts"]["b"]["card"]["agrees"] is True
    assert "card" not in total["parts"]["c"]
    assert total["parts"]["d"]["card"]["agrees"] is True
    assert total["agrees_with_cards"] is False and "disagrees with its stack card (95% intervals apart): a" in total["line"]
    page = (tmp_path / "front/index.md").read_text()
    assert "below the card" in page and "no stack card" in page


def test_bad_card_is_a_clear_error(tmp_path):
    bad = tmp_path / "cards.json"
    bad.write_text(json.dumps({"stacks": {"config/a.yaml": {"task": "reach", "success_rate": 58, "episodes": 50,
                                                            "command": "x"}}}))
    with pytest.raises(ValueError, match="success_rate in \\[0, 1\\]"):
        load_cards(bad)
    assert compare("config/a.yaml", 1, 2, {}) is None
