"""Every future ends: cancellation, policy errors and probe threads that die, as a
caller waiting with ``concurrent.futures`` sees them."""

from __future__ import annotations

import concurrent.futures
import math
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import tenacity

from osfutures import (
    Batch,
    ManualClock,
    Monitor,
    OperationFailed,
    OperationFuture,
    OperationTimeout,
    PollingFailed,
    PollInterval,
    retrying,
)

from .conftest import Harness, Table
from .test_retrying import Cloud
from .test_robustness import until


def test_wait_counts_a_cancelled_future_as_done(h: Harness) -> None:
    fut = h.monitor.watch(lambda: {"status": "BUILD"}, ready=bool, timeout=100)
    assert fut.cancel()
    done, not_done = concurrent.futures.wait([fut], timeout=1)
    assert done == {fut} and not not_done
    assert list(concurrent.futures.as_completed([fut], timeout=1)) == [fut]


def test_cancel_wakes_a_wait_already_blocked() -> None:
    fut: OperationFuture[Any] = OperationFuture(name="op")
    woke = threading.Event()

    def waiter() -> None:
        concurrent.futures.wait([fut], return_when=concurrent.futures.FIRST_COMPLETED)
        woke.set()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert not woke.wait(0.05)
    fut.cancel()
    assert woke.wait(2), "wait() blocked before cancel() was never woken"
    assert fut.cancel(), "cancelling twice says the future is cancelled"


def test_wait_without_timeout_returns_after_shutdown_cancelling(h: Harness) -> None:
    futures = [h.monitor.watch(lambda: None, ready=bool, timeout=100) for _ in range(5)]
    ended = threading.Event()

    def waiter() -> None:
        concurrent.futures.wait(futures)
        ended.set()

    threading.Thread(target=waiter, daemon=True).start()
    h.monitor.shutdown(wait=True, cancel_futures=True)
    assert ended.wait(2), "wait() without a timeout hung after shutdown(cancel_futures=True)"
    assert all(f.cancelled() for f in futures)


def test_cancelled_chain_is_done_for_wait() -> None:
    monitor = Monitor(max_probes_per_second=None)
    try:
        fut = monitor.watch(lambda: {"status": "BUILD"}, ready=lambda o: False, timeout=100)
        child = fut.next(lambda obj: obj)
        fut.cancel()
        done, _ = concurrent.futures.wait([fut, child], timeout=2)
        assert done == {fut, child}
    finally:
        monitor.shutdown(cancel_futures=True)


# -- arguments that used to fail late, on the monitor thread ---------------------------


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Monitor(clock=object()), TypeError, r"^clock: expected a Clock"),  # type: ignore[arg-type]
        (lambda: Monitor(default_interval=-1), ValueError, r"^default_interval: "),
        (lambda: Monitor(max_probes_per_second="50"), TypeError, r"^max_probes_per_second"),  # type: ignore[arg-type]
        (lambda: Monitor(callback_workers=0), ValueError, r"^callback_workers"),
        (lambda: Monitor(probe_workers=2.5), TypeError, r"^probe_workers: expected an integer"),  # type: ignore[arg-type]
        (
            lambda: PollInterval(initial=math.inf),
            ValueError,
            r"finite number of seconds > 0, got inf",
        ),
    ],
)
def test_monitor_arguments_are_checked_at_the_call(
    make: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        make()


def test_call_later_refuses_a_missing_owner_and_the_monitor_lives_on(h: Harness) -> None:
    with pytest.raises(TypeError, match=r"^owner: expected OperationFuture"):
        h.monitor.call_later(1, lambda: None, owner=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^delay: expected a number"):
        h.monitor.call_later("1", lambda: None, owner=OperationFuture())  # type: ignore[arg-type]
    h.step(2)
    assert h.monitor.is_alive()
    fut = h.monitor.watch(lambda: {"status": "ACTIVE"}, ready=bool, timeout=10)
    h.step(1)
    assert fut.done()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"monitor": "x"}, r"^monitor: expected a Monitor"),
        ({"retry": 5}, r"^retry: expected a tenacity retry strategy"),
        ({"wait": 2}, r"^wait: expected a tenacity wait strategy such as tenacity.wait_fixed"),
        ({"stop": "never"}, r"^stop: expected a tenacity stop strategy"),
    ],
)
def test_retrying_refuses_a_wrong_policy_before_the_first_attempt(
    h: Harness, table: Table, kwargs: dict[str, Any], message: str
) -> None:
    cloud = Cloud(h, table, ["ERROR"])
    with pytest.raises(TypeError, match=message):
        retrying(cloud.start, cloud.cleanup, **{"monitor": h.monitor, **kwargs})
    assert cloud.created == 0


def _broken_wait(state: tenacity.RetryCallState) -> float:
    raise ZeroDivisionError("a policy with a bug")


@pytest.mark.parametrize(
    "policy",
    [
        {"wait": _broken_wait},
        {"wait": lambda state: "soon"},
        {"wait": lambda state: -1.0},
        {"retry": lambda state: 1 / 0},
        {"stop": lambda state: 1 / 0},
    ],
)
def test_a_policy_that_raises_fails_the_future_after_cleanup(
    h: Harness, table: Table, policy: dict[str, Any]
) -> None:
    cloud = Cloud(h, table, ["ERROR", "ACTIVE"])
    fut = retrying(cloud.start, cloud.cleanup, monitor=h.monitor, **policy)
    h.step(1)  # vm1 seen in ERROR: the policy is asked, and raises
    table.remove("vm1")
    h.step(1)  # the attempt is still cleaned up
    h.step(1)
    error = fut.exception(timeout=2)
    assert isinstance(error, (ZeroDivisionError, ValueError, TypeError)), error
    assert isinstance(error.__cause__, OperationFailed), "the attempt's error is kept"
    assert cloud.log == ["create vm1", "delete vm1", "gone vm1"]


def test_a_deadline_for_the_whole_retrying_operation(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR", "BUILD", "ACTIVE"])
    fut = retrying(
        cloud.start,
        cloud.cleanup,
        try_count=5,
        tout=100,
        timeout=10,
        wait=tenacity.wait_fixed(1),
        monitor=h.monitor,
    )
    h.step(1)  # vm1 ERROR: cleaned up, relaunched a second later with 8 s left
    table.remove("vm1")
    h.step(1)
    h.step(1)
    assert cloud.created == 2
    for _ in range(8):
        h.step(1)  # vm2 stays in BUILD: its attempt times out at the whole deadline
    table.remove("vm2")
    h.step(1)
    h.step(1)
    error = fut.exception(timeout=2)
    assert isinstance(error, OperationTimeout), error
    assert isinstance(error, TimeoutError)
    assert cloud.created == 2, "no attempt starts after the deadline"
    assert cloud.log[-2:] == ["delete vm2", "gone vm2"], "the last attempt is cleaned up"
    assert [a.outcome for a in fut.attempts] == ["failed", "timed_out"]


# -- probe threads: interrupted, hung ----------------------------------------------------


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_a_fetch_raising_an_interrupt_ends_its_operation_and_not_the_polling(
    interrupt: type[BaseException],
) -> None:
    monitor = Monitor(probe_workers=1, max_probes_per_second=None, default_interval=0.01)

    def fetch() -> Any:
        raise interrupt()

    try:
        # More than the pool's 4 x probe_workers threads, were each to die.
        broken = [monitor.watch(fetch, ready=bool, timeout=30) for _ in range(6)]
        for fut in broken:
            error = fut.exception(timeout=5)
            assert isinstance(error, PollingFailed) and isinstance(error.__cause__, interrupt)
        fine = monitor.watch(lambda: {"status": "ACTIVE"}, ready=bool, timeout=30)
        assert fine.result(timeout=5) == {"status": "ACTIVE"}
    finally:
        monitor.shutdown(cancel_futures=True)


def test_hung_probes_do_not_hold_every_slot_until_the_probe_timeout(clock: ManualClock) -> None:
    monitor = Monitor(
        clock=clock, probe_workers=2, probe_timeout=60, max_probes_per_second=None, seed=1
    )
    release = threading.Event()

    def hang() -> Any:
        release.wait(30)
        return {"status": "BUILD"}

    try:
        hung = [monitor.watch(hang, ready=lambda o: False, interval=1, timeout=15) for _ in "ab"]
        ready = monitor.watch(lambda: {"status": "ACTIVE"}, ready=bool, interval=1, timeout=20)
        clock.advance(1)  # both slots taken by the hung probes
        assert not until(ready.done, 0.2)
        clock.advance(5)  # the hung probes are presumed hung: a spare thread polls
        assert until(ready.done, 5), "a ready operation waited for the hung probes' timeout"
        assert ready.result(timeout=0) == {"status": "ACTIVE"}
        assert not any(f.done() for f in hung)
    finally:
        release.set()
        monitor.shutdown(cancel_futures=True)


# -- a throttled monitor is honest about its deadlines -----------------------------------


@pytest.fixture
def throttled(clock: ManualClock) -> Iterator[Callable[[float], Monitor]]:
    """Makes monitors on the test's clock capped at ``rate`` probes/s; shuts them down."""
    made: list[Monitor] = []

    def make(rate: float) -> Monitor:
        made.append(Monitor(clock=clock, max_probes_per_second=rate, default_interval=0.05, seed=1))
        return made[-1]

    yield make
    for monitor in made:
        monitor.shutdown(cancel_futures=True)


def _watch(
    monitor: Monitor, table: Table, key: str, status: str, timeout: float
) -> OperationFuture[Any]:
    """Put a row in ``status`` and watch it until ACTIVE, capped as the cloud's."""
    table.put(key, status)
    return monitor.watch_states(
        table.fetcher(key), target={"ACTIVE"}, timeout=timeout, endpoint="cloud"
    )


def _run(clock: ManualClock, monitor: Monitor, seconds: float, step: float = 0.1) -> None:
    for _ in range(round(seconds / step)):
        clock.advance(step)
        assert monitor.wait_idle(), "monitor did not settle"


def test_throttled_polls_do_not_time_out_operations_that_are_ready(
    clock: ManualClock,
    table: Table,
    throttled: Callable[[float], Monitor],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = throttled(5)
    keys = [f"vm{i}" for i in range(50)]
    futures = [_watch(monitor, table, key, "BUILD", timeout=10) for key in keys]
    _run(clock, monitor, 1)
    for key in keys:
        table.put(key, "ACTIVE")
    _run(clock, monitor, 11)
    outcomes = [repr(f.exception(timeout=0)) for f in futures]
    assert outcomes == ["None"] * 50, "ready for seconds, and timed out unpolled"
    late = [r for r in caplog.records if "probes/s" in r.getMessage()]
    assert len(late) == 1, "demand over the cap is told once"


def test_a_throttled_monitor_polls_the_nearest_deadline_first(
    clock: ManualClock, table: Table, throttled: Callable[[float], Monitor]
) -> None:
    monitor = throttled(1)
    for i in range(20):
        _watch(monitor, table, f"long{i}", "BUILD", timeout=1000)
    short = _watch(monitor, table, "short", "ACTIVE", timeout=5)
    _run(clock, monitor, 2)
    assert short.done() and short.exception(timeout=0) is None


def test_a_timeout_says_when_it_last_looked_and_that_the_cap_delayed_it(
    clock: ManualClock, table: Table, throttled: Callable[[float], Monitor]
) -> None:
    monitor = throttled(2)
    futures = [_watch(monitor, table, f"vm{i}", "BUILD", timeout=5) for i in range(30)]
    _run(clock, monitor, 11)  # deadline 5 s, and 5 s at most for a final look
    errors = [f.exception(timeout=0) for f in futures]
    assert all(isinstance(e, OperationTimeout) for e in errors)
    late = [e for e in errors if isinstance(e, OperationTimeout) and e.delayed_by]
    assert late, "no timeout said its polls were delayed"
    for error in late:
        assert "cap of 2 probes/s" in str(error)
        if error.last_seen is not None:  # some were never polled at all: honest too
            assert "last looked" in str(error) and error.status == "BUILD"
    # The final looks wait for tokens too (about 10 fit in their 5 s): those that
    # got one saw the object right before timing out.
    looked = [e for e in late if e.last_seen is not None and e.last_seen < 0.2]
    assert 5 <= len(looked) <= 15, [e.last_seen for e in late]


# -- an error on a batch listing is no verdict on its members ----------------------------


def test_a_refused_listing_falls_back_to_each_members_own_fetch(h: Harness, table: Table) -> None:
    class Unauthorized(Exception):
        status_code = 401

    refusals = [Unauthorized("listing"), Unauthorized("listing again")]

    def fetch_many(items: Any) -> dict[str, Any]:
        if refusals:
            raise refusals.pop(0)
        return table.fetch_many(items)

    batch = Batch(key="servers", fetch_many=fetch_many)
    for key in ("a", "b"):
        table.put(key, "ACTIVE")
    futures = [
        h.monitor.watch_states(table.fetcher(k), target={"ACTIVE"}, batch=batch.member(k))
        for k in ("a", "b")
    ]
    for _ in range(3):
        h.step(1)
    assert [f.result(timeout=0)["id"] for f in futures] == ["a", "b"]
    assert table.fetches == 2, "after two refused listings each member asked for itself"


def test_a_member_whose_own_fetch_is_refused_fails_named_with_the_cause(
    h: Harness,
) -> None:
    class Forbidden(Exception):
        status_code = 403

    def refuse(*args: Any) -> Any:
        raise Forbidden("no")

    batch = Batch(key="servers", fetch_many=refuse)
    fut = h.monitor.watch_states(
        refuse, target={"ACTIVE"}, batch=batch.member("a"), name="create_server a"
    )
    for _ in range(4):
        h.step(1)
    error = fut.exception(timeout=0)
    assert isinstance(error, PollingFailed) and isinstance(error.__cause__, Forbidden)
    assert "create_server a" in str(error)


# -- the process around the futures ------------------------------------------------------

_EXIT_SCRIPT = """
import osfutures
monitor = osfutures.Monitor(default_interval=0.05)
futures = [monitor.watch(lambda: {{"status": "BUILD"}}, ready=lambda o: False) for _ in range({n})]
done = monitor.watch(lambda: {{"status": "ACTIVE"}}, ready=bool)
done.result(timeout=10)
"""


@pytest.mark.parametrize("pending", [0, 3])
def test_exit_warns_once_of_operations_still_in_flight(pending: int) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT.format(n=pending)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "still in flight" in line]
    if pending:
        assert len(warnings) == 1, run.stderr
        assert "3 operation(s) still in flight" in warnings[0]
    else:
        assert warnings == [], run.stderr


# -- found by a hostile review of the fixes above ----------------------------------------


def test_a_throttled_backlog_is_served_round_robin_not_starved(
    clock: ManualClock, table: Table
) -> None:
    monitor = Monitor(clock=clock, max_probes_per_second=4, default_interval=1, seed=1)
    try:
        for i in range(20):
            _watch(monitor, table, f"busy{i}", "BUILD", timeout=60)
        ready = [_watch(monitor, table, f"ready{i}", "ACTIVE", timeout=600) for i in range(20)]
        _run(clock, monitor, 12)
        assert all(f.done() for f in ready), "later deadlines were never polled"
    finally:
        monitor.shutdown(cancel_futures=True)


def test_values_that_used_to_crash_the_monitor_later_are_refused_or_harmless(
    h: Harness,
) -> None:
    with pytest.raises(TypeError, match=r"^resource_id: expected str"):
        h.monitor.watch(lambda: None, ready=bool, resource_id=12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^Batch\(fetch_many\): expected a callable"):
        Batch("k", "not callable")  # type: ignore[arg-type]
    steep = PollInterval(initial=1, factor=1e10, maximum=1, jitter=0)
    fut = h.monitor.watch(lambda: {"status": "BUILD"}, ready=lambda o: False, interval=steep)
    for _ in range(70):
        h.step(1)
    assert h.monitor.is_alive() and not fut.done()


def test_a_timeout_blames_nothing_when_nothing_held_its_polls(h: Harness) -> None:
    fut = h.monitor.watch(
        lambda: {"status": "BUILD"}, ready=lambda o: False, interval=5, timeout=10
    )
    for _ in range(11):
        h.step(1)
    error = fut.exception(timeout=0)
    assert isinstance(error, OperationTimeout) and error.delayed_by is None


def test_shutdown_after_a_cancel_does_not_wait_for_the_cancelled_poll() -> None:
    monitor = Monitor(max_probes_per_second=None)
    fut = monitor.watch(lambda: {"status": "BUILD"}, ready=lambda o: False, interval=30)
    fut.cancel()
    assert monitor.pending_count() == 0
    finished = threading.Event()
    threading.Thread(target=lambda: (monitor.shutdown(), finished.set()), daemon=True).start()
    assert finished.wait(10), "shutdown waited for a cancelled operation's next poll"


def test_shutdown_cancelling_stops_a_retrying_operation_mid_cleanup(
    h: Harness, table: Table
) -> None:
    cloud = Cloud(h, table, ["ERROR", "ACTIVE", "ACTIVE"])
    fut = retrying(cloud.start, cloud.cleanup, monitor=h.monitor, wait=tenacity.wait_fixed(1))
    h.step(1)  # vm1 in ERROR: its cleanup starts
    h.monitor.shutdown(wait=False, cancel_futures=True)
    for _ in range(3):
        h.clock.advance(1)  # the monitor has exited: nothing to wait_idle() for
    assert until(fut.done, 5)
    assert fut.cancelled()
    assert cloud.created == 1, "relaunched after shutdown(cancel_futures=True)"


def test_the_whole_deadline_holds_for_an_attempt_that_ignores_its_tout(h: Harness) -> None:
    attempts: list[OperationFuture[Any]] = []

    def start(tout: float | None) -> OperationFuture[Any]:
        attempts.append(OperationFuture(name="stubborn"))  # never resolves by itself
        return attempts[-1]

    fut = retrying(start, None, timeout=5, monitor=h.monitor, wait=tenacity.wait_fixed(1))
    for _ in range(7):
        h.step(1)
    assert isinstance(fut.exception(timeout=0), OperationTimeout)
    assert len(attempts) == 1 and attempts[0].done()
