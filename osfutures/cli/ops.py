"""``osfutures ops``: the operations in a journal, from a shell.

``list`` and ``show`` read the journal (``--journal`` or ``OSFUTURES_JOURNAL``);
``wait`` and ``resume`` watch operations again from their continuation tokens, on a
connection to their cloud (``--os-cloud``, else the cloud each row names), with the
live display and exit codes of ``osfutures wait``; ``prune`` deletes old rows.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import osfutures
from osfutures.cli.wait import OK, USAGE, report
from osfutures.journal import Journal, JournalError, OperationNotFound
from osfutures.journal.twins import ENVIRONMENT

#: ``--since 2h`` / ``--older-than 7d``: a number and a unit.
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: ``--state`` values: the outcomes, and ``unfinished`` for pending or running.
STATES = ("unfinished", "pending", "running", "succeeded", "failed", "timed_out", "cancelled")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ops",
        help="the operations in a journal: list, show, wait, resume, prune",
        description=(
            "The operations in a journal (--journal, else $OSFUTURES_JOURNAL). Exit codes:"
            " 0 done, 1 some failed, 2 usage error, 3 a deadline passed, 130 interrupted."
        ),
    )
    parser.add_argument(
        "--journal",
        default=os.environ.get(ENVIRONMENT),
        help="a SQLite file or a postgresql:// URL (default: $OSFUTURES_JOURNAL)",
    )
    commands = parser.add_subparsers(dest="ops_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="operations, newest first")
    listing.add_argument("--state", choices=STATES, help="only those in this state")
    listing.add_argument(
        "--since", type=_age, help="only those that changed in this past (90s, 15m, 2h, 7d)"
    )
    listing.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_handled(_list))

    show = commands.add_parser("show", help="one operation's record")
    show.add_argument("op_id", help="its id (from ops list)")
    show.set_defaults(handler=_handled(_show))

    for name, what in (("wait", "these operations"), ("resume", "every unfinished operation")):
        command = commands.add_parser(name, help=f"watch {what} again, until they end")
        if name == "wait":
            command.add_argument("op_ids", nargs="+", metavar="OP_ID")
        command.add_argument(
            "--os-cloud",
            default=os.environ.get("OS_CLOUD"),
            metavar="NAME",
            help="the clouds.yaml entry (default: $OS_CLOUD, else the cloud each row names)",
        )
        command.add_argument("--timeout", type=float, help="seconds, instead of their deadlines")
        command.add_argument("--json", action="store_true", help="print one JSON document")
        command.set_defaults(handler=_handled(_wait if name == "wait" else _resume))

    prune = commands.add_parser("prune", help="delete finished operations older than an age")
    prune.add_argument("--older-than", type=_age, required=True, help="an age: 90s, 15m, 2h, 7d")
    prune.add_argument(
        "--unfinished-too",
        action="store_true",
        help="unfinished ones that old as well (only when you know they were abandoned)",
    )
    prune.set_defaults(handler=_handled(_prune))


def _age(text: str) -> float:
    found = _AGE.match(text)
    if found is None:
        raise argparse.ArgumentTypeError(f"need an age such as 90s, 15m, 2h or 7d, got {text!r}")
    return float(found.group(1)) * _UNIT[found.group(2)]


def _handled(
    action: Callable[[Journal, argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Open the journal for ``action``; journal errors are one line and exit 2."""

    def handler(args: argparse.Namespace) -> int:
        prog = f"osfutures ops {args.ops_command}"
        if not args.journal:
            print(f"{prog}: no journal: give --journal or set {ENVIRONMENT}", file=sys.stderr)
            return USAGE
        try:
            with Journal.open(args.journal, argument="--journal") as journal:
                return action(journal, args)
        except (JournalError, OSError, ValueError) as error:
            print(f"{prog}: {error}", file=sys.stderr)
            return USAGE

    return handler


def _list(journal: Journal, args: argparse.Namespace) -> int:
    now = datetime.datetime.now(datetime.timezone.utc).timestamp()
    rows = (
        journal.unfinished()
        if args.state == "unfinished"
        else journal.list(args.state, since=None if args.since is None else now - args.since,
                          limit=args.limit)
    )  # fmt: skip
    if args.json:
        json.dump(rows, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return OK
    for row in rows:
        when = datetime.datetime.fromtimestamp(row["updated_at"]).strftime("%Y-%m-%d %H:%M:%S")
        status = row.get("status") or "-"
        print(f"{row['op_id']}  {when}  {row['outcome']:<9}  {status:<10}  {row['name']}")
    return OK


def _show(journal: Journal, args: argparse.Namespace) -> int:
    try:
        row = journal.get(args.op_id)
    except OperationNotFound:
        print(f"osfutures ops show: no operation {args.op_id} in this journal", file=sys.stderr)
        return USAGE
    json.dump(row, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return OK


def _wait(journal: Journal, args: argparse.Namespace) -> int:
    rows = []
    for op_id in args.op_ids:
        try:
            rows.append(journal.get(op_id))
        except OperationNotFound:
            print(f"osfutures ops wait: no operation {op_id} in this journal", file=sys.stderr)
            return USAGE
    return _watch_again(rows, args, "osfutures ops wait")


def _resume(journal: Journal, args: argparse.Namespace) -> int:
    rows = journal.unfinished()
    if not rows:
        print("osfutures ops resume: nothing unfinished in this journal")
        return OK
    return _watch_again(rows, args, "osfutures ops resume")


def _watch_again(rows: Sequence[dict[str, Any]], args: argparse.Namespace, prog: str) -> int:
    """Resume each row's operation from its token, on a connection to its cloud."""
    connections: dict[str | None, osfutures.AsyncConnection] = {}
    futures = []
    for row in rows:
        if not row.get("token"):
            print(f"{prog}: {row['op_id']} ({row['name']}) has no token to resume", file=sys.stderr)
            return USAGE
        cloud = args.os_cloud or row.get("cloud")
        try:
            conn = connections.get(cloud)
            if conn is None:
                conn = connections[cloud] = osfutures.connect(cloud=cloud, journal=False)
            futures.append(conn.resume(row["token"], timeout=args.timeout))
        except Exception as error:  # a cloud that cannot be reached, a token refused
            print(f"{prog}: {row['op_id']} ({row['name']}): {error}", file=sys.stderr)
            return USAGE
    return report(futures, as_json=args.json, prog=prog, label="operations")


def _prune(journal: Journal, args: argparse.Namespace) -> int:
    removed = journal.prune(args.older_than, unfinished_too=args.unfinished_too)
    print(f"removed {removed} operation{'s' if removed != 1 else ''}")
    return OK
