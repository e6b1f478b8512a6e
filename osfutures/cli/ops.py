"""``osfutures ops``: the operations in a journal, from a shell.

``list`` and ``show`` read the journal (``--journal`` or ``OSFUTURES_JOURNAL``);
``wait`` and ``resume`` watch operations again from their continuation tokens, on a
connection to their cloud (``--os-cloud``, else the cloud each row names), with the
live display and exit codes of ``osfutures wait``; ``prune`` deletes old rows.

The pieces that are not about argparse (opening the journal, choosing rows, watching
them again, pruning) are public: the ``openstack operation ...`` commands of the
``openstack`` client plugin (:mod:`osfutures.cli.openstack_plugin`) are made of them.
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
from osfutures.journal import UNFINISHED, Journal, JournalError, OperationNotFound
from osfutures.journal.twins import ENVIRONMENT

#: ``--since 2h`` / ``--older-than 7d``: a number and a unit.
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: ``--state`` values: the outcomes, and ``unfinished`` for pending or running.
STATES = ("unfinished", "pending", "running", "succeeded", "failed", "timed_out", "cancelled")

#: What watches the operations of a row again: a connection to the row's cloud.
ConnectionFor = Callable[[dict[str, Any]], osfutures.AsyncConnection]


class UsageError(Exception):
    """A usage error: its message goes to stderr after the command's name, and the
    command ends with exit status 2."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ops",
        help="the operations in a journal: list, show, wait, resume, prune",
        description=(
            "The operations in a journal (--journal, else $OSFUTURES_JOURNAL). Exit codes:"
            " 0 done, 1 some failed, 2 usage error, 3 a deadline passed, 130 interrupted."
        ),
    )
    add_journal_option(parser)
    commands = parser.add_subparsers(dest="ops_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="operations, newest first")
    add_list_options(listing)
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
        add_watch_options(command)
        command.set_defaults(handler=_handled(_wait if name == "wait" else _resume))

    prune = commands.add_parser("prune", help="delete finished operations older than an age")
    add_prune_options(prune)
    prune.set_defaults(handler=_handled(_prune))


# -- the options, here and in the openstack client plugin -----------------------------------


def add_journal_option(parser: argparse.ArgumentParser) -> None:
    """``--journal PATH_OR_URL``, by default ``$OSFUTURES_JOURNAL``."""
    parser.add_argument(
        "--journal",
        default=os.environ.get(ENVIRONMENT),
        metavar="PATH_OR_URL",
        help=f"a SQLite file or a postgresql:// URL (default: ${ENVIRONMENT})",
    )


def add_list_options(parser: argparse.ArgumentParser) -> None:
    """``--state``, ``--since`` and ``--limit``: which operations a listing shows."""
    parser.add_argument("--state", choices=STATES, help="only those in this state")
    parser.add_argument(
        "--since", type=age, help="only those that changed in this past (90s, 15m, 2h, 7d)"
    )
    parser.add_argument("--limit", type=count, default=50, help="at most this many (50)")


def add_watch_options(parser: argparse.ArgumentParser) -> None:
    """``--timeout`` and ``--json`` of ``wait`` and ``resume``."""
    parser.add_argument("--timeout", type=float, help="seconds, instead of their deadlines")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def add_prune_options(parser: argparse.ArgumentParser) -> None:
    """``--older-than`` (required) and ``--unfinished-too`` of ``prune``."""
    parser.add_argument("--older-than", type=age, required=True, help="an age: 90s, 15m, 2h, 7d")
    parser.add_argument(
        "--unfinished-too",
        action="store_true",
        help="unfinished ones that old as well (only when you know they were abandoned)",
    )


def age(text: str) -> float:
    """An age (``90s``, ``15m``, ``2h``, ``7d``, or plain seconds) in seconds, for argparse."""
    found = _AGE.match(text)
    if found is None:
        raise argparse.ArgumentTypeError(f"need an age such as 90s, 15m, 2h or 7d, got {text!r}")
    return float(found.group(1)) * _UNIT[found.group(2)]


def count(text: str) -> int:
    """A whole number of at least 1, for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"need a whole number >= 1, got {text!r}")
    return value


def when(seconds: float | None) -> str:
    """A time of the journal (seconds since the epoch) as local ``YYYY-MM-DD HH:MM:SS``."""
    if seconds is None:
        return "-"
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


# -- what the commands do, here and in the openstack client plugin --------------------------


def with_journal(target: str | None, prog: str, action: Callable[[Journal], int]) -> int:
    """Open the journal ``target`` names, run ``action`` on it and return its exit code.

    No journal, one that cannot be opened or read, an unknown operation and a
    :class:`UsageError` are one line on stderr, after ``prog``, and exit status 2.
    """
    try:
        if not target:
            raise UsageError(f"no journal: give --journal or set {ENVIRONMENT}")
        journal = Journal.open(target, argument="--journal")
    except (UsageError, JournalError, OSError, ValueError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return USAGE
    with journal:
        try:
            return action(journal)
        except (UsageError, JournalError) as error:
            print(f"{prog}: {error}", file=sys.stderr)
            return USAGE


def select(
    journal: Journal,
    *,
    state: str | None,
    since: float | None,
    limit: int,
    cloud: str | None = None,
) -> list[dict[str, Any]]:
    """The rows a listing shows, newest first.

    Args:
        state: one of :data:`STATES`, or None for all.
        since: only those that changed in the last this many seconds.
        limit: at most this many.
        cloud: only those of this cloud (a clouds.yaml entry's name).
    """
    now = datetime.datetime.now(datetime.timezone.utc).timestamp()
    return journal.list(
        UNFINISHED if state == "unfinished" else state,
        since=None if since is None else now - since,
        limit=limit,
        cloud=cloud,
    )


def lookup(journal: Journal, op_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of these operations, in this order.

    Raises:
        UsageError: one is not in the journal (the message names it).
    """
    rows = []
    for op_id in op_ids:
        try:
            rows.append(journal.get(op_id))
        except OperationNotFound:
            raise UsageError(f"no operation {op_id} in this journal") from None
    return rows


def watch_again(
    rows: Sequence[dict[str, Any]],
    connection_for: ConnectionFor,
    *,
    timeout: float | None,
    as_json: bool,
    prog: str,
) -> int:
    """Resume each row's operation from its token, on ``connection_for(row)``, and
    report them as ``osfutures wait`` does; return the exit code (0 all succeeded,
    1 some failed, 2 one cannot be resumed, 3 a deadline passed, 130 interrupted)."""
    futures = []
    for row in rows:
        if not row.get("token"):
            print(f"{prog}: {row['op_id']} ({row['name']}) has no token to resume", file=sys.stderr)
            return USAGE
        try:
            futures.append(connection_for(row).resume(row["token"], timeout=timeout))
        except Exception as error:  # a cloud that cannot be reached, a token refused
            print(f"{prog}: {row['op_id']} ({row['name']}): {error}", file=sys.stderr)
            return USAGE
    return report(futures, as_json=as_json, prog=prog, label="operations")


def resume(
    journal: Journal,
    rows: Sequence[dict[str, Any]],
    connection_for: ConnectionFor,
    *,
    where: str,
    timeout: float | None,
    as_json: bool,
    prog: str,
) -> int:
    """Take over the unfinished ``rows`` with :func:`osfutures.resume`, on a
    connection to each one's cloud (``connection_for``): each operation is watched
    under its own row, where its outcome is written. Report them as ``osfutures
    wait`` does and return the exit code; a row that cannot be resumed is one line on
    stderr. With no rows, say so (``where``: which ones were looked for, ``"in this
    journal"``) and return 0."""
    if not rows:
        if as_json:
            print(json.dumps({"kind": "operations", "results": []}))
        else:
            print(f"{prog}: nothing unfinished {where}")
        return OK
    wanted = {row["op_id"]: row for row in rows}
    connections: dict[int, osfutures.AsyncConnection] = {}
    for row in rows:
        conn = connection_for(row)
        connections.setdefault(id(conn), conn)
    futures: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for conn in connections.values():
        resumed = osfutures.resume(conn, journal, timeout=timeout)
        futures.update((i, f) for i, f in resumed.futures.items() if i in wanted)
        skipped.update((i, why) for i, why in resumed.skipped.items() if i in wanted)
    for op_id, why in skipped.items():
        if op_id not in futures:
            print(f"{prog}: {op_id} ({wanted[op_id]['name']}) not resumed: {why}", file=sys.stderr)
    return report(list(futures.values()), as_json=as_json, prog=prog, label="operations")


def prune(journal: Journal, older_than: float, *, unfinished_too: bool) -> int:
    """Delete the finished operations (and unfinished ones, if told) that last
    changed more than ``older_than`` seconds ago; say how many, return 0."""
    removed = journal.prune(older_than, unfinished_too=unfinished_too)
    print(f"removed {removed} operation{'s' if removed != 1 else ''}")
    return OK


# -- osfutures ops ---------------------------------------------------------------------------


def _handled(
    action: Callable[[Journal, argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Run ``action`` on the journal of ``--journal``."""

    def handler(args: argparse.Namespace) -> int:
        prog = f"osfutures ops {args.ops_command}"
        return with_journal(args.journal, prog, lambda journal: action(journal, args))

    return handler


def _list(journal: Journal, args: argparse.Namespace) -> int:
    rows = select(journal, state=args.state, since=args.since, limit=args.limit)
    if args.json:
        json.dump(rows, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return OK
    for row in rows:
        status = row.get("status") or "-"
        updated = when(row["updated_at"])
        print(f"{row['op_id']}  {updated}  {row['outcome']:<9}  {status:<10}  {row['name']}")
    return OK


def _show(journal: Journal, args: argparse.Namespace) -> int:
    (row,) = lookup(journal, [args.op_id])
    json.dump(row, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return OK


def _connections(args: argparse.Namespace) -> ConnectionFor:
    """A connection per cloud: ``--os-cloud``'s, else the one each row names."""
    connections: dict[str | None, osfutures.AsyncConnection] = {}

    def connection_for(row: dict[str, Any]) -> osfutures.AsyncConnection:
        cloud = args.os_cloud or row.get("cloud")
        if cloud not in connections:
            connections[cloud] = osfutures.connect(cloud=cloud, journal=False)
        return connections[cloud]

    return connection_for


def _wait(journal: Journal, args: argparse.Namespace) -> int:
    return watch_again(
        lookup(journal, args.op_ids),
        _connections(args),
        timeout=args.timeout,
        as_json=args.json,
        prog="osfutures ops wait",
    )


def _resume(journal: Journal, args: argparse.Namespace) -> int:
    return resume(
        journal,
        journal.unfinished(),
        _connections(args),
        where="in this journal",
        timeout=args.timeout,
        as_json=args.json,
        prog="osfutures ops resume",
    )


def _prune(journal: Journal, args: argparse.Namespace) -> int:
    return prune(journal, args.older_than, unfinished_too=args.unfinished_too)
