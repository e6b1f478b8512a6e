"""OperationFuture: chaining, cancellation, await, records."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent import futures
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any

import pytest

from osfutures import (
    RECORD_VERSION,
    Gone,
    OnGone,
    OperationFailed,
    OperationFuture,
    OperationTimeout,
    Reader,
)

from .conftest import Harness, Table


def active(h: Harness, table: Table, key: str) -> OperationFuture[Any]:
    table.put(key, "BUILD")
    return h.monitor.watch_states(table.fetcher(key), target={"ACTIVE"}, name=f"boot {key}")


def test_next_runs_on_the_result(h: Harness, table: Table) -> None:
    vm = active(h, table, "vm")
    named = vm.next(lambda obj: obj["id"].upper())
    table.put("vm", "ACTIVE")
    h.step(1)
    assert named.result(timeout=5) == "VM"


def test_next_flattens_a_returned_future(h: Harness, table: Table) -> None:
    vm = active(h, table, "vm")
    attached = vm.next(lambda obj: active(h, table, obj["id"] + "-vol"))
    table.put("vm", "ACTIVE")
    h.step(1)
    h.step(1)
    assert not attached.done()
    assert attached.status == "BUILD", "the chain shows the inner operation's status"
    table.put("vm-vol", "ACTIVE")
    h.step(1)
    assert attached.result(timeout=5)["id"] == "vm-vol"


def test_next_flattens_a_plain_future() -> None:
    parent: OperationFuture[int] = OperationFuture()
    inner: Future[int] = Future()
    child = parent.next(lambda x: inner)
    parent.set_result(1)
    inner.set_result(2)
    assert child.result(timeout=5) == 2


def test_parent_failure_reaches_the_child_unchanged(h: Harness, table: Table) -> None:
    vm = active(h, table, "vm")
    called = []
    child = vm.next(called.append)
    grandchild = child.next(called.append)
    table.put("vm", "ERROR")
    h.step(1)
    error = grandchild.exception(timeout=5)
    assert isinstance(error, OperationFailed)
    assert error is vm.exception() is child.exception()
    assert called == []


def test_error_in_fn_fails_the_child_with_it() -> None:
    parent: OperationFuture[int] = OperationFuture()
    child = parent.next(lambda x: 1 // x)
    parent.set_result(0)
    assert isinstance(child.exception(timeout=5), ZeroDivisionError)


def test_cancelling_the_child_before_it_starts_stops_the_chain(h: Harness, table: Table) -> None:
    vm = active(h, table, "vm")
    called = []
    child = vm.next(called.append)
    assert child.cancel()
    table.put("vm", "ACTIVE")
    h.step(1)
    assert vm.result(timeout=0)["status"] == "ACTIVE", "the parent goes on"
    assert called == []


def test_cancelled_parent_cancels_the_child(h: Harness, table: Table) -> None:
    vm = active(h, table, "vm")
    child = vm.next(lambda obj: obj)
    vm.cancel()
    with pytest.raises(CancelledError):
        child.result(timeout=5)


def test_next_rejects_a_non_callable() -> None:
    with pytest.raises(TypeError, match=r"next\(fn\)"):
        OperationFuture().next(42)  # type: ignore[arg-type]


def test_await_gives_the_result(h: Harness, table: Table) -> None:
    vm = active(h, table, "vm")

    async def main() -> Any:
        table.put("vm", "ACTIVE")
        h.clock.advance(1)
        return await vm

    assert asyncio.run(main())["id"] == "vm"


def test_record_is_json_and_says_what_happened(h: Harness, table: Table) -> None:
    table.put("vm", "ERROR", fault={"message": "No valid host"})
    fut = h.monitor.watch_states(
        table.fetcher("vm"),
        target={"ACTIVE"},
        name="create_server web",
        request={"name": "web", "flavor": "m1.small"},
        resource_id="vm",
    )
    assert fut.record()["outcome"] == "pending"
    h.step(1)
    record = json.loads(json.dumps(fut.record()))
    assert record["outcome"] == "failed"
    assert record["status"] == "ERROR"
    assert record["request"] == {"name": "web", "flavor": "m1.small"}
    assert record["resource_id"] == "vm"
    assert record["error"]["type"] == "osfutures.errors.OperationFailed"
    assert record["version"] == RECORD_VERSION == 3


def test_cancel_returns_false_once_finished() -> None:
    fut: OperationFuture[int] = OperationFuture()
    fut.set_result(1)
    assert fut.cancel() is False
    assert fut.outcome == "succeeded"


class Maker:
    """A ``Reader(result=...)``: records which thread made each result."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def __call__(self, fetched: dict[str, Any]) -> dict[str, Any]:
        self.threads.append(threading.current_thread().name)
        return {"made from": fetched["id"]}


def test_a_result_is_made_once_when_first_read_never_by_the_monitor(
    h: Harness, table: Table
) -> None:
    make = Maker()
    table.put("vm", "BUILD")
    vm = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}, reader=Reader(result=make))
    table.put("vm", "ACTIVE")
    h.step(1)
    assert vm.done() and make.threads == [], "resolving made nothing"
    with ThreadPoolExecutor(8) as readers:
        results = list(readers.map(lambda _: vm.result(timeout=0), range(8)))
    assert results[0] == {"made from": "vm"}
    assert all(r is results[0] for r in results), "every reader gets the same object"
    assert len(make.threads) == 1 and "monitor" not in make.threads[0]


def test_a_future_that_takes_anothers_outcome_gets_the_same_made_result(
    h: Harness, table: Table
) -> None:
    make = Maker()
    table.put("vol", "BUILD")
    inner = h.monitor.watch_states(
        table.fetcher("vol"), target={"ACTIVE"}, reader=Reader(result=make)
    )
    start: OperationFuture[None] = OperationFuture(name="start")
    outer = start.next(lambda _: inner)
    start._set_result_if_pending(None)
    table.put("vol", "ACTIVE")
    h.step(1)
    assert outer.result(timeout=5) is inner.result(timeout=0)
    assert len(make.threads) == 1


def test_a_deletion_result_is_made_from_the_last_record_when_read(h: Harness) -> None:
    make = Maker()
    record = {"id": "vm", "status": "DELETED"}
    gone = h.monitor.watch(
        lambda: Gone(record), ready=bool, on_gone=OnGone(succeed=True), reader=Reader(result=make)
    )
    h.step(1)
    assert gone.done() and make.threads == []
    assert gone.result(timeout=0) == {"made from": "vm"}


def test_what_making_a_result_raises_is_raised_by_the_read(h: Harness, table: Table) -> None:
    def broken(fetched: Any) -> Any:
        raise ValueError("cannot build this record")

    table.put("vm", "ACTIVE")
    vm = h.monitor.watch_states(
        table.fetcher("vm"), target={"ACTIVE"}, reader=Reader(result=broken)
    )
    h.step(1)
    with pytest.raises(ValueError, match="cannot build this record"):
        vm.result(timeout=0)


def test_a_wait_that_runs_out_says_the_operation_goes_on(h: Harness, table: Table) -> None:
    vm = active(h, table, "vm")
    for wait in (vm.result, vm.exception):
        # concurrent.futures.TimeoutError: the builtin one from Python 3.11.
        with pytest.raises(futures.TimeoutError, match=r"^boot vm: not done after .*on") as out:
            wait(0.01)
        assert type(out.value) is futures.TimeoutError, "not OperationTimeout: it is not over"
    table.put("vm", "ACTIVE")
    h.step(1)
    assert vm.result(timeout=1)["status"] == "ACTIVE"


def test_the_operations_own_deadline_is_raised_as_it_is(h: Harness, table: Table) -> None:
    table.put("vm", "BUILD")
    vm = h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}, timeout=2, name="vm")
    h.step(1)
    h.step(1.5)
    with pytest.raises(OperationTimeout, match="timed out waiting for vm"):
        vm.result(timeout=0.01)
