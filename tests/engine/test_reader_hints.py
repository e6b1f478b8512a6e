"""Reader.retry_after (a successful answer's wish for the next poll) and
Reader.details (the record a failure's fault comes from)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from osfutures import Batch, Explanation, OperationFailed, Reader

from .conftest import Harness, Table

HINTED = Reader(retry_after="wait", details="body")


def fetches_at(h: Harness, table: Table, key: str) -> tuple[list[float], Callable[[], Any]]:
    calls: list[float] = []
    fetch = table.fetcher(key)

    def timed() -> Any:
        calls.append(h.clock.now())
        return fetch()

    return calls, timed


def test_a_wish_puts_the_next_poll_off_and_none_goes_back_to_the_interval(
    h: Harness, table: Table
) -> None:
    table.put("op", "RUNNING", wait=5)
    calls, fetch = fetches_at(h, table, "op")
    future = h.monitor.watch_states(fetch, target={"DONE"}, reader=HINTED, interval=1)
    h.step(1)
    assert calls == [1.0]
    table.put("op", "RUNNING", wait=None)
    for _ in range(4):
        h.step(1)
    assert calls == [1.0], "polled before the wish"
    h.step(1)
    assert calls == [1.0, 6.0]
    h.step(1)
    assert calls == [1.0, 6.0, 7.0]
    table.put("op", "DONE")
    h.step(1)
    assert future.done()


def test_a_wish_shorter_than_the_interval_does_not_hurry_the_poll(h: Harness, table: Table) -> None:
    table.put("op", "RUNNING", wait=0.5)
    calls, fetch = fetches_at(h, table, "op")
    h.monitor.watch_states(fetch, target={"DONE"}, reader=HINTED, interval=3)
    for _ in range(7):
        h.step(1)
    assert calls == [3.0, 6.0]


def test_the_initial_objects_wish_puts_the_first_poll_off(h: Harness, table: Table) -> None:
    table.put("op", "RUNNING")
    calls, fetch = fetches_at(h, table, "op")
    h.monitor.watch_states(
        fetch,
        target={"DONE"},
        reader=HINTED,
        interval=1,
        initial={"status": "ACCEPTED", "wait": 4},
    )
    for _ in range(3):
        h.step(1)
    assert calls == []
    h.step(1)
    assert calls == [4.0]


def test_a_batch_listing_is_polled_at_its_own_cadence(h: Harness, table: Table) -> None:
    table.put("a", "RUNNING", wait=100)
    batch = Batch(key="ops", fetch_many=table.fetch_many)
    h.monitor.watch_states(
        table.fetcher("a"), target={"DONE"}, reader=HINTED, interval=1, batch=batch.member("a")
    )
    for _ in range(3):
        h.step(1)
    assert table.batch_fetches == 3


@pytest.mark.parametrize(
    ("wish", "error", "message"),
    [
        ("5", TypeError, r"^Reader\(retry_after\) must give seconds or None, gave str '5'"),
        (True, TypeError, r"^Reader\(retry_after\) must give seconds"),
        (-1, ValueError, r"^Reader\(retry_after\) must give finite seconds >= 0, gave -1"),
        (math.inf, ValueError, r"^Reader\(retry_after\) must give finite seconds"),
        (math.nan, ValueError, r"^Reader\(retry_after\) must give finite seconds"),
    ],
)
def test_a_wish_that_is_not_seconds_fails_the_operation(
    h: Harness, table: Table, wish: Any, error: type[Exception], message: str
) -> None:
    table.put("op", "RUNNING", wait=wish)
    future = h.monitor.watch_states(table.fetcher("op"), target={"DONE"}, reader=HINTED)
    h.step(1)
    with pytest.raises(error, match=message):
        future.result(timeout=0)


def test_a_failure_carries_the_details_read(h: Harness, table: Table) -> None:
    body = {"error": {"code": "E1", "message": "broke"}}
    table.put("op", "FAILED", body=body)
    reader = Reader(fault=lambda row: row["body"]["error"]["message"], details="body")
    future = h.monitor.watch_states(
        table.fetcher("op"), target={"DONE"}, failure={"FAILED"}, reader=reader
    )
    h.step(1)
    error = future.exception(timeout=0)
    assert isinstance(error, OperationFailed)
    assert (error.fault, error.details) == ("broke", body)


def test_an_unexpected_state_carries_the_details_too(h: Harness, table: Table) -> None:
    table.put("op", "PAUSED", body={"why": "operator"})
    future = h.monitor.watch_states(
        table.fetcher("op"), target={"DONE"}, pending={"RUNNING"}, reader=HINTED
    )
    h.step(1)
    error = future.exception(timeout=0)
    assert isinstance(error, OperationFailed)
    assert error.details == {"why": "operator"}
    assert error.fault == "unexpected state PAUSED"


def test_a_success_reads_no_details(h: Harness, table: Table) -> None:
    table.put("op", "DONE", body=["not", "a", "mapping"])
    future = h.monitor.watch_states(table.fetcher("op"), target={"DONE"}, reader=HINTED)
    h.step(1)
    assert future.result(timeout=0)["status"] == "DONE"


def test_details_that_are_not_a_mapping_fail_the_operation(h: Harness, table: Table) -> None:
    table.put("op", "FAILED", body=["a", "list"])
    future = h.monitor.watch_states(
        table.fetcher("op"), target={"DONE"}, failure={"FAILED"}, reader=HINTED
    )
    h.step(1)
    with pytest.raises(TypeError, match=r"^Reader\(details\) must give a mapping or None"):
        future.result(timeout=0)


@pytest.mark.parametrize("explained", [False, True])
def test_an_inquiry_keeps_the_details_read_unless_it_brings_its_own(
    h: Harness, table: Table, explained: bool
) -> None:
    table.put("op", "FAILED", body={"read": True})
    found = Explanation("asked", {"asked": True}) if explained else None
    future = h.monitor.watch_states(
        table.fetcher("op"),
        target={"DONE"},
        failure={"FAILED"},
        reader=HINTED,
        inquire=lambda row: found,
    )
    h.step(1)
    h.step(1)
    error = future.exception(timeout=0)
    assert isinstance(error, OperationFailed)
    assert error.details == ({"asked": True} if explained else {"read": True})


@pytest.mark.parametrize("field", ["details", "retry_after"])
def test_a_reader_field_that_is_neither_a_name_nor_callable_is_named(field: str) -> None:
    with pytest.raises(TypeError, match=rf"^Reader\({field}\): expected an attribute name"):
        Reader(**{field: 3})
