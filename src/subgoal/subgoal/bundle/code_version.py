"""The code a bundle was trained with: git commit + whether tracked sources differed from it.

Why: a model card's command reproduces a bundle only with the same code. Two trainings with the same command,
seed and dataset hash gave different weights on 2026-12-03: one ran while the shared working tree held an
uncommitted change of the batch sampling. The card now says which code ran (``training.code`` in model.json)
instead of leaving it to guesswork.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[4]  # src/subgoal/subgoal/bundle -> the repository root


def code_version(repo: str | Path = REPO) -> dict[str, Any]:
    """``{"commit": sha, "dirty": bool}`` (dirty = tracked files differ from the commit), or
    ``{"commit": None, "why": ...}`` outside a git checkout (e.g. an installed wheel)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
    try:
        sha = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError) as e:
        return {"commit": None, "why": f"no git checkout at {repo}: {type(e).__name__}"}
    return {"commit": sha, "dirty": dirty}
