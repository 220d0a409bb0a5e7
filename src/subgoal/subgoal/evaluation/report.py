"""Write an evaluation report a person opens: ``index.md`` with the success table, latency summary,
histogram PNG and a video (camera view beside the decoded subgoal preview, with a status line).

Input files (written by the ``eval_runner`` node, one line / array per episode):
``episodes.jsonl`` — {"episode", "seed", "success", "time_to_success_s", "duration_s"};
``latency.npz`` — arrays of per-stage latencies in ms (``policy_target``, ``equilibrium_pose``);
``frames_<i>.npz`` — ``camera`` (T,H,W,3) uint8 and optional ``subgoal`` (T,h,w,3).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Summary:
    episodes: int
    successes: int
    success_rate: float
    latency_ms: dict[str, dict[str, float]]

    def line(self) -> str:
        lat = self.latency_ms.get("equilibrium_pose") or self.latency_ms.get("policy_target") or {}
        p99 = f", pipeline latency p50 {lat['p50']:.1f} ms / p99 {lat['p99']:.1f} ms" if lat else ""
        return f"success {self.successes}/{self.episodes} ({100 * self.success_rate:.0f}%){p99}"


def load_episodes(out: Path) -> list[dict]:
    path = out / "episodes.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def latency_stats(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {}
    return {"n": int(v.size), "p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90)),
            "p99": float(np.percentile(v, 99)), "max": float(v.max())}


def _upscale(img: np.ndarray, height: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    return cv2.resize(img, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_NEAREST)


def compose_video(out: Path, episodes: list[dict], height: int = 240, fps: int = 10) -> Path | None:
    """Camera | subgoal preview side by side, a status bar with episode, time and success."""
    import cv2
    import imageio.v2 as imageio

    frames = []
    for ep in episodes:
        f = out / f"frames_{ep['episode']}.npz"
        if not f.exists():
            continue
        data = np.load(f)
        cam = data["camera"]
        sub = data["subgoal"] if "subgoal" in data.files and len(data["subgoal"]) else None
        for t, img in enumerate(cam):
            panel = [_upscale(img, height)]
            if sub is not None:
                panel.append(_upscale(sub[min(t, len(sub) - 1)], height))
            row = np.concatenate(panel, axis=1)
            bar = np.zeros((28, row.shape[1], 3), np.uint8)
            text = f"ep {ep['episode']} seed {ep['seed']}  t={t / fps:4.1f}s  {'SUCCESS' if ep['success'] else ''}"
            cv2.putText(bar, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
            frames.append(np.concatenate([row, bar], axis=0))
    if not frames:
        return None
    w = max(f.shape[1] for f in frames)
    w += w % 2
    frames = [np.pad(f, ((0, (-f.shape[0]) % 2), (0, w - f.shape[1]), (0, 0))) for f in frames]
    path = out / "video.mp4"
    imageio.mimsave(str(path), frames, fps=fps, macro_block_size=1)
    return path


def write_report(out: Path, title: str, config: dict | None = None) -> Summary:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    eps = load_episodes(out)
    lat = dict(np.load(out / "latency.npz")) if (out / "latency.npz").exists() else {}
    stats = {k: latency_stats(v) for k, v in lat.items() if len(v)}
    n, s = len(eps), sum(bool(e["success"]) for e in eps)
    summary = Summary(n, s, s / n if n else 0.0, {k: v for k, v in stats.items() if v})
    if lat:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        for k, v in lat.items():
            if len(v):
                ax.hist(np.asarray(v, float), bins=40, alpha=0.6, label=k)
        ax.set_xlabel("latency from camera/state stamp (ms)")
        ax.set_ylabel("messages")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "latency_hist.png", dpi=100)
        plt.close(fig)
    video = compose_video(out, eps)
    lines = [f"# {title}", "", f"**{summary.line()}**", "", "| episode | seed | success | time to success (s) | duration (s) |",
             "|---|---|---|---|---|"]
    for e in eps:
        tts = e.get("time_to_success_s")
        lines.append(f"| {e['episode']} | {e['seed']} | {'yes' if e['success'] else 'no'} | "
                     f"{'' if tts is None else f'{tts:.2f}'} | {e['duration_s']:.2f} |")
    if stats:
        lines += ["", "## Latency (ms, from the observation's header stamp)", "", "| stage | n | p50 | p90 | p99 | max |",
                  "|---|---|---|---|---|---|"]
        for k, v in stats.items():
            if v:
                lines.append(f"| {k} | {v['n']} | {v['p50']:.2f} | {v['p90']:.2f} | {v['p99']:.2f} | {v['max']:.2f} |")
        lines += ["", "![latency](latency_hist.png)"]
    if video:
        lines += ["", f"Video: [{video.name}]({video.name}) (camera view | subgoal preview)"]
    if config:
        lines += ["", "## Configuration", "", "```json", json.dumps(config, indent=2, default=str), "```"]
    (out / "index.md").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps({"episodes": n, "successes": s, "success_rate": summary.success_rate,
                                                  "latency_ms": summary.latency_ms}, indent=2))
    return summary
