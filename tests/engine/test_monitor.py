"""The monitor: polling, verdicts, deadlines, batching, policy, lifecycle."""

from __future__ import annotations

import concurrent.futures
import functools
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from osfutures import (
    GONE,
    Batch,
    Gone,
    ManualClock,
    Monitor,
    MonitorCrashed,
    MonitorShutdown,
    OnGone,
    OperationFailed,
    OperationTimeout,
    PollingFailed,
    Reader,
    ResourceGone,
)

from .conftest import Harness, Table


def nova_fault(obj: Any) -> str | None:
    return (obj.get("fault") or {}).get("message")


def test_future_resolves_with_the_object_once_it_is_ready(h: Harness, table: Table) -> None:
    table.put("vm", "BUILD", progress=0)
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}, pending={"BUILD"})
    h.step(1)
    assert not fut.done()
    assert fut.status == "BUILD"
    table.put("vm", "ACTIVE", progress=100)
    h.step(1)
    assert fut.result(timeout=0)["status"] == "ACTIVE"
    assert fut.progress == 100


def test_failure_state_fails_with_status_fault_and_resource(h: Harness, table: Table) -> None:
    table.put("vm", "ERROR", fault={"code": 500, "message": "No valid host was found."})
    fut = h.monitor.watch_states(
        table.fetcher("vm"),
        target={"ACTIVE"},
        name="create_server vm",
        reader=Reader(fault=nova_fault),
    )
    h.step(1)
    error = fut.exception(timeout=0)
    assert isinstance(error, OperationFailed)
    assert error.status == "ERROR"
    assert error.fault == "No valid host was found."
    assert error.resource["id"] == "vm"
    assert "No valid host was found." in str(error) and "create_server vm" in str(error)


def test_unexpected_state_fails_when_pending_states_are_declared(h: Harness, table: Table) -> None:
    table.put("vm", "SHUTOFF")
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}, pending={"BUILD"})
    h.step(1)
    assert isinstance(fut.exception(timeout=0), OperationFailed)


def test_states_compare_case_insensitively(h: Harness, table: Table) -> None:
    table.put("vol", "available")
    fut = h.monitor.watch_states(table.fetcher("vol"), target={"AVAILABLE"})
    h.step(1)
    assert fut.result(timeout=0)["status"] == "available"


def test_disappearance_is_believed_only_after_gone_after_answers(h: Harness, table: Table) -> None:
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}, on_gone=OnGone(after=3))
    h.step(1)
    h.step(1)
    assert not fut.done(), "a 404 right after create must be tolerated"
    h.step(1)
    assert isinstance(fut.exception(timeout=0), ResourceGone)


def test_object_that_reappears_resets_the_gone_count(h: Harness, table: Table) -> None:
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}, on_gone=OnGone(after=2))
    h.step(1)
    table.put("vm", "BUILD")
    h.step(1)
    table.remove("vm")
    h.step(1)
    assert not fut.done()


def test_deletion_succeeds_once_the_object_is_gone(h: Harness, table: Table) -> None:
    table.put("vm", "ACTIVE")
    fut = h.monitor.watch(table.fetcher("vm"), ready=lambda o: False, on_gone=OnGone(succeed=True))
    h.step(1)
    assert not fut.done()
    table.remove("vm")
    h.step(1)
    assert fut.result(timeout=0)["id"] == "vm"  # the last object seen
    assert fut.status == "DELETED"


def test_a_deletion_over_before_the_first_poll_still_resolves_with_the_object(
    h: Harness,
) -> None:
    row = {"id": "vm", "status": "DELETED"}
    passed = {"id": "vm", "status": "ACTIVE"}
    # The probe still has the object's last record (Nova's DELETED row): that.
    with_row = h.monitor.watch(lambda: Gone(row), ready=bool, on_gone=OnGone(True, last=passed))
    # Nothing at all (a 404): the object the caller passed.
    bare = h.monitor.watch(lambda: GONE, ready=bool, on_gone=OnGone(True, last=passed))
    h.step(1)
    assert with_row.result(timeout=0) is row
    assert bare.result(timeout=0) is passed
    assert with_row.status == bare.status == "DELETED"


def test_an_object_gone_with_its_last_record_fails_with_that_record(h: Harness) -> None:
    row = {"id": "vm", "status": "DELETED"}
    fut = h.monitor.watch_states(lambda: Gone(row), target={"ACTIVE"})
    h.step(1)
    error = fut.exception(timeout=0)
    assert isinstance(error, ResourceGone) and error.resource is row


def test_deadline_fails_with_timeout_naming_the_last_status(h: Harness, table: Table) -> None:
    table.put("vm", "BUILD")
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}, timeout=5, name="boot")
    h.step(4)
    assert not fut.done()
    h.step(1)
    error = fut.exception(timeout=0)
    assert isinstance(error, OperationTimeout) and isinstance(error, TimeoutError)
    assert error.status == "BUILD" and error.timeout == 5
    assert "BUILD" in str(error) and "boot" in str(error)


def test_deadline_holds_while_a_probe_hangs(clock: ManualClock, table: Table) -> None:
    release = threading.Event()
    monitor = Monitor(clock=clock, default_interval=1.0, probe_timeout=2.0)
    try:
        hanging = monitor.watch(lambda: release.wait(), ready=bool, timeout=3)
        table.put("ok", "BUILD")
        other = monitor.watch_states(table.fetcher("ok"), target={"ACTIVE"}, timeout=60)
        for _ in range(3):
            clock.advance(1)
            time.sleep(0.02)
        assert isinstance(hanging.exception(timeout=5), OperationTimeout)
        table.put("ok", "ACTIVE")
        for _ in range(3):
            clock.advance(1)
            time.sleep(0.02)
        assert other.result(timeout=5)["status"] == "ACTIVE"
    finally:
        release.set()
        monitor.shutdown(cancel_futures=True)


def test_transient_probe_errors_are_retried(h: Harness) -> None:
    answers: list[Any] = [ConnectionError("reset"), ConnectionError("reset"), {"status": "ACTIVE"}]

    def fetch() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    fut = h.monitor.watch_states(fetch, target={"ACTIVE"})
    for _ in range(3):
        h.step(1)
    assert fut.result(timeout=0) == {"status": "ACTIVE"}


def test_fatal_probe_error_fails_only_its_own_operation(h: Harness, table: Table) -> None:
    class Forbidden(Exception):
        status_code = 403

    def fetch() -> Any:
        raise Forbidden("no")

    table.put("vm", "BUILD")
    bad = h.monitor.watch_states(fetch, target={"ACTIVE"})
    good = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    h.step(1)
    error = bad.exception(timeout=0)
    assert isinstance(error, PollingFailed) and isinstance(error.__cause__, Forbidden)
    table.put("vm", "ACTIVE")
    h.step(1)
    assert good.result(timeout=0)["status"] == "ACTIVE"


def test_timeout_after_failing_probes_carries_the_last_error(h: Harness) -> None:
    def fetch() -> Any:
        raise ConnectionError("cloud unreachable")

    fut = h.monitor.watch_states(fetch, target={"ACTIVE"}, timeout=3)
    for _ in range(3):
        h.step(1)
    error = fut.exception(timeout=0)
    assert isinstance(error, OperationTimeout)
    assert isinstance(error.__cause__, ConnectionError)


def test_retry_after_is_respected(h: Harness) -> None:
    calls = []

    class TooMany(Exception):
        status_code = 429
        retry_after = 30

    def fetch() -> Any:
        calls.append(h.clock.now())
        raise TooMany()

    h.monitor.watch_states(fetch, target={"ACTIVE"})
    h.step(1)
    assert len(calls) == 1
    for _ in range(28):
        h.step(1)
    assert len(calls) == 1, "polled again before Retry-After elapsed"
    h.step(2)
    assert len(calls) == 2


def test_batched_operations_share_one_request_per_cycle(h: Harness, table: Table) -> None:
    batch = Batch(key="servers", fetch_many=table.fetch_many)
    futures = []
    for i in range(100):
        table.put(f"vm{i}", "BUILD")
        futures.append(
            h.monitor.watch_states(
                table.fetcher(f"vm{i}"), target={"ACTIVE"}, batch=batch.member(f"vm{i}")
            )
        )
    h.step(1)
    assert (table.batch_fetches, table.fetches) == (1, 0)
    for i in range(100):
        table.put(f"vm{i}", "ACTIVE")
    h.step(1)
    assert all(f.result(timeout=0)["status"] == "ACTIVE" for f in futures)
    assert (table.batch_fetches, table.fetches) == (2, 0)


def test_item_missing_from_a_batch_is_checked_on_its_own(h: Harness, table: Table) -> None:
    batch = Batch(key="servers", fetch_many=lambda items: {})
    table.put("vm", "ACTIVE")
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}, batch=batch.member("vm"))
    h.step(1)
    assert fut.result(timeout=0)["status"] == "ACTIVE"
    assert table.fetches == 1


def test_failing_batch_request_does_not_fail_the_batch(h: Harness, table: Table) -> None:
    failures = [ConnectionError("503")]

    def fetch_many(items: Any) -> dict[str, Any]:
        if failures:
            raise failures.pop()
        return table.fetch_many(items)

    batch = Batch(key="servers", fetch_many=fetch_many)
    table.put("a", "ACTIVE")
    table.put("b", "ACTIVE")
    futs = [
        h.monitor.watch_states(table.fetcher(k), target={"ACTIVE"}, batch=batch.member(k))
        for k in "ab"
    ]
    h.step(1)
    assert not any(f.done() for f in futs)
    h.step(2)
    assert [f.result(timeout=0)["id"] for f in futs] == ["a", "b"]


def test_probe_rate_cap_holds_across_operations(clock: ManualClock, table: Table) -> None:
    monitor = Monitor(clock=clock, default_interval=1.0, max_probes_per_second=2.0)
    try:
        for i in range(20):
            table.put(f"vm{i}", "BUILD")
            monitor.watch_states(table.fetcher(f"vm{i}"), target={"ACTIVE"}, endpoint="nova")
        for _ in range(10):
            clock.advance(0.5)
            assert monitor.wait_idle()
        # 5 seconds at 2 per second, plus the initial burst of 2.
        assert table.fetches <= 12
        assert table.fetches >= 10
    finally:
        monitor.shutdown(cancel_futures=True)


def test_the_cap_is_per_endpoint_and_in_process_fetches_are_not_capped(
    clock: ManualClock, table: Table
) -> None:
    monitor = Monitor(clock=clock, default_interval=1.0, max_probes_per_second=2.0)
    try:
        for i in range(20):
            table.put(f"vm{i}", "BUILD")
            monitor.watch_states(table.fetcher(f"vm{i}"), target={"ACTIVE"}, endpoint="nova")
        table.put("vol", "available")
        volume = monitor.watch_states(table.fetcher("vol"), target={"available"}, endpoint="cinder")
        local = [
            monitor.watch_states(lambda: {"status": "ACTIVE"}, target={"ACTIVE"}) for _ in range(20)
        ]
        for _ in range(3):
            clock.advance(0.5)
            assert monitor.wait_idle()
        assert volume.done(), "held back by nova's cap"
        assert all(f.done() for f in local), "in-process fetches were capped"
        assert table.fetches <= 2 + 3 + 1, "nova's cap: a burst of 2, then 2/s"
    finally:
        monitor.shutdown(cancel_futures=True)


def test_backoff_polls_less_often_while_nothing_changes(clock: ManualClock, table: Table) -> None:
    from osfutures import PollInterval

    monitor = Monitor(clock=clock, max_probes_per_second=None)
    try:
        table.put("vm", "BUILD")
        monitor.watch_states(
            table.fetcher("vm"),
            target={"ACTIVE"},
            interval=PollInterval(initial=1, factor=2, maximum=8, jitter=0),
        )
        for _ in range(31):
            clock.advance(1)
            assert monitor.wait_idle()
        # Polls at 1, 3, 7, 15, 23, 31: the waits double up to the maximum.
        assert table.fetches == 6
    finally:
        monitor.shutdown(cancel_futures=True)


def test_initial_object_already_ready_costs_no_request(h: Harness, table: Table) -> None:
    fut = h.monitor.watch_states(
        table.fetcher("vm"), target={"ACTIVE"}, initial={"id": "vm", "status": "ACTIVE"}
    )
    assert fut.result(timeout=0)["id"] == "vm"
    assert table.fetches == 0


def test_cancel_stops_watching(h: Harness, table: Table) -> None:
    table.put("vm", "BUILD")
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    h.step(1)
    assert fut.cancel() is True
    fetched = table.fetches
    for _ in range(3):
        h.step(1)
    assert table.fetches == fetched
    assert h.monitor.pending_count() == 0
    assert "vm" in table.rows, "cancel must not delete anything"


def test_progress_callbacks_see_every_change_in_order(h: Harness, table: Table) -> None:
    seen: list[tuple[str | None, Any]] = []
    table.put("vm", "BUILD", progress=0)
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    fut.add_progress_callback(lambda f: seen.append((f.status, f.progress)))
    for progress in (0, 10, 10, 60):
        table.put("vm", "BUILD", progress=progress)
        h.step(1)
    table.put("vm", "ACTIVE", progress=100)
    h.step(1)
    assert seen == [("BUILD", 0), ("BUILD", 10), ("BUILD", 60), ("ACTIVE", 100)]


def test_raising_callback_is_logged_and_the_monitor_goes_on(
    h: Harness, table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    table.put("a", "ACTIVE")
    table.put("b", "BUILD")
    a = h.monitor.watch_states(table.fetcher("a"), target={"ACTIVE"})
    b = h.monitor.watch_states(table.fetcher("b"), target={"ACTIVE"})
    a.add_done_callback(lambda f: 1 / 0)
    a.add_progress_callback(lambda f: 1 / 0)
    h.step(1)
    table.put("b", "ACTIVE")
    h.step(1)
    assert b.result(timeout=0)["status"] == "ACTIVE"
    assert "ZeroDivisionError" in caplog.text


def _notify(future: Any, *, password: str) -> None:
    raise RuntimeError("chat service down")


def test_a_raising_callback_is_logged_by_name_without_its_arguments(
    h: Harness, table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    table.put("a", "ACTIVE")
    fut = h.monitor.watch_states(table.fetcher("a"), target={"ACTIVE"})
    fut.add_done_callback(functools.partial(_notify, password="s3cret-pw"))
    h.step(1)
    records = [r for r in caplog.records if r.name == "osfutures._callbacks"]
    assert records and "_notify" in records[0].getMessage()
    assert "s3cret-pw" not in caplog.text


def test_slow_callback_does_not_stall_polling(h: Harness, table: Table) -> None:
    release = threading.Event()
    table.put("a", "ACTIVE")
    table.put("b", "BUILD")
    a = h.monitor.watch_states(table.fetcher("a"), target={"ACTIVE"})
    b = h.monitor.watch_states(table.fetcher("b"), target={"ACTIVE"})
    a.add_done_callback(lambda f: release.wait(10))
    try:
        h.clock.advance(1)
        assert a.result(timeout=5)
        table.put("b", "ACTIVE")
        # The callback pool is busy (so wait_idle cannot be used): move time on
        # until b is seen, as a real clock would.
        for _ in range(50):
            h.clock.advance(1)
            if b.done():
                break
            time.sleep(0.02)
        assert b.result(timeout=1)["status"] == "ACTIVE"
    finally:
        release.set()


def test_standard_wait_and_as_completed_work(h: Harness, table: Table) -> None:
    table.put("a", "ACTIVE")
    table.put("b", "ACTIVE")
    futs = [h.monitor.watch_states(table.fetcher(k), target={"ACTIVE"}) for k in "ab"]
    h.step(1)
    done, not_done = concurrent.futures.wait(futs, timeout=1)
    assert len(done) == 2 and not not_done
    assert {f.result()["id"] for f in concurrent.futures.as_completed(futs)} == {"a", "b"}


def test_shutdown_refuses_new_work(monitor: Monitor, table: Table) -> None:
    monitor.shutdown()
    with pytest.raises(MonitorShutdown):
        monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})


def test_shutdown_with_cancel_futures_cancels_pending(monitor: Monitor, table: Table) -> None:
    table.put("vm", "BUILD")
    fut = monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    monitor.shutdown(wait=True, cancel_futures=True)
    assert fut.cancelled()


def test_shutdown_without_cancel_finishes_pending_work(h: Harness, table: Table) -> None:
    table.put("vm", "BUILD")
    fut = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    stopper = threading.Thread(target=h.monitor.shutdown)
    stopper.start()
    h.clock.advance(1)
    table.put("vm", "ACTIVE")
    h.clock.advance(1)
    stopper.join(timeout=5)
    assert not stopper.is_alive()
    assert fut.result(timeout=0)["status"] == "ACTIVE"


class ExplodingClock(ManualClock):
    armed = False

    def now(self) -> float:
        if self.armed:
            raise RuntimeError("clock broke")
        return super().now()


def test_crashed_monitor_fails_every_pending_future(table: Table) -> None:
    clock = ExplodingClock()
    monitor = Monitor(clock=clock)
    table.put("vm", "BUILD")
    futs = [monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}) for _ in range(3)]
    assert monitor.wait_idle()
    clock.armed = True
    clock.advance(1)
    for fut in futs:
        error = fut.exception(timeout=5)
        assert isinstance(error, MonitorCrashed)
        assert isinstance(error.__cause__, RuntimeError)
    clock.armed = False
    with pytest.raises(MonitorCrashed):
        monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"})
    assert not monitor.is_alive()


def test_futures_from_many_threads_all_resolve_exactly_once() -> None:
    monitor = Monitor(default_interval=0.01, max_probes_per_second=None)
    resolutions: list[int] = []
    lock = threading.Lock()
    batch = Batch(key="all", fetch_many=lambda items: {i: {"status": "ACTIVE"} for i in items})

    def record(fut: Any) -> None:
        with lock:
            resolutions.append(fut.id)

    def submit(n: int) -> list[Any]:
        futs = []
        for i in range(n):
            fut = monitor.watch_states(
                lambda: None, target={"ACTIVE"}, batch=batch.member((threading.get_ident(), i))
            )
            fut.add_done_callback(record)
            futs.append(fut)
        return futs

    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            parts = list(pool.map(submit, [500] * 8))
        futs = [f for part in parts for f in part]
        _, not_done = concurrent.futures.wait(futs, timeout=30)
        assert not not_done
        assert all(f.result()["status"] == "ACTIVE" for f in futs)
        deadline = time.monotonic() + 10
        while len(resolutions) < len(futs) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(resolutions) == sorted(f.id for f in futs)
    finally:
        monitor.shutdown()


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"timeout": -1}, ValueError, "timeout"),
        ({"timeout": math.nan}, ValueError, "timeout"),
        ({"timeout": "10"}, TypeError, "timeout"),
        ({"interval": 0}, ValueError, "^interval: expected a finite number of seconds > 0"),
        ({"interval": math.inf}, ValueError, "^interval: .*finite"),
        ({"interval": "5"}, TypeError, "^interval"),
        ({"batch": "servers"}, TypeError, "^batch: expected a BatchMember"),
        ({"batch": Batch("k", dict)}, TypeError, r"^batch: .*Batch\(\.\.\.\)\.member\(item\)"),
        ({"reader": "status"}, TypeError, "^reader: expected Reader"),
        ({"on_gone": True}, TypeError, "^on_gone: expected OnGone"),
        ({"name": None}, TypeError, "^name"),
        ({"failed": 3}, TypeError, "failed"),
    ],
)
def test_bad_arguments_are_named(
    monitor: Monitor, kwargs: dict[str, Any], error: type[Exception], names: str
) -> None:
    with pytest.raises(error, match=names):
        monitor.watch(lambda: None, ready=bool, **kwargs)


@pytest.mark.parametrize(
    ("make", "error", "names"),
    [
        (lambda: OnGone(after=1.5), TypeError, r"^OnGone\(after\): expected an integer"),
        (lambda: OnGone(after=0), ValueError, r"^OnGone\(after\): need an integer >= 1"),
        (lambda: OnGone(succeed="yes"), TypeError, r"^OnGone\(succeed\): expected bool"),
        (lambda: Reader(status=3), TypeError, r"^Reader\(status\): expected an attribute name"),
        (lambda: Reader(fault=3), TypeError, r"^Reader\(fault\): expected an attribute name"),
        (lambda: Reader(settled="done"), TypeError, r"^Reader\(settled\): expected a callable"),
        (lambda: Batch(["k"], dict), TypeError, r"^Batch\(key\): must be hashable"),
        (lambda: Batch("k", dict).member(["a"]), TypeError, r"^BatchMember\(item\): must be"),
        (lambda: Batch("k", dict).member(None), ValueError, r"^BatchMember\(item\): need"),
    ],
)
def test_bad_values_are_named_where_they_are_made(
    make: Callable[[], object], error: type[Exception], names: str
) -> None:
    with pytest.raises(error, match=names):
        make()


def test_a_plain_set_of_states_is_refused_with_the_way_to_say_it(monitor: Monitor) -> None:
    with pytest.raises(TypeError, match=r"^states: expected States .*watch_states\(target="):
        monitor.watch(lambda: None, states={"ACTIVE"})  # type: ignore[arg-type]


def test_bad_state_sets_are_named(monitor: Monitor) -> None:
    with pytest.raises(ValueError, match="target"):
        monitor.watch_states(lambda: None, target=set())
    with pytest.raises(TypeError, match="target"):
        monitor.watch_states(lambda: None, target="ACTIVE")
    with pytest.raises(ValueError, match="share"):
        monitor.watch_states(lambda: None, target={"ACTIVE"}, failure={"active"})
    with pytest.raises(TypeError, match="fetch"):
        monitor.watch_states(None, target={"ACTIVE"})  # type: ignore[arg-type]


def test_idle_monitor_does_not_spin() -> None:
    monitor = Monitor()
    monitor.watch(lambda: {"status": "BUILD"}, ready=lambda o: False, interval=30)
    try:
        assert monitor.wait_idle()
        before = time.process_time()
        time.sleep(0.5)
        # A waiting monitor blocks on its condition: the process burns next to no CPU.
        assert time.process_time() - before < 0.05
        assert monitor.pending_count() == 1
    finally:
        monitor.shutdown(cancel_futures=True)


def test_work_chained_after_the_monitor_finished_is_refused_not_lost() -> None:
    monitor = Monitor(default_interval=0.01)
    done = monitor.watch(lambda: {"status": "ACTIVE"}, ready=lambda o: True)
    done.result(timeout=5)
    monitor.shutdown()  # the thread has nothing left to watch and exits
    chained = done.next(lambda vm: monitor.watch(lambda: vm, ready=lambda o: True))
    assert isinstance(chained.exception(timeout=5), MonitorShutdown)
