"""Where probe requests run, and the account of those on their way.

Probes run on a small pool of daemon threads (:class:`ProbePool`), never on the
monitor thread. A probe that never returns (a cloud that accepted the connection and
went silent) ties up its thread. :class:`Probes` keeps account of every request in
flight for the monitor: one running longer than ``slow_after`` is presumed hung and no
longer holds a worker's slot (the pool may start a spare thread, up to a hard cap), and
after ``probe_timeout`` it is given up on, so a few hung requests never starve the
polling of everything else. Threads are daemons: a hung request never keeps the
process from exiting.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import queue
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from osfutures._watch import Watch
from osfutures.watch import Batch

if TYPE_CHECKING:
    from osfutures._schedule import Group

__all__ = [
    "Answer",
    "BatchContractError",
    "Fetched",
    "Flight",
    "Listed",
    "ProbePool",
    "Probes",
    "fetch",
    "fetch_many",
]

log = logging.getLogger(__name__)


class BatchContractError(TypeError):
    """A ``fetch_many`` returned something other than a mapping: a bug in the caller's
    code, not an answer of the cloud, so it fails the batch's operations at once."""


@dataclass(slots=True)
class Fetched:
    """What one watch's own ``fetch`` returned, or the error it raised instead; for
    an inquiry (``inquiry``), what its ``inquire`` returned."""

    value: Any
    error: BaseException | None
    inquiry: bool = False


@dataclass(slots=True)
class Listed:
    """What one ``fetch_many`` call answered for ``items``, or the error it raised."""

    items: list[Hashable]
    found: Mapping[Hashable, Any]
    error: BaseException | None


#: What a probe request reports.
Answer = Fetched | Listed


def fetch(watch: Watch) -> Fetched:
    """Fetch one watch's object. Never raises, not even ``KeyboardInterrupt`` or
    ``SystemExit`` (CPython's executors put those on the future too): what goes
    wrong is reported, and the monitor decides what it means."""
    inquire = watch.inquire if watch.inquiry_due else None
    try:
        if inquire is not None:
            return Fetched(inquire(watch.last), None, inquiry=True)
        return Fetched(watch.fetch(), None)
    except BaseException as error:
        return Fetched(None, error, inquiry=inquire is not None)


def fetch_many(batch: Batch, items: list[Hashable]) -> Listed:
    """One ``fetch_many`` call for ``items``. Never raises (as :func:`fetch`); a
    failure fails only this poll of the batch."""
    try:
        found = batch.fetch_many(items)
        if not isinstance(found, Mapping):
            raise BatchContractError(
                f"fetch_many of batch {batch.key!r} must return a mapping of item to"
                f" object, returned {type(found).__name__}"
            )
        if type(found) is not dict:
            # Read here, where a failure fails this poll only, not on the monitor
            # thread (a lazy mapping that raises would crash it).
            found = dict(found)
        return Listed(items, found, None)
    except BaseException as error:
        return Listed(items, {}, error)


class ProbePool:
    """Daemon threads running probe tasks, replacing those lost to hung requests.

    Args:
        workers: threads normally running at once.
        max_threads: the most threads alive, hung ones included.
        name: prefix of the threads' names.
    """

    def __init__(self, workers: int, max_threads: int, name: str) -> None:
        self._workers = workers
        self._max_threads = max_threads
        self._name = name
        self._tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0  # alive, hung ones included
        self._idle = 0  # waiting for a task with none reserved for them
        self._queued = 0  # tasks no thread has been set aside for yet
        self._lost = 0  # threads presumed hung
        self._closed = False

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task`` on a pool thread, starting one if none is free.

        Raises:
            RuntimeError: the pool is shut down.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("probe pool is shut down")
            if self._idle:
                self._idle -= 1
            elif self._threads < min(self._workers + self._lost, self._max_threads):
                self._threads += 1
                threading.Thread(
                    target=self._work, name=f"{self._name}-{self._threads}", daemon=True
                ).start()
            else:
                self._queued += 1
        self._tasks.put(task)

    def lost(self) -> None:
        """A task was abandoned: its thread may never come back, allow a replacement."""
        with self._lock:
            self._lost += 1

    def recovered(self) -> None:
        """An abandoned task returned after all: its thread is back in service."""
        with self._lock:
            self._lost = max(0, self._lost - 1)

    def shutdown(self) -> None:
        """Let the threads finish their tasks and exit; hung ones are left behind."""
        with self._lock:
            self._closed = True
            count = self._threads
        for _ in range(count):
            self._tasks.put(None)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            try:
                task()
            except BaseException:  # tasks report their own errors; this is a last resort
                log.exception("osfutures: probe task raised")
            del task  # holds the watches it probed: do not keep them while idle
            with self._lock:
                if self._queued:
                    self._queued -= 1
                else:
                    self._idle += 1


class Flight:
    """A probe request on its way: what it polls (one watch, or a batch group), and
    when it counts as slow or lost."""

    __slots__ = ("limit", "polled", "slow", "slow_at")

    def __init__(self, polled: Watch | Group, slow_at: float, limit: float) -> None:
        self.polled = polled
        self.slow_at = slow_at
        self.limit = limit
        self.slow = False  # presumed hung: its thread no longer counts as a worker


#: Called on a probe thread with a request's token and what it saw.
Report = Callable[[int, Answer], None]


class Probes:
    """The probe pool, and the account of the requests in flight on it.

    Used by the monitor thread alone (the pool has its own lock); time comes in as
    ``now``.

    Args:
        workers: requests in flight at once, not counting those presumed hung.
        probe_timeout: how long a request may take before it is given up on.
        slow_after: how long before a request is presumed hung.
        name: prefix of the pool threads' names.
    """

    def __init__(self, workers: int, probe_timeout: float, slow_after: float, name: str) -> None:
        self.workers = workers
        self.probe_timeout = probe_timeout
        self._slow_after = slow_after
        self._max_threads = 4 * workers
        self._pool = ProbePool(workers, self._max_threads, name=name)
        self._flying: dict[int, Flight] = {}
        self._slow = 0  # flights presumed hung
        # Requests given up on -> whether their thread was counted lost to the pool,
        # and the batch of a listing (its late answer may still say something).
        self._abandoned: dict[int, tuple[bool, Batch | None]] = {}
        self._tokens = itertools.count()

    def __len__(self) -> int:
        """Requests in flight (given-up ones not counted)."""
        return len(self._flying)

    def has_slot(self) -> bool:
        """Whether another request may start now."""
        busy = len(self._flying) - self._slow
        # Abandoned probes still hold their threads: launching past the pool's cap
        # would only queue tasks that flood the cloud once it answers again.
        threads = len(self._flying) + len(self._abandoned)
        return busy < self.workers and threads < self._max_threads

    def launch(
        self, polled: Watch | list[Hashable], group: Group | None, now: float, report: Report
    ) -> None:
        """Start one request: a watch's own fetch, or ``group``'s ``fetch_many`` of
        the items ``polled``; ``report`` gets its token and answer on a probe thread."""
        token = next(self._tokens)
        if isinstance(polled, Watch):
            self._flying[token] = Flight(polled, now + self._slow_after, now + self.probe_timeout)
            task = functools.partial(_fetch_and_report, token, polled, report)
        else:
            assert group is not None
            self._flying[token] = Flight(group, now + self._slow_after, now + self.probe_timeout)
            task = functools.partial(_list_and_report, token, group.batch, polled, report)
        self._pool.submit(task)

    def land(self, token: int) -> Flight | Batch | None:
        """A request answered: its flight; if it was given up on, the batch it listed
        (see :meth:`Schedule.late`), or None for a watch's own fetch."""
        if token in self._abandoned:
            lost, batch = self._abandoned.pop(token)
            if lost:
                self._pool.recovered()
            return batch
        flight = self._flying.pop(token, None)
        if flight is not None and flight.slow:
            self._slow -= 1
            self._pool.recovered()
        return flight

    def overdue(self, now: float) -> list[Flight]:
        """Mark requests slow that ran past ``slow_after``; give up on (and return)
        those past ``probe_timeout``."""
        lost = []
        for token, flight in list(self._flying.items()):
            if not flight.slow and flight.slow_at <= now:
                # Presumed hung: free its slot, and let the pool start a spare thread.
                flight.slow = True
                self._slow += 1
                self._pool.lost()
            if flight.limit > now:
                continue
            # The probe thread may come back one day; its answer will be ignored. It
            # was marked slow above (slow_at comes before limit), so the pool already
            # counts its thread as lost.
            del self._flying[token]
            polled = flight.polled
            self._abandoned[token] = (True, None if isinstance(polled, Watch) else polled.batch)
            self._slow -= 1
            lost.append(flight)
        return lost

    def abandon_all(self) -> None:
        """Stop waiting for every request in flight (their work was cancelled)."""
        self._abandoned.update((token, (f.slow, None)) for token, f in self._flying.items())
        self._flying.clear()
        self._slow = 0

    def next_wake(self) -> float:
        """When a request in flight next becomes slow or is given up on (inf: none)."""
        return min(
            (f.limit if f.slow else f.slow_at for f in self._flying.values()), default=math.inf
        )

    def shutdown(self) -> None:
        """Let the pool's threads finish and exit; hung ones are left behind."""
        self._pool.shutdown()


def _fetch_and_report(token: int, watch: Watch, report: Report) -> None:
    # A task that waited in the pool may be for an operation over by now: no request.
    report(token, Fetched(None, None) if watch.future._over else fetch(watch))


def _list_and_report(token: int, batch: Batch, items: list[Hashable], report: Report) -> None:
    report(token, fetch_many(batch, items))
