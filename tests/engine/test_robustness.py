"""Robustness: what must never hang, crash the monitor, leak or starve other operations."""

from __future__ import annotations

import contextlib
import gc
import math
import subprocess
import sys
import threading
import time
import weakref
from typing import Any

import pytest
import requests
import tenacity

from osfutures import (
    Batch,
    ManualClock,
    Monitor,
    MonitorCrashed,
    OperationFuture,
    PollingFailed,
    RetriesExhausted,
    is_retryable,
    is_transient,
    retrying,
)

from .conftest import Harness, Table
from .test_retrying import Cloud


def until(predicate: Any, timeout: float = 2.0) -> bool:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.002)
    return True


def http_error(code: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = code
    return requests.HTTPError(f"{code} error", response=response)


def test_http_client_errors_from_requests_are_not_transient() -> None:
    for code in (400, 403, 404, 409):
        assert not is_transient(http_error(code)), code
        assert not is_retryable(http_error(code)), code
    assert is_transient(http_error(503))


def test_probe_answered_403_by_requests_fails_the_operation(h: Harness) -> None:
    def fetch() -> Any:
        raise http_error(403)

    fut = h.monitor.watch(fetch, ready=bool, timeout=100)
    h.step(1)
    assert fut.done(), "a 403 is polled again and again until the deadline"


def test_retry_after_date_without_zone_does_not_crash_the_monitor(h: Harness) -> None:
    class Unavailable(Exception):
        status_code = 503
        retry_after = "Wed, 21 Oct 2015 07:28:00"

    def fetch() -> Any:
        raise Unavailable()

    fut = h.monitor.watch(fetch, ready=bool)
    h.clock.advance(1)
    h.monitor.wait_idle(timeout=1)
    assert h.monitor.is_alive(), "a server's Retry-After header killed the monitor"
    assert not fut.done()


def test_raising_is_fatal_fails_only_its_own_operation(h: Harness, table: Table) -> None:
    def fetch() -> Any:
        raise ConnectionError("reset")

    table.put("vm", "BUILD")
    bad = h.monitor.watch(fetch, ready=bool, is_fatal=lambda e: 1 / 0)
    other = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    h.clock.advance(1)
    assert isinstance(bad.exception(timeout=2), ZeroDivisionError)
    assert h.monitor.is_alive()
    assert not other.done()


class MonitorThreadBomb(ManualClock):
    armed = False

    def now(self) -> float:
        if self.armed and threading.current_thread().name == "bomb":
            raise RuntimeError("clock broke")
        return super().now()


def test_crash_fails_work_that_was_just_taken_from_the_intake(table: Table) -> None:
    clock = MonitorThreadBomb()
    monitor = Monitor(clock=clock, name="bomb", max_probes_per_second=None)
    table.put("vm", "BUILD")
    first = monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    assert monitor.wait_idle()
    clock.armed = True
    second = monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    assert isinstance(first.exception(timeout=2), MonitorCrashed)
    assert isinstance(second.exception(timeout=2), MonitorCrashed), "left pending forever"


def test_unhashable_batch_key_is_refused_at_the_call(h: Harness, table: Table) -> None:
    table.put("vm", "BUILD")
    bystander = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    with pytest.raises(TypeError, match=r"^Batch\(key\): must be hashable"):
        h.monitor.watch(
            table.fetcher("vm"),
            ready=bool,
            batch=Batch(key=["servers"], fetch_many=table.fetch_many).member("vm"),
        )
    h.clock.advance(1)
    h.monitor.wait_idle(timeout=1)
    assert not bystander.done() and h.monitor.is_alive()


def test_fetch_many_returning_garbage_does_not_freeze_the_group(h: Harness, table: Table) -> None:
    answers: list[Any] = [None]

    def fetch_many(items: Any) -> Any:
        return answers.pop() if answers else table.fetch_many(items)

    batch = Batch(key="servers", fetch_many=fetch_many)
    table.put("vm", "ACTIVE")
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}, batch=batch.member("vm"))
    h.clock.advance(1)
    assert h.monitor.wait_idle(timeout=1), "probe result never reported"
    # A fetch_many breaking its contract is a bug, not a passing error: the operation
    # fails with it at once (and is not frozen until probe_timeout).
    error = fut.exception(timeout=0)
    assert isinstance(error, PollingFailed) and isinstance(error.__cause__, TypeError)


def test_unhashable_batch_item_does_not_freeze_its_group(h: Harness, table: Table) -> None:
    def fetch_many(items: Any) -> dict[str, Any]:
        return table.fetch_many([i for i in items if isinstance(i, str)])

    batch = Batch(key="servers", fetch_many=fetch_many)
    table.put("vm", "ACTIVE")
    good = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}, batch=batch.member("vm"))
    with contextlib.suppress(TypeError):  # refused at the call: fine too
        h.monitor.watch(table.fetcher("vm"), ready=bool, batch=batch.member(["vm"]))
    h.clock.advance(1)
    assert good.result(timeout=1)["status"] == "ACTIVE"


def test_later_start_returning_no_future_fails_instead_of_hanging(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR"])
    calls = []

    def start(timeout: float | None) -> Any:
        calls.append(timeout)
        return cloud.start(timeout) if len(calls) == 1 else None

    fut = retrying(start, monitor=h.monitor, wait=tenacity.wait_fixed(1))
    h.step(1)
    h.step(1)
    assert len(calls) == 2
    assert fut.done(), "retrying future left pending forever"


def test_stop_before_delay_accounts_for_the_upcoming_wait(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR", "ACTIVE"])
    fut = retrying(
        cloud.start,
        try_count=5,
        stop=tenacity.stop_before_delay(5),
        wait=tenacity.wait_fixed(10),
        monitor=h.monitor,
    )
    h.step(1)
    assert isinstance(fut.exception(timeout=0), RetriesExhausted)


def test_graceful_shutdown_lets_a_retrying_operation_finish(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR", "ACTIVE"])
    fut = retrying(cloud.start, cloud.cleanup, monitor=h.monitor, wait=tenacity.wait_fixed(1))
    h.monitor.shutdown(wait=False)
    h.clock.advance(1)  # vm1 in ERROR: cleanup, then relaunch
    h.monitor.wait_idle(timeout=1)
    if fut.done():
        pytest.fail(f"retrying operation ended with {fut.exception()!r} during a graceful shutdown")
    table.remove("vm1")
    for _ in range(3):
        h.clock.advance(1)
        h.monitor.wait_idle(timeout=1)
    table.put("vm2", "ACTIVE")
    h.clock.advance(1)
    assert fut.result(timeout=2)["id"] == "vm2"


class Obj:
    status = "ACTIVE"


def test_finished_operation_is_not_kept_until_its_deadline(h: Harness) -> None:
    fut = h.monitor.watch(Obj, ready=lambda o: True)
    h.step(1)
    ref = weakref.ref(fut.result(timeout=0))
    del fut
    h.step(1)
    gc.collect()
    assert ref() is None, "the watch and its result stay in the deadline heap"


def test_hung_probes_do_not_starve_other_operations(clock: ManualClock, table: Table) -> None:
    release = threading.Event()
    monitor = Monitor(
        clock=clock,
        default_interval=1.0,
        probe_timeout=2.0,
        probe_workers=2,
        max_probes_per_second=None,
    )
    try:
        for _ in range(2):
            monitor.watch(lambda: release.wait(), ready=bool, timeout=30)
        table.put("ok", "ACTIVE")
        ready = monitor.watch_states(table.fetcher("ok"), target={"ACTIVE"}, timeout=30)
        for _ in range(6):
            clock.advance(1)
            time.sleep(0.02)
        assert ready.result(timeout=1)["status"] == "ACTIVE"
    finally:
        release.set()
        monitor.shutdown(cancel_futures=True)


def test_hung_probe_does_not_block_interpreter_exit() -> None:
    code = (
        "import threading, time, osfutures\n"
        "m = osfutures.Monitor(max_probes_per_second=None)\n"
        "m.watch(lambda: threading.Event().wait(), ready=bool, interval=0.01)\n"
        "time.sleep(0.2)\n"
    )
    try:
        subprocess.run([sys.executable, "-c", code], timeout=3, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail("process could not exit while a probe hangs")


def test_infinite_probe_timeout_does_not_crash_the_monitor() -> None:
    monitor = Monitor(probe_timeout=math.inf, max_probes_per_second=None)

    def slow() -> Any:
        time.sleep(0.2)
        return {"status": "ACTIVE"}

    try:
        fut = monitor.watch_states(slow, target={"ACTIVE"}, timeout=math.inf, interval=0.01)
        assert fut.result(timeout=3)["status"] == "ACTIVE"
    finally:
        monitor.shutdown(cancel_futures=True)


def test_rate_cap_counts_fallback_fetches(clock: ManualClock, table: Table) -> None:
    monitor = Monitor(clock=clock, default_interval=1.0, max_probes_per_second=2.0)
    batch = Batch(key="servers", fetch_many=lambda items: {}, endpoint="nova")
    try:
        for i in range(20):
            table.put(f"vm{i}", "BUILD")
            monitor.watch_states(
                table.fetcher(f"vm{i}"), target={"ACTIVE"}, batch=batch.member(f"vm{i}")
            )
        for _ in range(10):
            clock.advance(0.5)
            assert monitor.wait_idle()
        assert table.fetches <= 12, f"{table.fetches} requests in 5 s at a cap of 2/s"
    finally:
        monitor.shutdown(cancel_futures=True)


def test_progress_callback_sees_the_change_it_was_called_for(h: Harness, table: Table) -> None:
    gate = threading.Event()
    seen: list[tuple[Any, Any]] = []

    def slow(f: OperationFuture[Any]) -> None:
        seen.append((f.status, f.progress))
        gate.wait(5)

    table.put("vm", "BUILD", progress=0)
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    fut.add_progress_callback(slow)
    h.clock.advance(1)
    assert until(lambda: len(seen) == 1)
    table.put("vm", "BUILD", progress=50)
    h.clock.advance(1)
    assert until(lambda: fut.progress == 50)
    table.put("vm", "ACTIVE", progress=100)
    h.clock.advance(1)
    assert until(fut.done)
    gate.set()
    assert h.monitor.wait_idle()
    assert seen == [("BUILD", 0), ("BUILD", 50), ("ACTIVE", 100)]


def test_cancelling_a_flattened_chain_stops_the_inner_watch(h: Harness, table: Table) -> None:
    table.put("vm", "ACTIVE")
    vm = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    table.put("vol", "BUILD")
    attached = vm.next(lambda obj: h.monitor.watch_states(table.fetcher("vol"), target={"ACTIVE"}))
    h.step(1)
    assert not attached.done()
    assert attached.cancel() is True
    h.step(1)
    assert h.monitor.pending_count() == 0


def test_shutdown_from_a_callback_does_not_raise(h: Harness, table: Table) -> None:
    errors: list[BaseException] = []
    finished = threading.Event()

    def stop(_: Any) -> None:
        try:
            h.monitor.shutdown()
        except BaseException as error:
            errors.append(error)
        finished.set()

    table.put("vm", "ACTIVE")
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    fut.add_done_callback(stop)
    h.clock.advance(1)
    assert finished.wait(2)
    assert errors == []
