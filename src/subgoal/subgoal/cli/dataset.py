"""``subgoal dataset build|info|show``: rosbag2 sessions -> robomimic-layout HDF5, and a look at it."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    p = sub.add_parser("build", help="build an HDF5 dataset (robomimic layout) from session/bag directories",
                       description="Align every episode bag of the sessions to the action clock and write one "
                       "HDF5 file in robomimic layout. See docs/data.md for the alignment policy.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="SESSION_DIR", help="session or bag directories")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .hdf5 file")
    p.add_argument("--skip-bad", action="store_true", help="leave out unusable bags (listed) instead of failing")
    p.add_argument("--image-size", type=int, default=None, help="learning image size (default 48)")
    p.add_argument("--rate-hz", type=float, default=None, help="action clock rate (default 10)")
    p.add_argument("--namespace", default=None, help="robot namespace of the topics (default /arm; 'auto' to detect)")
    p.add_argument("--config", type=Path, default=None, help="YAML with DatasetConfig fields (topic -> key mapping ...)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p = sub.add_parser("info", help="summary of a dataset: demos, samples, keys, shapes, hash")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("show", help="plots of actions / ee_pos per demo and a contact sheet of frames")
    p.add_argument("file", type=Path)
    p.add_argument("-o", "--out-dir", type=Path, required=True)
    p.add_argument("--max-demos", type=int, default=12)


    p = sub.add_parser("collect", help="scripted-expert demos straight from the sim (no ROS, fast) into an HDF5 "
                                       "with the same keys and units as `build`")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--task", default="reach")
    p.add_argument("--robot", default="panda")
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--p", type=float, default=0.3, help="expert suboptimality (IRIS 3.4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--images", action="store_true",
                   help="also record the learning camera (obs/image) and the goal image (obs/goal_image), uint8")


def run(args: argparse.Namespace) -> int:
    return {"build": _build, "info": _info, "show": _show, "collect": _collect}[args.dataset_command](args)


def _collect(args: argparse.Namespace) -> int:
    from subgoal.train.sim_eval import collect_expert_hdf5

    if args.output.exists() and not args.force:
        print(f"subgoal dataset collect: {args.output} exists (use --force to overwrite)", file=sys.stderr)
        return 1
    try:
        collect_expert_hdf5(args.output, task=args.task, robot=args.robot, episodes=args.episodes, p=args.p,
                            seed=args.seed, images=args.images)
    except ValueError as exc:
        print(f"subgoal dataset collect: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: {args.episodes} {args.task} demos (expert p={args.p})")
    return 0


def _build(args: argparse.Namespace) -> int:
    import dataclasses

    from subgoal.data.dataset_builder import DatasetBuildError, build_dataset
    from subgoal.data.dataset_config import DatasetConfig

    try:
        cfg = DatasetConfig.from_yaml(args.config) if args.config else DatasetConfig()
        changes = {}
        if args.image_size is not None:
            changes["image_size"] = args.image_size
        if args.rate_hz is not None:
            changes["rate_hz"] = args.rate_hz
        if args.namespace is not None:
            changes["namespace"] = None if args.namespace == "auto" else args.namespace
        cfg = dataclasses.replace(cfg, **changes)
        report = build_dataset(args.inputs, args.output, cfg, skip_bad=args.skip_bad, overwrite=args.force)
    except (DatasetBuildError, FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"subgoal dataset build: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {report.output}: {len(report.demos)} demos, {report.total} samples, sha256 {report.sha256}")
    for bag, reason in report.skipped:
        print(f"  skipped {bag}: {reason}")
    if report.dropped_keys:
        print(f"  left out obs keys not present in every demo: {report.dropped_keys}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from subgoal.data.hdf5 import DatasetError, load_dataset

    try:
        ds = load_dataset(args.file, on_bad="skip")
    except DatasetError as exc:
        print(f"subgoal dataset info: {exc}", file=sys.stderr)
        return 1
    d0 = ds.demos[0] if ds.demos else None
    info = {
        "file": str(ds.path),
        "demos": len(ds.demos),
        "samples": ds.total,
        "samples_per_demo": {"min": min((d.num_samples for d in ds.demos), default=0),
                             "max": max((d.num_samples for d in ds.demos), default=0)},
        "successes": sum(bool(d.rewards.any()) for d in ds.demos),
        "obs": {k: [list(v.shape[1:]), str(v.dtype)] for k, v in sorted(d0.obs.items())} if d0 else {},
        "actions": [list(d0.actions.shape[1:]), str(d0.actions.dtype)] if d0 else [],
        "action_low": ds.action_low.tolist() if ds.action_low is not None else None,
        "action_high": ds.action_high.tolist() if ds.action_high is not None else None,
        "env_args": ds.env_args,
        "sha256": ds.sha256,
        "skipped": ds.skipped,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"file:     {info['file']}")
    print(f"demos:    {info['demos']}  samples: {info['samples']}  "
          f"(per demo {info['samples_per_demo']['min']}..{info['samples_per_demo']['max']}), successes: {info['successes']}")
    print(f"env:      {ds.env_args.get('env_name', '')}")
    print("obs:")
    for k, (shape, dtype) in info["obs"].items():
        print(f"  {k:<16} {tuple(shape)} {dtype}")
    print(f"actions:  {tuple(info['actions'][0]) if info['actions'] else ()} range {info['action_low']}..{info['action_high']}")
    print(f"sha256:   {ds.sha256 or '(none: made elsewhere)'} (verified)" if ds.sha256 and not ds.skipped else f"sha256:   {ds.sha256}")
    for name, why in ds.skipped:
        print(f"  bad demo {name}: {why}")
    return 0 if not ds.skipped else 3


def _show(args: argparse.Namespace) -> int:
    from subgoal.data.dataset_plots import contact_sheet, plot_demo
    from subgoal.data.hdf5 import DatasetError, load_dataset

    try:
        ds = load_dataset(args.file, on_bad="skip", verify_hash=False)
    except DatasetError as exc:
        print(f"subgoal dataset show: {exc}", file=sys.stderr)
        return 1
    if not ds.demos:
        print("subgoal dataset show: no usable demos", file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rate = float(ds.env_args.get("env_kwargs", {}).get("rate_hz", 10.0))
    written = [plot_demo(d, args.out_dir / f"{d.name}.png", rate) for d in ds.demos[: args.max_demos]]
    if "image" in ds.demos[0].obs:
        written.append(contact_sheet(ds, args.out_dir / "contact_sheet.png", max_demos=args.max_demos))
    for p in written:
        print(p)
    return 0
