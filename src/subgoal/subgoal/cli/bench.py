"""``subgoal bench [NAME [ARGS…]]``: list or run the benchmarks in ``bench/`` (each prints JSON).

Benchmarks live in the repository (not in the installed package): they compare against peers and
need the workspace. Found from the current directory upwards, else beside this source checkout.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def bench_dir() -> Path | None:
    here = Path.cwd().resolve()
    for d in (here, *here.parents, *Path(__file__).resolve().parents):
        if (d / "bench").is_dir() and (d / "src" / "subgoal").is_dir():
            return d / "bench"
    return None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="benchmark (file name in bench/ without .py); omit to list them")
    p.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark (see its --help)")


def run(args: argparse.Namespace) -> int:
    d = bench_dir()
    if d is None:
        print("subgoal bench: no bench/ directory found (run it inside the subgoal repository)", file=sys.stderr)
        return 1
    names = sorted(p.stem for p in d.glob("*.py") if not p.name.startswith("_"))
    if not args.name:
        for n in names:
            doc = (d / f"{n}.py").read_text().split('"""')
            first = doc[1].strip().splitlines()[0] if len(doc) > 2 else ""
            print(f"{n:22s} {first}")
        return 0
    if args.name not in names:
        print(f"subgoal bench: unknown benchmark {args.name!r} (known: {', '.join(names)})", file=sys.stderr)
        return 1
    return subprocess.call([sys.executable, str(d / f"{args.name}.py"), *args.args])
