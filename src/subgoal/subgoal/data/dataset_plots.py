"""Pictures of a dataset for people: per-demo action / end-effector plots and a frame contact sheet."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from subgoal.data.hdf5 import Dataset


def plot_demo(demo, out_png: Path, rate_hz: float = 10.0) -> Path:
    """Actions (position deltas, gripper) and ee_pos over time for one demo."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(demo.num_samples) / rate_hz
    panels = [("actions", demo.actions)]
    if "ee_pos" in demo.obs:
        panels.append(("obs/ee_pos", demo.obs["ee_pos"]))
    panels.append(("rewards / dones", np.stack([demo.rewards, demo.dones], 1)))
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.4 * len(panels)), sharex=True)
    labels = {"actions": ["dx", "dy", "dz", "gripper"], "obs/ee_pos": ["x", "y", "z"], "rewards / dones": ["reward", "done"]}
    for ax, (name, arr) in zip(np.atleast_1d(axes), panels):
        arr = arr.reshape(len(t), -1)
        for j in range(arr.shape[1]):
            lab = labels.get(name, [])
            ax.plot(t, arr[:, j], label=lab[j] if j < len(lab) else f"{name}[{j}]", drawstyle="steps-post")
        ax.set_ylabel(name)
        ax.legend(loc="upper right", fontsize=7, ncol=4)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[-1].set_xlabel("time (s)")
    fig.suptitle(f"{demo.name}  ({demo.num_samples} samples, {demo.attrs.get('source_bag', '')})", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    return out_png


def contact_sheet(ds: Dataset, out_png: Path, key: str = "image", frames_per_demo: int = 8, max_demos: int = 12) -> Path:
    """A grid: one row per demo, evenly spaced frames from start to end, scaled up for viewing."""
    import cv2

    rows = []
    for demo in ds.demos[:max_demos]:
        imgs = demo.obs[key]
        idx = np.linspace(0, len(imgs) - 1, frames_per_demo).round().astype(int)
        tiles = []
        for i in idx:
            im = imgs[i]
            scale = max(1, 96 // im.shape[0])
            im = np.repeat(np.repeat(im, scale, 0), scale, 1)
            tiles.append(np.pad(im, ((2, 2), (2, 2), (0, 0)), constant_values=255))
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    sheet = np.concatenate(rows, axis=0)
    cv2.imwrite(str(out_png), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return out_png
