"""Fixtures for engine tests: a monitor on a manual clock and a toy cloud table."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from osfutures import Batch, ManualClock, Monitor, OnGone, PollInterval, Reader, States
from osfutures._schedule import Schedule
from osfutures._watch import Watch
from osfutures.future import OperationFuture

ACTIVE = States.of({"ACTIVE"}, (), {"ERROR"})


class Table:
    """Objects whose status a test sets by hand; counts every fetch."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.fetches = 0
        self.batch_fetches = 0
        self.lock = threading.Lock()

    def put(self, key: str, status: str, **extra: Any) -> None:
        with self.lock:
            self.rows[key] = {"id": key, "status": status, **extra}

    def remove(self, key: str) -> None:
        with self.lock:
            self.rows.pop(key, None)

    def fetcher(self, key: str) -> Any:
        def fetch() -> dict[str, Any] | None:
            with self.lock:
                self.fetches += 1
                row = self.rows.get(key)
                return dict(row) if row else None

        return fetch

    def fetch_many(self, keys: Any) -> dict[str, Any]:
        with self.lock:
            self.batch_fetches += 1
            return {k: dict(self.rows[k]) for k in keys if k in self.rows}


class Harness:
    def __init__(self, clock: ManualClock, monitor: Monitor) -> None:
        self.clock = clock
        self.monitor = monitor

    def step(self, seconds: float) -> None:
        """Advance the manual clock and let the monitor finish what became due."""
        self.clock.advance(seconds)
        assert self.monitor.wait_idle(), "monitor did not settle"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def monitor(clock: ManualClock) -> Iterator[Monitor]:
    m = Monitor(clock=clock, default_interval=1.0, max_probes_per_second=None, seed=1)
    yield m
    m.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def h(clock: ManualClock, monitor: Monitor) -> Harness:
    return Harness(clock, monitor)


@pytest.fixture
def table() -> Table:
    return Table()


def make_watch(
    *,
    started: float = 0.0,
    interval: PollInterval | float = 1.0,
    timeout: float = 100.0,
    batch: Batch | None = None,
    item: Any = None,
) -> Watch:
    """A watch as the monitor makes one, for tests of the schedule on its own."""
    return Watch(
        OperationFuture(name=f"op {item}"),
        lambda: None,
        states=ACTIVE,
        ready=None,
        failed=None,
        reader=Reader(),
        on_gone=OnGone(),
        is_fatal=lambda error: True,
        interval=PollInterval.coerce(interval, PollInterval()),
        timeout=timeout,
        batch=batch,
        item=item,
        endpoint=None if batch is None else batch.endpoint,
        started=started,
    )


@pytest.fixture
def schedule() -> Schedule:
    """A schedule with no thread and no clock: time is what each call is given."""
    return Schedule(random.Random(0), final_look=5.0)
