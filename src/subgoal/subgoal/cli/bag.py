"""``subgoal bag info DIR`` / ``subgoal bag recover DIR``: inspect and repair rosbag2 MCAP episodes."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bag_command", metavar="ACTION", required=True)
    p = sub.add_parser("info", help="summarize a bag directory (read only)")
    p.add_argument("bag_dirs", nargs="+", type=Path, metavar="DIR", help="bag (episode) directories")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p = sub.add_parser(
        "recover",
        help="rebuild a readable MCAP + metadata.yaml from an interrupted recording",
        description="Stream the readable records of a truncated MCAP file (killed recorder, disk full) "
        "into a complete, indexed file and write metadata.yaml. A complete bag is left as it is.",
    )
    p.add_argument("bag_dirs", nargs="+", type=Path, metavar="DIR", help="bag (episode) directories")
    p.add_argument("--keep-original", action="store_true", help="keep the damaged file as *.mcap.orig")


def run(args: argparse.Namespace) -> int:
    if args.bag_command == "info":
        return _info(args)
    return _recover(args)


def _info(args: argparse.Namespace) -> int:
    from subgoal.data.bag_info import summarize_bag

    rc = 0
    for d in args.bag_dirs:
        try:
            s = summarize_bag(d)
        except (FileNotFoundError, RuntimeError) as exc:
            print(f"subgoal bag info: {exc}", file=sys.stderr)
            rc = 1
            continue
        if args.json:
            print(json.dumps({
                "bag_dir": str(s.bag_dir), "file": s.mcap_path.name, "size_bytes": s.size_bytes,
                "complete": s.complete, "starting_time_ns": s.starting_time_ns, "duration_ns": s.duration_ns,
                "message_count": s.message_count,
                "topics": {t.name: {"type": t.type, "count": t.message_count, "rate_hz": round(t.rate_hz, 3)} for t in s.topics},
                "custom_data": s.custom_data, "problem": s.problem,
            }))
        else:
            print(s.format())
        if not s.complete:
            rc = max(rc, 3)
    return rc


def _recover(args: argparse.Namespace) -> int:
    from subgoal.data.recover import RecoverError, recover

    rc = 0
    for d in args.bag_dirs:
        try:
            r = recover(d, keep_original=args.keep_original)
        except (FileNotFoundError, RecoverError) as exc:
            print(f"subgoal bag recover: {exc}", file=sys.stderr)
            rc = 1
            continue
        _update_session_index(Path(d), r)
        if r.was_complete and not r.rewritten:
            print(f"{d}: complete, {r.message_count} messages; nothing to do")
        else:
            print(
                f"{d}: recovered {r.message_count} messages over {r.duration_ns / 1e9:.2f} s "
                f"({r.bytes_lost} unreadable bytes dropped; stopped at: {r.stop_reason or 'end of file'})"
            )
    return rc


def _update_session_index(bag_dir: Path, result) -> None:
    """If the bag is an episode of a session, record the recovery in its session.json."""
    from subgoal.data.session import INDEX_FILE, Session

    if not result.rewritten or not (bag_dir.resolve().parent / INDEX_FILE).is_file():
        return
    Session(bag_dir.resolve().parent, create=False).mark_recovered(
        bag_dir.resolve().name, result.message_counts, result.duration_ns / 1e9
    )
