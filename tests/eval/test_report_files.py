"""The report is written from whatever a killed run left whole (issue 9: Ctrl-C leaves a partial report)."""
from __future__ import annotations

import json

import numpy as np

from subgoal.evaluation.report import combine_reports, write_report
from subgoal.runtime.eval_runner import EvalRecorder, Trace


def test_recorder_writes_whole_files_and_report_survives_a_truncated_one(tmp_path):
    rec = EvalRecorder(tmp_path)
    rec.latency("equilibrium_pose", 3.0)
    tr = Trace(0.0, goal=np.array([0.5, 0.0, 0.2]))
    for k in range(20):
        tr.add("ee", 0.1 * k, np.array([0.5, 0.0, 0.2 + 0.01 * k]))
    frames = [np.zeros((8, 8, 3), np.uint8)] * 5
    rec.episode(0, 10001, True, 0.5, 1.0, frames, [], tr)
    rec.episode(1, 10002, False, None, 1.0, frames, [], tr)
    assert not list(tmp_path.glob("*.part"))
    # a hard kill mid-write of episode 1's frames: the file is cut short
    data = (tmp_path / "frames_1.npz").read_bytes()
    (tmp_path / "frames_1.npz").write_bytes(data[: len(data) // 3])
    summary = write_report(tmp_path, "t")
    assert summary.episodes == 2 and summary.successes == 1
    assert (tmp_path / "video.mp4").stat().st_size > 0 and (tmp_path / "trace_0.png").exists()
    total = combine_reports(tmp_path / "front", {"reach": tmp_path})
    assert total["episodes"] == 2 and json.loads((tmp_path / "front/summary.json").read_text())["successes"] == 1
