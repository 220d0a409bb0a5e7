"""Write an evaluation report a person opens: ``index.md`` with the success table, latency summary,
histogram PNG and a video (camera view beside the decoded subgoal preview, with a status line).

Input files (written by the ``eval_runner`` node, one line / array per episode):
``episodes.jsonl`` — {"episode", "seed", "success", "time_to_success_s", "duration_s"};
``latency.npz`` — arrays of per-stage latencies in ms (``policy_target``, ``equilibrium_pose``);
``frames_<i>.npz`` — ``camera`` (T,H,W,3) uint8 and optional ``subgoal`` (T,h,w,3);
``trace_<i>.npz`` — EE / commanded / target / subgoal positions over time (:class:`~subgoal.runtime.eval_runner.Trace`).

Outputs: ``index.md`` and ``index.html`` (the same content; the HTML embeds the video), ``summary.json``,
``latency_hist.png``, ``trace_<i>.png`` and ``video.mp4`` (camera | subgoal preview | live EE trace).
"""
from __future__ import annotations

import json
import zipfile
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


def _load_npz(path: Path):
    """An .npz the runner wrote, or None when it is missing or unreadable (a run killed hard mid-write):
    the report is still written from what is whole."""
    if not path.exists():
        return None
    try:
        data = np.load(path)
        data.files  # noqa: B018 - forces the zip directory to be read
        return data
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        import logging

        logging.getLogger(__name__).warning("skipping unreadable %s: %s", path.name, exc)
        return None


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


#: trace series drawn in the report, with their colours (BGR for cv2, matplotlib names for the PNG)
TRACE_STYLE = {"ee": ((255, 255, 255), "black", "end effector (ee_pose)"),
               "equilibrium_pose": ((0, 165, 255), "tab:orange", "commanded (equilibrium_pose)"),
               "policy_target": ((255, 160, 60), "tab:blue", "policy target"),
               "subgoal": ((255, 0, 255), "tab:purple", "subgoal (planner)"),
               "goal": ((0, 220, 0), "tab:green", "goal")}


def load_trace(out: Path, episode: int, goal_space_is_ee: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Series name -> (times, xyz). Subgoals and the goal are drawn against the EE only when the policy's
    goal space is the EE position (card ``achieved_key == "ee_pos"``); otherwise they are different
    quantities and plotting them on the same axes would mislead."""
    data = _load_npz(out / f"trace_{episode}.npz")
    if data is None:
        return {}
    series = {}
    for name in ("ee", "equilibrium_pose", "policy_target", "subgoal"):
        if name in data.files and (name != "subgoal" or goal_space_is_ee) and data[name].shape[-1] >= 3:
            series[name] = (data[f"t_{name}"], data[name][:, :3])
    if goal_space_is_ee and "goal" in data.files and data["goal"].size >= 3 and "ee" in series:
        t = series["ee"][0]
        series["goal"] = (np.array([0.0, float(t[-1]) if len(t) else 1.0]), np.repeat(data["goal"][None, :3], 2, 0))
    return series


def _trace_panel(series: dict[str, tuple[np.ndarray, np.ndarray]], t_now: float, t_end: float,
                 size: int) -> np.ndarray:
    """x, y, z strips (each auto-scaled over the whole episode) with every series drawn up to ``t_now``."""
    import cv2

    panel = np.zeros((size, size, 3), np.uint8)
    strip = size // 3
    for axis, label in enumerate("xyz"):
        y0 = axis * strip
        vals = np.concatenate([v[:, axis] for _, v in series.values()]) if series else np.zeros(1)
        lo, hi = float(vals.min()), float(vals.max())
        pad = max(0.01, 0.1 * (hi - lo))
        lo, hi = lo - pad, hi + pad
        cv2.putText(panel, f"{label} [{lo:+.2f},{hi:+.2f}] m", (4, y0 + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (160, 160, 160), 1, cv2.LINE_AA)
        cv2.line(panel, (0, y0 + strip - 1), (size, y0 + strip - 1), (60, 60, 60), 1)
        for name, (t, v) in series.items():
            keep = t <= t_now
            if name == "goal":
                keep = np.ones_like(keep)
            if keep.sum() < 1:
                continue
            xs = np.clip(t[keep] / max(t_end, 1e-6) * (size - 1), 0, size - 1)
            ys = y0 + strip - 2 - (v[keep, axis] - lo) / (hi - lo) * (strip - 16)
            pts = np.stack([xs, ys], 1).round().astype(np.int32)[:, None, :]
            cv2.polylines(panel, [pts], False, TRACE_STYLE[name][0], 1, cv2.LINE_AA)
    x_now = int(np.clip(t_now / max(t_end, 1e-6), 0, 1) * (size - 1))
    cv2.line(panel, (x_now, 0), (x_now, size), (90, 90, 90), 1)
    return panel


def trace_plot(out: Path, episode: dict, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path | None:
    """``trace_<i>.png``: x/y/z of the EE against what it was told (commanded, target, subgoal, goal)."""
    if not series:
        return None
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(7, 5.5), sharex=True)
    for axis, ax in enumerate(axes):
        for name, (t, v) in series.items():
            style = {"goal": "--", "subgoal": "-", "policy_target": ":"}.get(name, "-")
            draw = ax.step if name == "subgoal" else ax.plot
            draw(t, v[:, axis], style, color=TRACE_STYLE[name][1], label=TRACE_STYLE[name][2], lw=1.2)
        ax.set_ylabel(f"{'xyz'[axis]} (m)")
    axes[-1].set_xlabel("time since episode start (s)")
    axes[0].legend(fontsize=7, loc="best")
    axes[0].set_title(f"episode {episode['episode']} (seed {episode['seed']}): "
                      f"{'success' if episode['success'] else 'failure'}")
    fig.tight_layout()
    path = out / f"trace_{episode['episode']}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def compose_video(out: Path, episodes: list[dict], height: int = 240, fps: int = 10,
                  goal_space_is_ee: bool = False) -> Path | None:
    """Camera | subgoal preview | live EE trace side by side, a status bar with episode, time and success."""
    import cv2
    import imageio.v2 as imageio

    frames = []
    for ep in episodes:
        data = _load_npz(out / f"frames_{ep['episode']}.npz")
        if data is None:
            continue
        cam = data["camera"]
        sub = data["subgoal"] if "subgoal" in data.files and len(data["subgoal"]) else None
        series = load_trace(out, ep["episode"], goal_space_is_ee)
        t_end = max([float(t[-1]) for t, _ in series.values() if len(t)] + [len(cam) / fps])
        for t, img in enumerate(cam):
            panel = [_upscale(img, height)]
            if sub is not None:
                panel.append(_upscale(sub[min(t, len(sub) - 1)], height))
            if series:
                panel.append(_trace_panel(series, t / fps, t_end, height))
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


#: goal spaces whose first three numbers are the EE position: ``ee_pos`` (reach) and the drawer_object
#: plan state (EE, gripper, cube, opening; subgoal.planning.sim_guided_eval)
EE_FIRST_GOAL_KEYS = ("ee_pos", "plan_state")


def goal_space_is_ee(config: dict | None) -> bool:
    """True when the policy's goals are EE positions (its card's ``achieved_key``), so goal and subgoal
    can be drawn on the EE's axes."""
    for node in ((config or {}).get("nodes") or {}).values():
        bundle = (node.get("parameters") or {}).get("bundle") if node.get("executable") == "policy" else None
        if bundle and (Path(bundle) / "model.json").is_file():
            card = json.loads((Path(bundle) / "model.json").read_text())
            return (card.get("observation") or {}).get("achieved_key") in EE_FIRST_GOAL_KEYS
    return False


def write_report(out: Path, title: str, config: dict | None = None) -> Summary:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    eps = load_episodes(out)
    lat_file = _load_npz(out / "latency.npz")
    lat = dict(lat_file) if lat_file is not None else {}
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
    ee_goals = goal_space_is_ee(config)
    video = compose_video(out, eps, goal_space_is_ee=ee_goals)
    traces = [p for e in eps if (p := trace_plot(out, e, load_trace(out, e["episode"], ee_goals)))]
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
        lines += ["", f"Video: [{video.name}]({video.name}) (camera view | subgoal preview | EE trace: "
                  "white = end effector, orange = commanded, blue = policy target, purple = subgoal, green = goal)"]
    if traces:
        lines += ["", "## End-effector traces", ""] + [f"![{p.stem}]({p.name})" for p in traces[:3]]
        if len(traces) > 3:
            lines += ["", "More: " + ", ".join(f"[{p.stem}]({p.name})" for p in traces[3:])]
    if config:
        lines += ["", "## Configuration", "", "```json", json.dumps(config, indent=2, default=str), "```"]
    (out / "index.md").write_text("\n".join(lines) + "\n")
    (out / "index.html").write_text(markdown_to_html(lines, title))
    (out / "summary.json").write_text(json.dumps({"episodes": n, "successes": s, "success_rate": summary.success_rate,
                                                  "latency_ms": summary.latency_ms}, indent=2))
    return summary


def markdown_to_html(lines: list[str], title: str) -> str:
    """The report's Markdown as a standalone HTML page (tables, images, the video inline, code blocks) —
    a few rules for exactly what :func:`write_report` writes, so no Markdown library is needed."""
    import html
    import re

    body, in_code, in_table = [], False, False
    for line in lines:
        if line.startswith("```"):
            body.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
            continue
        if in_code:
            body.append(html.escape(line))
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= {"-"} for c in cells):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        esc = html.escape(line)
        esc = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", esc)
        esc = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", r'<img alt="\1" src="\2">', esc)
        esc = re.sub(r"\[([^\]]*)\]\(([^)]+\.mp4)\)", r'<video src="\2" controls width="100%"></video>', esc)
        esc = re.sub(r"\[([^\]]*)\]\(([^)]+)\)", r'<a href="\2">\1</a>', esc)
        if esc.startswith("## "):
            body.append(f"<h2>{esc[3:]}</h2>")
        elif esc.startswith("# "):
            body.append(f"<h1>{esc[2:]}</h1>")
        elif esc:
            body.append(f"<p>{esc}</p>")
    if in_table:
        body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px}img{max-width:100%}pre{background:#f4f4f4;padding:1em}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def combine_reports(out: Path, parts: dict[str, Path], cards_path: str | Path | None = None) -> dict:
    """One front page over several ``subgoal eval`` reports (``make demo``'s parts): a table with each
    part's success and latency linking to its own index, written as ``index.md`` / ``index.html`` and
    ``summary.json`` (totals + per part). A part that was interrupted shows what it finished.

    Each part whose config has a stack card (``models/stack_cards.json``, :mod:`subgoal.evaluation.stack_cards`)
    is compared with it: the card's full-stack success rate, this run's 95% Wilson interval, and whether the
    card lies inside it."""
    from subgoal.evaluation.stack_cards import DEFAULT_CARDS, compare, load_cards

    cards = load_cards(cards_path if cards_path is not None else DEFAULT_CARDS)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, summaries = [], {}
    for name, path in parts.items():
        path = Path(path)
        f = path / "summary.json"
        if not f.exists():
            continue
        s = summaries[name] = json.loads(f.read_text())
        lat = s.get("latency_ms", {}).get("equilibrium_pose", {})
        rel = path.resolve().relative_to(out.resolve()) if path.resolve().is_relative_to(out.resolve()) else path
        cfg = json.loads((path / "eval_config.json").read_text()) if (path / "eval_config.json").exists() else {}
        agreement = compare(cfg.get("config", ""), s["successes"], s["episodes"], cards)
        if agreement is not None:
            s["card"] = {"success_rate": agreement.card.success_rate, "episodes": agreement.card.episodes,
                         "interval95": [agreement.low, agreement.high], "agrees": agreement.agrees}
        card_cells = agreement.cell() if agreement is not None else "no stack card | | "
        rows.append(f"| [{name}]({rel}/index.html) | {cfg.get('config', '')} | {s['successes']}/{s['episodes']} "
                    f"({100 * s['success_rate']:.0f}%) | {card_cells} | "
                    f"{lat.get('p50', float('nan')):.1f} / {lat.get('p99', float('nan')):.1f} |")
    total = {"episodes": sum(s["episodes"] for s in summaries.values()),
             "successes": sum(s["successes"] for s in summaries.values()), "parts": summaries}
    line = ", ".join(f"{k} {s['successes']}/{s['episodes']}" for k, s in summaries.items()) or "no episode finished"
    carded = {k: s["card"] for k, s in summaries.items() if "card" in s}
    if carded:
        off = [k for k, c in carded.items() if not c["agrees"]]
        line += ("; every part agrees with its stack card (95% intervals overlap)" if not off
                 else "; disagrees with its stack card (95% intervals apart): " + ", ".join(off))
    total["agrees_with_cards"] = all(c["agrees"] for c in carded.values()) if carded else None
    lines = ["# subgoal demo: the full stack on the simulated Panda over ROS 2 (DDS)", "", f"**{line}**", "",
             "| part | config | success | stack card (full stack over DDS) | 95% interval of this run | vs card "
             "| camera/state → equilibrium_pose p50 / p99 (ms) |", "|---|---|---|---|---|---|---|", *rows,
             "", "Each part's page has the episode table, the latency histogram, end-effector traces and the video "
             "(camera | subgoal preview | live EE trace).",
             "", "Stack card: the success rate this config measured over many seeded episodes (models/stack_cards.json, "
             "with the command). A few demo episodes cannot pin a rate to ±10 points, so a part agrees with its card "
             "when this run's 95% Wilson interval overlaps the card's."]
    (out / "index.md").write_text("\n".join(lines) + "\n")
    (out / "index.html").write_text(markdown_to_html(lines, "subgoal demo"))
    (out / "summary.json").write_text(json.dumps(total, indent=2))
    total["line"] = line
    return total


def main(argv: list[str] | None = None) -> int:
    """``python -m subgoal.evaluation.report OUT NAME=DIR ...``: the combined front page of ``make demo``."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m subgoal.evaluation.report", description=main.__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("parts", nargs="*", help="NAME=REPORT_DIR of each subgoal eval report")
    ap.add_argument("--cards", type=Path, default=None, help="stack cards (default: models/stack_cards.json)")
    a = ap.parse_args(argv)
    parts = dict(p.split("=", 1) for p in a.parts)
    total = combine_reports(a.out, {k: Path(v) for k, v in parts.items()}, a.cards)
    print(f"make demo: {total['line']} — report: {a.out / 'index.html'}")
    return 0 if total["episodes"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
