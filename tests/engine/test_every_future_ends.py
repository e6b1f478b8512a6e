"""Every future ends: cancellation, policy errors and probe threads that die, as a
caller waiting with ``concurrent.futures`` sees them."""

from __future__ import annotations

import concurrent.futures
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
import tenacity

from osfutures import (
    Monitor,
    OperationFailed,
    OperationFuture,
    OperationTimeout,
    PollInterval,
    retrying,
)

from .conftest import Harness, Table
from .test_retrying import Cloud


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
