"""retrying(): attempts, cleanup before relaunch, tenacity policies."""

from __future__ import annotations

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
