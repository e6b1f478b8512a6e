"""retrying(): attempts, cleanup before relaunch, tenacity policies."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import tenacity

from osfutures import (
    OnGone,
    OperationFailed,
    OperationFuture,
    OperationTimeout,
    RetriesExhausted,
    retrying,
)

from .conftest import Harness, Table


class Cloud:
    """Creates objects in a Table; the n-th create ends in outcomes[n]."""

    def __init__(self, h: Harness, table: Table, outcomes: list[str]) -> None:
        self.h = h
        self.table = table
        self.outcomes = outcomes
        self.log: list[str] = []
        self.created = 0

    def start(self, timeout: float | None) -> OperationFuture[Any]:
        self.created += 1
        key = f"vm{self.created}"
        self.log.append(f"create {key}")
        self.table.put(key, self.outcomes.pop(0))
        return self.h.monitor.watch_states(
            self.table.fetcher(key), target={"ACTIVE"}, timeout=timeout, resource_id=key
        )

    def cleanup(self, failed: OperationFuture[Any]) -> OperationFuture[Any]:
        key = failed.resource_id
        assert key is not None
        self.log.append(f"delete {key}")
        self.table.put(key, "DELETING")
        fut = self.h.monitor.watch(
            self.table.fetcher(key), ready=lambda o: False, on_gone=OnGone(succeed=True)
        )
        fut.add_done_callback(lambda f: self.log.append(f"gone {key}"))
        return fut


def fast(**kwargs: Any) -> dict[str, Any]:
    return {"wait": tenacity.wait_fixed(1), **kwargs}


def test_failed_attempt_is_deleted_and_gone_before_the_relaunch(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR", "ACTIVE"])
    fut = retrying(cloud.start, cloud.cleanup, monitor=h.monitor, **fast())
    h.step(1)  # vm1 seen in ERROR; cleanup starts
    table.remove("vm1")
    h.step(1)  # vm1 seen gone; relaunch scheduled in 1 s
    h.step(1)  # vm2 created
    table.put("vm2", "ACTIVE")
    h.step(1)
    assert fut.result(timeout=5)["id"] == "vm2"
    assert cloud.log == ["create vm1", "delete vm1", "gone vm1", "create vm2"]
    assert [a.outcome for a in fut.attempts] == ["failed", "succeeded"]
    assert isinstance(fut.attempts[0].error, OperationFailed)
    assert fut.attempts[0].resource_id == "vm1"


def test_exhausted_retries_hold_every_error_and_leave_nothing_behind(
    h: Harness, table: Table
) -> None:
    cloud = Cloud(h, table, ["ERROR", "ERROR"])
    fut = retrying(cloud.start, cloud.cleanup, try_count=2, monitor=h.monitor, **fast())
    for key in ("vm1", "vm2"):
        h.step(1)
        table.remove(key)
        h.step(1)
        h.step(1)
    error = fut.exception(timeout=5)
    assert isinstance(error, RetriesExhausted)
    assert len(error.errors) == 2 and all(isinstance(e, OperationFailed) for e in error.errors)
    assert cloud.log[-2:] == ["delete vm2", "gone vm2"]


def test_timed_out_attempt_is_retried(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["BUILD", "ACTIVE"])
    fut = retrying(cloud.start, cloud.cleanup, tout=3, monitor=h.monitor, **fast())
    for _ in range(3):
        h.step(1)
    table.remove("vm1")
    for _ in range(3):
        h.step(1)
    assert fut.result(timeout=5)["id"] == "vm2"
    assert isinstance(fut.attempts[0].error, OperationTimeout)
    assert fut.attempts[0].outcome == "timed_out"


def test_request_the_cloud_rejects_raises_at_the_call(h: Harness) -> None:
    class BadRequest(Exception):
        status_code = 400

    def start(timeout: float | None) -> OperationFuture[Any]:
        raise BadRequest("flavor not found")

    with pytest.raises(BadRequest):
        retrying(start, monitor=h.monitor)


def test_transient_start_error_is_retried(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ACTIVE"])
    errors = [ConnectionError("reset")]

    def start(timeout: float | None) -> OperationFuture[Any]:
        if errors:
            raise errors.pop()
        return cloud.start(timeout)

    fut = retrying(start, monitor=h.monitor, **fast())
    h.step(1)
    h.step(1)
    assert fut.result(timeout=5)["id"] == "vm1"
    assert [a.outcome for a in fut.attempts] == ["failed", "succeeded"]


def test_retry_policy_decides_what_is_retried(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR", "ACTIVE"])
    never = tenacity.retry_if_exception_type(OperationTimeout)
    fut = retrying(cloud.start, cloud.cleanup, retry=never, cleanup_last=False, monitor=h.monitor)
    h.step(1)
    assert isinstance(fut.exception(timeout=5), OperationFailed)
    assert cloud.log == ["create vm1"]


def test_wait_strategy_spaces_attempts(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR", "ACTIVE"])
    fut = retrying(cloud.start, wait=tenacity.wait_fixed(10), monitor=h.monitor)
    h.step(1)
    for _ in range(9):
        h.step(1)
    assert cloud.created == 1
    h.step(1)
    assert cloud.created == 2
    h.step(1)
    assert fut.result(timeout=5)["id"] == "vm2"


def test_cancel_stops_the_current_attempt(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["BUILD"])
    fut = retrying(cloud.start, cloud.cleanup, monitor=h.monitor)
    attempt_future = h.monitor.pending_count()
    assert attempt_future == 1
    assert fut.cancel()
    h.step(1)
    assert h.monitor.pending_count() == 0
    assert cloud.log == ["create vm1"], "cancel deletes nothing"


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"try_count": 0}, ValueError, "try_count"),
        ({"tout": -5}, ValueError, "tout"),
        ({"cleanup": "x"}, TypeError, "cleanup"),
    ],
)
def test_bad_arguments_are_named(
    h: Harness, kwargs: dict[str, Any], error: type[Exception], name: str
) -> None:
    with pytest.raises(error, match=name):
        retrying(lambda t: OperationFuture(), monitor=h.monitor, **kwargs)


# -- tenacity's own decision engine: hooks, options, statistics ---------------------------


def test_tenacity_hooks_run_around_the_cleanup_and_the_pause(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR", "ACTIVE"])
    states: list[tenacity.RetryCallState] = []

    def hook(name: str) -> Any:
        def record(state: tenacity.RetryCallState) -> None:
            states.append(state)
            cloud.log.append(f"{name} {state.attempt_number}")

        return record

    fut = retrying(
        cloud.start,
        cloud.cleanup,
        before=hook("before"),
        after=hook("after"),
        before_sleep=hook("before_sleep"),
        name="build vm",
        monitor=h.monitor,
        **fast(),
    )
    h.step(1)  # vm1 seen in ERROR: tenacity decides (after), cleanup starts
    assert cloud.log == ["before 1", "create vm1", "after 1", "delete vm1"]
    table.remove("vm1")
    h.step(1)  # vm1 seen gone: the pause is certain, before_sleep, then the timer
    assert cloud.log[-2:] == ["gone vm1", "before_sleep 1"]
    h.step(1)
    assert cloud.log[-2:] == ["before 2", "create vm2"]
    table.put("vm2", "ACTIVE")
    h.step(1)
    assert fut.result(timeout=5)["id"] == "vm2"
    state = states[-1]
    assert all(s is state for s in states), "one RetryCallState for the whole operation"
    assert state.idle_for == 1.0 and state.get_fn_name() == "build vm"
    stats = state.retry_object.statistics
    assert stats["attempt_number"] == 2 and stats["idle_for"] == 1.0
    assert stats["delay_since_first_attempt"] == 1.0, "measured on the monitor's clock"


def test_retry_error_callback_answers_after_the_last_cleanup(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR", "ERROR"])

    def fallback(state: tenacity.RetryCallState) -> str:
        cloud.log.append("gave up")
        assert state.outcome is not None
        return f"fallback after {type(state.outcome.exception()).__name__}"

    fut = retrying(
        cloud.start,
        cloud.cleanup,
        try_count=2,
        retry_error_callback=fallback,
        monitor=h.monitor,
        **fast(),
    )
    for key in ("vm1", "vm2"):
        h.step(1)
        table.remove(key)
        h.step(1)
        h.step(1)
    assert fut.result(timeout=5) == "fallback after OperationFailed"
    assert cloud.log[-3:] == ["delete vm2", "gone vm2", "gave up"]
    assert [a.outcome for a in fut.attempts] == ["failed", "failed"]


def test_reraise_fails_with_the_last_attempts_own_error(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR", "ERROR"])
    fut = retrying(cloud.start, try_count=2, reraise=True, monitor=h.monitor, **fast())
    for _ in range(3):
        h.step(1)
    error = fut.exception(timeout=5)
    assert isinstance(error, OperationFailed)
    assert error is fut.attempts[-1].error and cloud.created == 2


def test_stop_strategy_and_try_count_each_stop(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR", "ERROR", "ACTIVE"])
    fut = retrying(
        cloud.start, try_count=5, stop=tenacity.stop_after_attempt(2), monitor=h.monitor, **fast()
    )
    for _ in range(4):
        h.step(1)
    error = fut.exception(timeout=5)
    assert isinstance(error, RetriesExhausted) and isinstance(error.__cause__, OperationFailed)
    assert cloud.created == 2


def test_stop_after_delay_counts_on_the_monitors_clock(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["BUILD", "BUILD", "ACTIVE"])
    fut = retrying(
        cloud.start, try_count=5, stop=tenacity.stop_after_delay(4), monitor=h.monitor, **fast()
    )
    h.step(1)
    table.put("vm1", "ERROR")
    h.step(1)  # vm1 fails 2 s in: retried
    h.step(1)
    assert cloud.created == 2
    h.step(1)
    table.put("vm2", "ERROR")
    h.step(1)  # vm2 fails 5 s in (on the manual clock; no real time passed)
    assert isinstance(fut.exception(timeout=5), RetriesExhausted)
    assert cloud.created == 2


def test_no_before_sleep_when_a_failed_cleanup_ends_the_operation(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ERROR", "ACTIVE"])
    pauses: list[int] = []

    def cleanup(failed: OperationFuture[Any]) -> OperationFuture[Any]:
        raise RuntimeError("delete refused")

    fut = retrying(
        cloud.start,
        cleanup,
        before_sleep=lambda state: pauses.append(state.attempt_number),
        monitor=h.monitor,
        **fast(),
    )
    h.step(1)
    h.step(1)
    error = fut.exception(timeout=5)
    assert isinstance(error, RetriesExhausted), error
    assert isinstance(fut.attempts[0].cleanup_error, RuntimeError)
    assert pauses == [] and cloud.created == 1


@pytest.mark.parametrize("hook", ["after", "before_sleep", "retry_error_callback"])
def test_a_hook_that_raises_fails_the_future_after_cleanup(
    h: Harness, table: Table, hook: str
) -> None:
    cloud = Cloud(h, table, ["ERROR", "ACTIVE"])

    def broken(state: tenacity.RetryCallState) -> None:
        raise ZeroDivisionError(f"{hook} with a bug")

    try_count = 1 if hook == "retry_error_callback" else 3
    fut = retrying(
        cloud.start, cloud.cleanup, try_count=try_count, monitor=h.monitor, **fast(**{hook: broken})
    )
    h.step(1)
    table.remove("vm1")
    h.step(1)
    h.step(1)
    error = fut.exception(timeout=5)
    assert isinstance(error, ZeroDivisionError), error
    assert isinstance(error.__cause__, OperationFailed), "the attempt's error is kept"
    assert cloud.log == ["create vm1", "delete vm1", "gone vm1"]


def test_a_before_hook_that_raises_raises_at_the_call(h: Harness, table: Table) -> None:
    cloud = Cloud(h, table, ["ACTIVE"])

    def before(state: tenacity.RetryCallState) -> None:
        raise ZeroDivisionError("before with a bug")

    with pytest.raises(ZeroDivisionError):
        retrying(cloud.start, cloud.cleanup, before=before, monitor=h.monitor)
    assert cloud.created == 0
    assert h.monitor.pending_count() == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"before": "x"}, r"^before: expected a tenacity hook such as tenacity.before_log"),
        ({"after": 1}, r"^after: expected a tenacity hook such as tenacity.after_log"),
        ({"before_sleep": True}, r"^before_sleep: expected a tenacity hook"),
        ({"retry_error_callback": "none"}, r"^retry_error_callback: expected a tenacity hook"),
        ({"reraise": "yes"}, r"^reraise: expected bool"),
    ],
)
def test_bad_hooks_are_refused_before_the_first_attempt(
    h: Harness, table: Table, kwargs: dict[str, Any], message: str
) -> None:
    cloud = Cloud(h, table, ["ACTIVE"])
    with pytest.raises(TypeError, match=message):
        retrying(cloud.start, cloud.cleanup, monitor=h.monitor, **kwargs)
    assert cloud.created == 0


def test_a_failed_cleanup_is_logged_by_the_modules_logger(
    h: Harness, table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    cloud = Cloud(h, table, ["ERROR"])
    removal: OperationFuture[Any] = OperationFuture()
    removal.set_exception(RuntimeError("delete refused"))
    with caplog.at_level(logging.WARNING, logger="osfutures"):
        fut = retrying(cloud.start, lambda failed: removal, monitor=h.monitor, **fast())
        h.step(1)
        assert isinstance(fut.exception(timeout=5), RetriesExhausted)
    assert [r.name for r in caplog.records if "cleanup after attempt 1" in r.message] == [
        "osfutures.retrying"
    ]
