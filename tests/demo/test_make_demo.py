"""`make demo` in a reduced mode (2 episodes) — what a new user runs first — and its bad-input paths."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _demo(tmp_path: Path, **env) -> subprocess.CompletedProcess:
    e = {**os.environ, "DEMO_EPISODES": "2", "DEMO_OUT": str(tmp_path / "demo"), **env}
    return subprocess.run(["bash", str(ROOT / "scripts/demo.sh")], cwd=ROOT, env=e, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.skipif(not (ROOT / "models/reach_iql/model.json").exists(), reason="shipped bundle missing")
def test_demo_runs_and_writes_a_report(tmp_path, ros_domain_id):
    r = _demo(tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    summary = json.loads((tmp_path / "demo/summary.json").read_text())
    assert summary["episodes"] == 2
    assert (tmp_path / "demo/index.md").exists() and (tmp_path / "demo/video.mp4").stat().st_size > 0
    assert "subgoal eval: success" in r.stdout


def test_missing_bundle_tells_the_command_that_creates_it(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text((ROOT / "config/demo.yaml").read_text().replace("models/reach_iql", str(tmp_path / "gone")))
    r = _demo(tmp_path, DEMO_CONFIG=str(cfg))
    assert r.returncode == 1 and "make pipeline" in r.stderr and "gone" in r.stderr
