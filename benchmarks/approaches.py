"""The four ways of waiting on a batch of operations, over any mix of resource kinds.

Each approach runs one :class:`Stage` (create everything and wait until ready, or
delete everything and wait until gone) and tells a :class:`Recorder` when it learnt
each operation's outcome. The calls that start the work are the same for every
approach (one after another from the main thread); only the waiting differs. (a) and
(b) start waiting once everything is started, as such scripts are written; (c) and
(d) watch each operation from the moment it is started.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from typing import Any

import osfutures

from .spec import POOL_WORKERS
from .workload import Item, Options

Emit = Callable[[dict[str, Any]], None]


class Recorder:
    """Collects when each operation's outcome was learnt, and reports progress."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self._done = 0
        self._shown = 0.0

    def phase(self, name: str, total: int) -> None:
        """Announce a phase; outcomes count from zero at the start of each stage."""
        with self._lock:
            if name.endswith("starting"):
                self._done = 0
            done = self._done
        self._emit({"event": "phase", "phase": name, "total": total})
        if done:
            self._emit({"event": "progress", "done": done})

    def outcome(self, item: Item, stage: str, error: BaseException | None) -> None:
        """Note the outcome of ``item``'s ``stage`` now (``error`` None for success)."""
        record: dict[str, Any] = {
            "id": _resource_id(item),
            "kind": item.kind.name,
            "stage": stage,
            "ok": error is None,
            "error": None if error is None else f"{type(error).__name__}: {error}"[:300],
            "at": time.monotonic(),
            # For a real cloud, whose timestamps are wall clock times.
            "wall": time.time(),
        }
        with self._lock:
            self.records.append(record)
            self._done += 1
            done, now = self._done, record["at"]
            show = now - self._shown > 0.25
            if show:
                self._shown = now
        if show:
            self._emit({"event": "progress", "done": done})

    def count(self, stage: str) -> int:
        with self._lock:
            return sum(1 for record in self.records if record["stage"] == stage)

    def hung(self, item: Item, stage: str) -> None:
        with self._lock:
            self.records.append(
                {"id": _resource_id(item), "kind": item.kind.name, "stage": stage, "hung": True}
            )


def _resource_id(item: Item) -> str | None:
    return getattr(item.resource, "id", None)


@dataclass(frozen=True)
class Stage:
    """Half of a run: ``ready`` (create, wait until ready) or ``gone`` (delete, wait)."""

    name: str
    options: Options

    def start(self, conn: Any, item: Item) -> None:
        if self.name == "ready":
            item.resource = item.kind.start(conn, item.name, self.options)
        else:
            item.kind.remove(conn, item.resource)

    def start_async(self, conn: osfutures.AsyncConnection, item: Item) -> Future[Any]:
        if self.name == "ready":
            future = item.kind.start_async(conn, item.name, self.options)
            item.resource = future.sync_res
            return future  # type: ignore[no-any-return]
        return item.kind.remove_async(conn, item.resource)  # type: ignore[no-any-return]

    def wait(self, conn: Any, item: Item) -> BaseException | None:
        """Run the plain waiter; return what it raised."""
        try:
            if self.name == "ready":
                item.kind.wait_ready(conn, item.resource)
            else:
                item.kind.wait_gone(conn, item.resource)
        except Exception as error:
            return error
        return None


def _start_all(conn: Any, stage: Stage, items: Sequence[Item], rec: Recorder) -> list[Item]:
    rec.phase(f"{stage.name}: starting", len(items))
    started = []
    for item in items:
        if item.resource is None and stage.name == "gone":
            continue  # its creation was refused: nothing to delete
        stage.start(conn, item)
        started.append(item)
    return started


def serial(conn: Any, stage: Stage, items: Sequence[Item], rec: Recorder, _hang: float) -> None:
    """(a) Start everything, then each plain waiter in turn."""
    started = _start_all(conn, stage, items, rec)
    rec.phase(f"{stage.name}: waiting", len(started))
    for item in started:
        rec.outcome(item, stage.name, stage.wait(conn, item))


def pool(conn: Any, stage: Stage, items: Sequence[Item], rec: Recorder, hang: float) -> None:
    """(b) Start everything, then the plain waiters on a pool of 32 threads."""
    started = _start_all(conn, stage, items, rec)
    rec.phase(f"{stage.name}: waiting", len(started))

    def waiter(item: Item) -> None:
        rec.outcome(item, stage.name, stage.wait(conn, item))

    executor = ThreadPoolExecutor(POOL_WORKERS)
    futures = {executor.submit(waiter, item): item for item in started}
    _, pending = wait(futures, timeout=hang)
    for future in pending:
        rec.hung(futures[future], stage.name)
    executor.shutdown(wait=not pending, cancel_futures=True)


def twins(conn: Any, stage: Stage, items: Sequence[Item], rec: Recorder, hang: float) -> None:
    """(c) The osfutures twins, default settings; outcomes taken as futures resolve."""
    aconn = osfutures.wrap(conn)
    rec.phase(f"{stage.name}: starting", len(items))
    futures: dict[Future[Any], Item] = {}
    for item in items:
        if item.resource is None and stage.name == "gone":
            continue
        future = stage.start_async(aconn, item)
        futures[future] = item
        # The moment the future resolves, not the moment this thread looks at it.
        future.add_done_callback(
            lambda done, item=item: rec.outcome(item, stage.name, _taken(done, stage))
        )
    rec.phase(f"{stage.name}: waiting", len(futures))
    try:
        for _ in as_completed(futures, timeout=hang):
            pass
    except TimeoutError:
        for future, item in futures.items():
            if not future.done():
                rec.hung(item, stage.name)
                future.cancel()
    # Done callbacks run on osfutures' callback pool: let the last ones land.
    deadline = time.monotonic() + 5
    while rec.count(stage.name) < len(futures) and time.monotonic() < deadline:
        time.sleep(0.01)


def threads(conn: Any, stage: Stage, items: Sequence[Item], rec: Recorder, hang: float) -> None:
    """(d) One thread per operation, started with it, running the plain waiter (the
    same call as (a) and (b), openstacksdk's default interval): the latency reference."""
    rec.phase(f"{stage.name}: starting", len(items))
    waiters: dict[threading.Thread, Item] = {}

    def waiter(item: Item) -> None:
        rec.outcome(item, stage.name, stage.wait(conn, item))

    for item in items:
        if item.resource is None and stage.name == "gone":
            continue
        stage.start(conn, item)
        thread = threading.Thread(
            target=waiter, args=(item,), name=f"bench-waiter-{len(waiters)}", daemon=True
        )
        thread.start()
        waiters[thread] = item
    rec.phase(f"{stage.name}: waiting", len(waiters))
    deadline = time.monotonic() + hang
    for thread, item in waiters.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            rec.hung(item, stage.name)


def _taken(future: Future[Any], stage: Stage) -> BaseException | None:
    """What a user takes from a resolved future: the created resource (made when
    first read, as the plain waiters' answers are built when they return), or the
    error. A deletion's result, which a user seldom reads, is not read."""
    if future.cancelled():
        return RuntimeError("cancelled")
    error = future.exception()
    if error is None and stage.name == "ready":
        future.result()
    return error


APPROACH_RUNNERS: dict[str, Callable[[Any, Stage, Sequence[Item], Recorder, float], None]] = {
    "serial": serial,
    "pool": pool,
    "osfutures": twins,
    "threads": threads,
}
