"""``osfutures demo``: a realistic job on an embedded FakeCloud, watched by one thread.

A fleet of servers and volumes is created with ``_async`` twins (servers with
``_async_r``, as some builds are made to fail), each volume is attached to its server
and snapshotted through ``.next()`` chains, progress is shown live, and everything is
deleted again. The closing summary compares the status requests the cloud answered
with what per-operation polling (openstacksdk's ``wait_for_*``, a GET every 2 s per
operation) would have cost for the same operations.
"""

from __future__ import annotations

import argparse
import functools
import math
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any, TextIO

import osfutures

#: The interval openstacksdk's wait_for_server / wait_for_status poll at.
SDK_POLL_INTERVAL = 2.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo``."""
    parser = subparsers.add_parser(
        "demo", help="run a realistic job on an embedded FakeCloud and summarise it"
    )
    parser.add_argument("--servers", type=int, default=30, help="servers, each with a volume (30)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the cloud's draws (1)")
    parser.add_argument(
        "--failure-rate",
        type=float,
        default=0.2,
        help="chance that a server build ends in ERROR (0.2); _async_r retries it",
    )
    parser.add_argument("--quiet", action="store_true", help="print the summary only")
    parser.set_defaults(handler=demo_command)


@dataclass
class Tally:
    """What the job has done so far; the display reads it, the callbacks write it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    durations: list[float] = field(default_factory=list)

    def track(
        self, label: str, future: osfutures.OperationFuture[Any]
    ) -> osfutures.OperationFuture[Any]:
        """Count ``future`` (just started) under ``label`` once it is done, with its
        duration; return it."""
        started = time.monotonic()

        def finished(done: Future[Any]) -> None:
            with self.lock:
                self.durations.append(time.monotonic() - started)
                if done.cancelled() or done.exception() is not None:
                    self.failed[label] += 1
                else:
                    self.done[label] += 1
                    self.retries += max(0, len(future.attempts) - 1)

        future.add_done_callback(finished)
        return future

    def line(self, total: int, requests: int, width: int | None = None) -> str:
        """The progress line, in words when it fits ``width`` columns, else in short
        words, else cut: a line longer than the terminal wraps, and a ``\\r`` redraw
        then stacks its rows."""
        with self.lock:
            counts = {label: f"{self.done[label]}/{total * per}" for label, per in LABELS.items()}
            counts.update(
                {
                    "retried builds": str(self.retries),
                    "failed": str(sum(self.failed.values())),
                    "HTTP requests": str(requests),
                }
            )
        long = " | ".join(f"{label} {value}" for label, value in counts.items())
        if width is None or len(long) < width:
            return long
        short = " ".join(f"{SHORT[label]} {value}" for label, value in counts.items())
        return short if len(short) < width else short[: max(0, width - 2)] + "…"


#: What the display counts, and how many of each per server.
LABELS = {"servers": 1, "volumes": 1, "attached": 1, "snapshots": 1, "deleted": 3}
#: The display's words when the terminal is narrow.
SHORT = {
    "servers": "srv",
    "volumes": "vol",
    "attached": "att",
    "snapshots": "snap",
    "deleted": "del",
    "retried builds": "retry",
    "failed": "fail",
    "HTTP requests": "req",
}


def demo_command(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every operation ended as expected."""
    from ..testing import FakeCloud, Scenario, Timing

    if args.servers < 1:
        print("--servers: need at least 1", file=sys.stderr)
        return 2
    if not 0 <= args.failure_rate < 1:
        print("--failure-rate: need 0 <= rate < 1", file=sys.stderr)
        return 2
    scenario = Scenario(
        seed=args.seed,
        default=Timing(duration=(0.5, 1.5)),
        timings={
            "server.build": Timing(duration=(2.0, 6.0), error_rate=args.failure_rate),
            "volume.create": Timing(duration=(1.0, 3.0)),
            "snapshot.create": Timing(duration=(1.0, 2.0)),
        },
    )
    out = sys.stdout
    with FakeCloud(args.seed, scenario=scenario) as cloud:
        monitor = osfutures.Monitor()
        conn = osfutures.wrap(cloud.connect(), monitor=monitor)
        started = time.monotonic()
        tally = Tally()
        stop_display = _display(tally, args.servers, cloud, out, quiet=args.quiet)
        try:
            ok = _run_job(conn, args.servers, tally)
        finally:
            stop_display()
            monitor.shutdown(cancel_futures=True)
        wall = time.monotonic() - started
        _summary(out, tally, cloud.stats(), wall, args.servers)
    return 0 if ok else 1


def _run_job(conn: osfutures.AsyncConnection, count: int, tally: Tally) -> bool:
    flavor = next(iter(conn.compute.flavors()))
    image = next(iter(conn.image.images()))
    chains: list[tuple[Future[Any], Future[Any], Future[Any]]] = []
    for i in range(count):
        server = tally.track(
            "servers",
            conn.compute.create_server_async_r(
                name=f"web-{i}",
                flavor_id=flavor.id,
                image_id=image.id,
                networks="none",
                try_count=4,
                tout=60,
            ),
        )
        volume = tally.track(
            "volumes", conn.block_storage.create_volume_async(size=1, name=f"data-{i}")
        )
        attached = server.next(functools.partial(_attach, conn, tally, volume))
        snapshot = attached.next(functools.partial(_snapshot, conn, tally, f"nightly-{i}"))
        chains.append((server, volume, snapshot))
    wait([snapshot for *_, snapshot in chains])
    return _clean_up(conn, chains, tally)


# Each chained step is counted from the moment its call is made, inside the chain.


def _attach(
    conn: osfutures.AsyncConnection, tally: Tally, volume: osfutures.OperationFuture[Any], vm: Any
) -> Future[Any]:
    return volume.next(
        lambda vol: tally.track(
            "attached", conn.compute.create_volume_attachment_async(vm, volume=vol)
        )
    )


def _snapshot(conn: osfutures.AsyncConnection, tally: Tally, name: str, volume: Any) -> Future[Any]:
    return tally.track(
        "snapshots",
        conn.block_storage.create_snapshot_async(volume_id=volume.id, name=name, force=True),
    )


def _clean_up(
    conn: osfutures.AsyncConnection,
    chains: list[tuple[Future[Any], Future[Any], Future[Any]]],
    tally: Tally,
) -> bool:
    # Servers first: deleting one frees its volume; snapshots before their volumes.
    ok = all(f.exception() is None for chain in chains for f in chain)
    for stage in (0, 2, 1):
        deletions = [
            tally.track("deleted", _delete(conn, chain[stage].result()))
            for chain in chains
            if chain[stage].exception() is None
        ]
        wait(deletions)
        ok = ok and all(d.exception() is None for d in deletions)
    return ok


def _delete(conn: osfutures.AsyncConnection, resource: Any) -> osfutures.OperationFuture[Any]:
    calls: dict[str, Callable[[Any], osfutures.OperationFuture[Any]]] = {
        "server": conn.compute.delete_server_async,
        "volume": conn.block_storage.delete_volume_async,
        "snapshot": conn.block_storage.delete_snapshot_async,
    }
    return calls[resource.resource_key](resource)


def _display(
    tally: Tally, total: int, cloud: Any, out: TextIO, *, quiet: bool
) -> Callable[[], None]:
    """Show the tally every half second until the returned function is called."""
    stop = threading.Event()
    live = out.isatty()

    def show() -> None:
        while not stop.wait(0.5 if live else 3.0):
            # Asked at every redraw: the terminal may have been resized.
            width = shutil.get_terminal_size().columns if live else None
            line = tally.line(total, cloud.stats()["total_requests"], width)
            out.write(f"\r{line}\033[K" if live else f"{line}\n")
            out.flush()

    thread = threading.Thread(target=show, name="osfutures-demo-display", daemon=True)
    if not quiet:
        thread.start()

    def finish() -> None:
        stop.set()
        if thread.is_alive():
            thread.join()
            out.write("\n" if live else "")

    return finish


def _summary(out: TextIO, tally: Tally, stats: dict[str, Any], wall: float, total: int) -> None:
    gets = stats["by_method"].get("GET", 0)
    # What openstacksdk's wait_for_* would have made: one GET at once, then one every
    # 2 s, per operation, for as long as each operation took here.
    per_operation = sum(1 + math.floor(d / SDK_POLL_INTERVAL) for d in tally.durations)
    operations = len(tally.durations)
    ratio = per_operation / gets if gets else math.inf
    out.write(
        "\n".join(
            [
                "",
                f"osfutures demo: {total} servers and {total} volumes, attached, snapshotted,"
                " deleted",
                f"  operations          {operations} ({sum(tally.failed.values())} failed,"
                f" {tally.retries} server builds retried after cleanup)",
                f"  wall time           {wall:.1f} s, watched by 1 monitor thread",
                f"  HTTP requests       {stats['total_requests']} in all,"
                f" {gets} GET (state polling, listing, discovery)",
                f"  requests saved      {max(0, per_operation - gets)} (polling each operation:"
                f" about {per_operation} GETs, {ratio:.0f}x as many)",
                "",
            ]
        )
    )
    out.flush()
