"""`make pipeline` (scripts/pipeline.sh) in a reduced mode: every stage of both parts runs, in order, with
tiny sizes, and the last lines compare each retrained bundle with the shipped card.

The tiny models are not expected to match the shipped numbers: the script exits 3 ("OUTSIDE") then, and
0 when within the margin; anything else is a broken stage."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pipeline_reduced_runs_every_stage(tmp_path, ros_domain_id):
    out = tmp_path / "pipe"
    left = out / "runs/reach_iql/checkpoint"  # an earlier run's checkpoint: a rerun must start over, not refuse
    left.mkdir(parents=True)
    for name in ("tensors.safetensors", "state.json"):
        (left / name).write_text("{}")
    env = {**os.environ, "PIPELINE_OUT": str(out), "PIPELINE_ROS_EPISODES": "1", "PIPELINE_EPISODES": "3",
           "PIPELINE_EVAL_EPISODES": "1", "PIPELINE_STEPS": "30", "PIPELINE_DRAWER_STEPS": "30",
           "PIPELINE_PTP_STEPS": "20", "PIPELINE_DIRECT_EPISODES": "2", "PIPELINE_RESIDUAL_STEPS": "600",
           "PIPELINE_RESIDUAL_CURVE_EPISODES": "2", "PIPELINE_DRAWER_SEEDS": "0 1"}
    r = subprocess.run(["bash", str(ROOT / "scripts/pipeline.sh")], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=900)
    log = r.stdout + r.stderr
    assert r.returncode in (0, 3), log[-4000:]
    times = next(line for line in r.stdout.splitlines() if line.startswith("pipeline stage times"))
    for stage in ("record", "build", "collect", "train", "eval", "drawer_collect", "drawer_iql", "drawer_ptp",
                  "drawer_select", "drawer_direct", "drawer_stack", "residual", "insert_stack"):
        assert f" {stage}=" in times or times.split(": ")[1].startswith(f"{stage}="), (stage, times)
    assert "reach_iql: direct" in r.stdout and "drawer_iql + drawer_ptp: direct" in r.stdout
    assert "insert_residual_sac: direct" in r.stdout and "drawer seed selection" in r.stdout
    assert " total=" in times
    # one drawer policy per seed, the kept one chosen on validation seeds and copied with its record
    sel = json.loads((out / "models/drawer_iql/selection.json").read_text())
    assert [Path(c["policy"]).name for c in sel["candidates"]] == ["drawer_iql_s0", "drawer_iql_s1"]
    assert sel["validation_seeds"] == [30000, 30001] and sel["selected"] in {c["policy"] for c in sel["candidates"]}
    for bundle in ("reach_iql", "drawer_iql", "drawer_ptp", "insert_residual_sac"):
        card = json.loads((out / "models" / bundle / "model.json").read_text())
        assert card["training"], bundle  # the command that made it is in the card
    assert json.loads((out / "reports/drawer_stack/summary.json").read_text())["episodes"] == 1
    assert json.loads((out / "reports/insert_stack/summary.json").read_text())["episodes"] == 1
