"""`make demo` in a reduced mode (2 + 1 + 1 episodes) — what a new user runs first — and its bad-input paths."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from subgoal.evaluation.stack_cards import DEFAULT_CARDS, load_cards

ROOT = Path(__file__).resolve().parents[2]


def _demo(tmp_path: Path, **env) -> subprocess.CompletedProcess:
    e = {**os.environ, "DEMO_EPISODES": "2", "DEMO_DRAWER_EPISODES": "1", "DEMO_INSERT_EPISODES": "1",
         "DEMO_OUT": str(tmp_path / "demo"), **env}
    return subprocess.run(["bash", str(ROOT / "scripts/demo.sh")], cwd=ROOT, env=e, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.skipif(not (ROOT / "models/reach_iql/model.json").exists(), reason="shipped bundle missing")
def test_demo_runs_and_writes_a_report(tmp_path, ros_domain_id):
    r = _demo(tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    summary = json.loads((tmp_path / "demo/summary.json").read_text())
    assert summary["episodes"] == 4 and set(summary["parts"]) == {"reach", "drawer_hierarchical", "insert_residual"}
    assert summary["parts"]["reach"]["episodes"] == 2 and summary["parts"]["drawer_hierarchical"]["episodes"] == 1
    assert "reach/index.html" in (tmp_path / "demo/index.html").read_text()
    reach = tmp_path / "demo/reach"
    assert (reach / "index.md").exists() and (reach / "video.mp4").stat().st_size > 0
    assert "<video" in (reach / "index.html").read_text()
    trace = np.load(reach / "trace_0.npz")  # the EE followed what it was commanded
    assert len(trace["ee"]) > 50 and len(trace["equilibrium_pose"]) > 5 and trace["goal"].shape == (3,)
    assert (reach / "trace_0.png").stat().st_size > 0
    # the hierarchical part: the planner's subgoals reached the policy (8-d plan state) over DDS
    drawer = np.load(tmp_path / "demo/drawer_hierarchical/trace_0.npz")
    assert drawer["subgoal"].shape[1] == 8 and len(drawer["subgoal"]) > 5
    assert "make demo: reach" in r.stdout
    # part 3: the controller followed the believed hole goal (goal_target) with the learned residual loaded
    insert = tmp_path / "demo/insert_residual"
    assert summary["parts"]["insert_residual"]["episodes"] == 1
    assert len(np.load(insert / "trace_0.npz")["equilibrium_pose"]) > 5
    assert "from models/insert_residual_sac" in (insert / "nodes.log").read_text()
    for part in ("reach", "drawer_hierarchical", "insert_residual"):  # one node per name (runner's service node)
        assert "Publisher already registered" not in (tmp_path / "demo" / part / "nodes.log").read_text(), part
    card = load_cards(DEFAULT_CARDS)["config/demo_drawer.yaml"]
    assert summary["parts"]["drawer_hierarchical"]["card"]["success_rate"] == card.success_rate  # its stack card


def test_missing_bundle_tells_the_command_that_creates_it(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text((ROOT / "config/demo.yaml").read_text().replace("models/reach_iql", str(tmp_path / "gone")))
    r = _demo(tmp_path, DEMO_CONFIG=str(cfg))
    assert r.returncode == 1 and "make pipeline" in r.stderr and "gone" in r.stderr


@pytest.mark.skipif(not (ROOT / "models/reach_iql/model.json").exists(), reason="shipped bundle missing")
def test_ctrl_c_mid_demo_leaves_a_partial_report_and_no_orphans(tmp_path, ros_domain_id):
    """Ctrl-C in a terminal sends SIGINT to the foreground process group: the demo stops, every node
    process is gone, and the report holds the episodes finished so far."""
    import signal
    import time

    out = tmp_path / "demo"
    e = {**os.environ, "DEMO_EPISODES": "30", "DEMO_OUT": str(out)}
    proc = subprocess.Popen(["bash", str(ROOT / "scripts/demo.sh")], cwd=ROOT, env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            eps = out / "reach" / "episodes.jsonl"
            if eps.exists() and len(eps.read_text().splitlines()) >= 1:
                break
            time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        os.killpg(proc.pid, signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stdout[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert 1 <= summary["episodes"] < 30 and "drawer_hierarchical" not in summary["parts"]
    assert (out / "index.md").exists() and (out / "index.html").exists()
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", str(out / "run")], capture_output=True, text=True).stdout.split()
    assert not left, f"orphan node processes: {left}"
