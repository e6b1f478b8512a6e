"""``osfutures wait KIND ID...``: wait for objects of a cloud, batched, from a shell.

One listing per poll for all the ids of a kind (where the kind can be listed), a live
progress display on a terminal (plain lines otherwise, or ``--json`` for scripts),
and exit codes a script can branch on: 0 every object reached its state, 1 some
failed, 2 a usage error, 3 a deadline passed, 130 interrupted (Ctrl-C stops waiting
at once and says what is still running; nothing in the cloud is touched).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

import osfutures

#: The command line's names of the kinds, and the library's.
KINDS = {
    "server": "server",
    "volume": "volume",
    "snapshot": "snapshot",
    "backup": "backup",
    "image": "image",
    "stack": "stack",
    "loadbalancer": "load_balancer",
    "share": "share",
}
#: Exit codes.
OK, FAILED, USAGE, TIMED_OUT, INTERRUPTED = 0, 1, 2, 3, 130


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "wait",
        help="wait for servers, volumes, images, stacks, ... to reach a state",
        description=(
            "Wait until every object reaches a state (or is gone), polling each kind with"
            " one listing for all its ids. Exit codes: 0 all reached it, 1 some failed,"
            " 2 usage error, 3 a deadline passed, 130 interrupted."
        ),
    )
    parser.add_argument("kind", choices=sorted(KINDS), help="what the ids are")
    add_wait_options(parser)
    parser.add_argument(
        "--os-cloud",
        default=os.environ.get("OS_CLOUD"),
        metavar="NAME",
        help="the clouds.yaml entry (default: $OS_CLOUD), as the openstack client names it",
    )
    parser.set_defaults(handler=wait_command)


def wait_command(args: argparse.Namespace) -> int:
    """Wait for ``args.ids``; return the exit code."""
    try:
        conn = osfutures.connect(cloud=args.os_cloud) if args.os_cloud else osfutures.connect()
    except Exception as error:  # openstacksdk's config errors name what is missing
        print(f"osfutures wait: cannot connect: {error}", file=sys.stderr)
        return USAGE
    return wait_for(conn, args, "osfutures wait")


def wait_for(conn: osfutures.AsyncConnection, args: argparse.Namespace, prog: str) -> int:
    """Wait for ``args.ids`` of ``args.kind`` on ``conn``, showing progress and the
    outcome as the options say; return the exit code (also the ``openstack`` client
    plugin's ``server wait`` and friends)."""
    futures = [
        conn.watch(
            KINDS[args.kind],
            resource_id,
            status=args.status,
            gone=args.gone,
            timeout=args.timeout,
            interval=args.interval,
        )
        for resource_id in dict.fromkeys(args.ids)
    ]
    return report(futures, as_json=args.json, prog=prog, label=args.kind)


def report(
    futures: Sequence[osfutures.OperationFuture[Any]], *, as_json: bool, prog: str, label: str
) -> int:
    """Show the futures' progress until they end, then their outcomes; return the
    exit code (0 all succeeded, 1 some failed, 3 a deadline passed, 130 Ctrl-C, which
    cancels the watching of what still runs and names it)."""
    display = _Display(sys.stdout, futures, quiet=as_json)
    started = display.started
    try:
        display.until_done()
    except KeyboardInterrupt:
        running = [f for f in futures if not f.done()]
        for future in running:
            future.cancel()  # stops the watching only
        display.close()
        names = ", ".join(f.resource_id or f.name for f in running)
        print(f"{prog}: interrupted; still running in the cloud: {names}", file=sys.stderr)
        return INTERRUPTED
    live = display.close()
    rows = [_row(f, display.ended.get(f, time.monotonic()) - started) for f in futures]
    if as_json:
        json.dump({"kind": label, "results": rows}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif live:  # the live table is gone: what stays on the screen is the outcome
        for row in rows:
            print(_line(row))
    outcomes = {row["outcome"] for row in rows}
    if outcomes <= {"succeeded"}:
        return OK
    return FAILED if "failed" in outcomes else TIMED_OUT


def add_wait_options(parser: argparse.ArgumentParser) -> None:
    """The options every wait takes (here and in the ``openstack`` plugin)."""
    parser.add_argument("ids", nargs="+", metavar="ID", help="the objects' ids")
    state = parser.add_mutually_exclusive_group()
    state.add_argument(
        "--status",
        action="append",
        help="a state that ends the wait (repeatable; default: the state its creation ends"
        " in, e.g. ACTIVE for a server)",
    )
    state.add_argument("--gone", action="store_true", help="wait until they are deleted")
    parser.add_argument(
        "--timeout", type=_seconds, default=3600.0, help="seconds before giving up (3600)"
    )
    parser.add_argument(
        "--interval", type=_seconds, help="seconds between polls (default: 1 growing to 10)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document at the end")


def _seconds(text: str) -> float:
    value = float(text)
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"need seconds > 0, got {text}")
    return value


def _row(future: osfutures.OperationFuture[Any], elapsed: float) -> dict[str, Any]:
    """What a script reads of one object's wait."""
    error = None if future.cancelled() else future.exception(timeout=0)
    row: dict[str, Any] = {
        "id": future.resource_id,
        "outcome": "timed_out" if isinstance(error, osfutures.OperationTimeout) else future.outcome,
        "status": future.status,
        "elapsed": round(elapsed, 1),
    }
    if error is not None:
        row["error"] = f"{type(error).__name__}: {error}"
    return row


def _line(row: dict[str, Any]) -> str:
    text = f"{row['id']}  {row['outcome']}  {row['status'] or '-'}"
    return f"{text}  {row['error']}" if "error" in row else text


class _Display:
    """Live progress on a terminal (a table, fitted to its width by rich), a line per
    object as it ends otherwise, nothing with ``--json``."""

    def __init__(
        self, out: TextIO, futures: Sequence[osfutures.OperationFuture[Any]], *, quiet: bool
    ) -> None:
        self.futures = futures
        self.out = out
        self.quiet = quiet
        self.started = time.monotonic()
        #: When each future was seen done.
        self.ended: dict[osfutures.OperationFuture[Any], float] = {}
        self.live: Live | None = None
        if not quiet and out.isatty():
            self.live = Live(
                self._table(), console=Console(file=out), auto_refresh=False, transient=True
            )
            self.live.start()

    def until_done(self) -> None:
        pending: set[Future[Any]] = set(self.futures)
        while pending:
            # Short waits, so that Ctrl-C is seen at once and the table stays current.
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            now = time.monotonic()
            for future in (f for f in self.futures if f in done):
                self.ended[future] = now
                if self.live is None and not self.quiet:
                    self.out.write(_line(_row(future, now - self.started)) + "\n")
                    self.out.flush()
            if self.live is not None:
                self.live.update(self._table(), refresh=True)

    def close(self) -> bool:
        """Stop the live display; True if there was one."""
        live, self.live = self.live, None
        if live is not None:
            live.stop()
        return live is not None

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for column in ("id", "status", "outcome"):
            table.add_column(column, overflow="ellipsis", no_wrap=True)
        for future in self.futures:
            table.add_row(future.resource_id or future.name, future.status or "-", future.outcome)
        done = sum(f.done() for f in self.futures)
        table.caption = f"{done} of {len(self.futures)} done"
        return table
