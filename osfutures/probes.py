"""Where probe requests run: a small pool of daemon threads that survives hung requests.

A probe that never returns (a cloud that accepted the connection and went silent)
ties up its thread. The monitor stops waiting for it after ``probe_timeout`` and
tells the pool, which may then start a replacement thread, up to a hard cap, so a few
hung requests never starve the polling of everything else. Threads are daemons: a
hung request never keeps the process from exiting.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from osfutures.watch import Batch, Watch

__all__ = ["NOT_LISTED", "BatchContractError", "ProbePool", "Results", "probe"]

log = logging.getLogger("osfutures")

#: (watch, fetched value, error) for each member of a probe.
Results = list[tuple[Watch, Any, BaseException | None]]


class _NotListed:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_LISTED"


#: The result of a batch member its ``fetch_many`` left out: the monitor fetches it on
#: its own, as a separate probe (so the rate cap counts that request too).
NOT_LISTED = _NotListed()


class BatchContractError(TypeError):
    """A ``fetch_many`` returned something other than a mapping: a bug in the caller's
    code, not an answer of the cloud, so it fails the batch's operations at once."""


def probe(batch: Batch | None, members: Sequence[Watch]) -> Results:
    """Fetch the state of ``members``: (watch, value, error) for each.

    With a batch, one ``fetch_many`` call; members it leaves out get
    :data:`NOT_LISTED`. Without, one ``fetch`` per member (normally one). Never
    raises, not even ``KeyboardInterrupt`` or ``SystemExit`` from a fetch (CPython's
    executors put those on the future too): what goes wrong is reported per member
    (a failing ``fetch_many`` fails only this poll of these members), and the
    monitor decides what it means.
    """
    if batch is not None:
        try:
            found = batch.fetch_many([w.item for w in members])
            if not isinstance(found, Mapping):
                raise BatchContractError(
                    f"fetch_many of batch {batch.key!r} must return a mapping of item to"
                    f" object, returned {type(found).__name__}"
                )
            return [(w, found.get(w.item, NOT_LISTED), None) for w in members]
        except BaseException as error:
            return [(w, None, error) for w in members]
    results: Results = []
    for watch in members:
        try:
            results.append((watch, watch.fetch(), None))
        except BaseException as error:
            results.append((watch, None, error))
    return results


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
