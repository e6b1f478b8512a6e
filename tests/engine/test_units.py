"""combine(): units of work; command(): outcomes that arrive by callback; set_state."""

from __future__ import annotations

import concurrent.futures
import threading
from concurrent.futures import CancelledError, Future, InvalidStateError
from typing import Any

import pytest

from osfutures import (
    CommandFuture,
    Monitor,
    OperationFailed,
    OperationFuture,
    OperationTimeout,
    Reader,
    UnitFailed,
    combine,
    command,
)

from .conftest import Harness, Table


def building(h: Harness, table: Table, key: str, **options: Any) -> OperationFuture[Any]:
    table.put(key, "BUILD", progress=0)
    return h.monitor.watch_states(
        table.fetcher(key), target={"ACTIVE"}, failure={"ERROR"}, name=f"boot {key}", **options
    )


def test_a_unit_resolves_with_its_parts_results_in_order(h: Harness, table: Table) -> None:
    vm, vol = building(h, table, "vm"), building(h, table, "vol")
    unit = combine(vm, vol, name="vm with volume")
    assert unit.status == "InProgress"
    table.put("vol", "ACTIVE")
    h.step(1)
    assert not unit.done() and unit.progress == 50
    table.put("vm", "ACTIVE")
    h.step(1)
    assert [r["id"] for r in unit.result(timeout=5)] == ["vm", "vol"]
    assert unit.status == "Completed" and unit.progress == 100


def test_a_unit_is_how_to_wait_for_several_before_one_step(h: Harness, table: Table) -> None:
    vm, vol = building(h, table, "vm"), building(h, table, "vol")
    attached = combine(vm, vol).next(lambda both: f"{both[1]['id']} on {both[0]['id']}")
    table.put("vm", "ACTIVE")
    table.put("vol", "ACTIVE")
    h.step(1)
    assert attached.result(timeout=5) == "vol on vm"


def test_a_units_progress_is_the_average_of_its_parts(h: Harness, table: Table) -> None:
    vm, vol = building(h, table, "vm"), building(h, table, "vol")
    unit = combine(vm, vol)
    table.put("vm", "BUILD", progress=40)
    h.step(1)
    assert unit.progress == 20 and unit.status == "InProgress"


def test_a_unit_waits_for_all_and_reports_every_failure(h: Harness, table: Table) -> None:
    a, b, c = (building(h, table, k) for k in "abc")
    unit = combine(a, b, c, name="three")
    table.put("a", "ERROR")
    h.step(1)
    assert not unit.done(), "not fail_fast: the others still run"
    table.put("b", "ACTIVE")
    table.put("c", "ERROR")
    h.step(1)
    with pytest.raises(UnitFailed) as failed:
        unit.result(timeout=5)
    assert sorted(failed.value.errors) == [0, 2]
    assert all(isinstance(e, OperationFailed) for e in failed.value.errors.values())
    assert failed.value.futures[1].result(timeout=0)["status"] == "ACTIVE", "what to clean up"
    assert failed.value.__cause__ is failed.value.errors[0]
    assert str(failed.value).startswith("three: 2 of 3 parts failed: [0] OperationFailed")
    assert unit.status == "Failed"


def test_fail_fast_fails_at_the_first_failure_and_cancel_rest_stops_watching(
    h: Harness, table: Table
) -> None:
    a, b = building(h, table, "a"), building(h, table, "b")
    unit = combine(a, b, fail_fast=True, cancel_rest=True)
    table.put("a", "ERROR")
    h.step(1)
    with pytest.raises(UnitFailed) as failed:
        unit.result(timeout=5)
    assert list(failed.value.errors) == [0]
    assert b.cancelled(), "the other part is no longer watched"


def test_cancelling_a_unit_cancels_the_watching_of_its_parts(h: Harness, table: Table) -> None:
    a, b = building(h, table, "a"), building(h, table, "b")
    unit = combine(a, b)
    assert unit.cancel()
    assert a.cancelled() and b.cancelled()
    done, _ = concurrent.futures.wait([unit], timeout=5)
    assert done == {unit}


def test_a_unit_takes_any_future_and_a_cancelled_part_is_a_failure() -> None:
    plain: Future[int] = Future()
    other: Future[int] = Future()
    unit = combine(plain, other)
    plain.set_result(7)
    other.cancel()
    with pytest.raises(UnitFailed) as failed:
        unit.result(timeout=5)
    assert isinstance(failed.value.errors[1], CancelledError)
    assert combine().result(timeout=0) == [], "an empty unit is done at once"


def test_combine_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match=r"^combine\(futures\[1\]\): expected a future"):
        combine(Future(), "vm")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^combine\(cancel_rest\)"):
        combine(Future(), cancel_rest=True)


def test_a_unit_makes_its_parts_results_only_when_read(h: Harness, table: Table) -> None:
    made: list[str] = []

    def make(row: dict[str, Any]) -> str:
        made.append(threading.current_thread().name)
        return f"server {row['id']}"

    vm = building(h, table, "vm", reader=Reader(result=make))
    unit = combine(vm)
    table.put("vm", "ACTIVE")
    h.step(1)
    assert unit.done() and made == []
    assert unit.result(timeout=0) == ["server vm"] and len(made) == 1


def test_set_state_names_a_stage_wakes_watchers_and_is_kept_in_the_record() -> None:
    unit: OperationFuture[None] = OperationFuture(name="migration")
    seen: list[tuple[str | None, Any]] = []
    unit.add_progress_callback(lambda update: seen.append((update.status, update.progress)))
    unit.set_state("copying-data", progress=30)
    unit.set_state("switching-over")
    assert seen == [("copying-data", 30), ("switching-over", None)]
    assert [h["status"] for h in unit.record()["history"]] == ["copying-data", "switching-over"]
    unit.set_result(None)
    with pytest.raises(InvalidStateError, match="migration is done"):
        unit.set_state("late")
    with pytest.raises(TypeError, match=r"^set_state\(status\)"):
        OperationFuture().set_state("")


def test_a_command_is_acknowledged_then_notified_from_any_thread(monitor: Monitor) -> None:
    future = command({"accepted": True}, name="resize vm-1", timeout=60, monitor=monitor)
    assert isinstance(future, CommandFuture)
    assert future.sync_res == {"accepted": True} and future.status == "Acknowledged"
    assert not future.done()
    notifier = threading.Thread(target=future.notify_success, args=({"flavor": "m1.large"},))
    notifier.start()
    assert future.result(timeout=5) == {"flavor": "m1.large"}
    notifier.join()
    assert future.status == "Succeeded"
    assert not future.notify_failure(RuntimeError("too late")), "already done: no change"


def test_a_command_can_fail_and_its_deadline_holds_without_an_outcome(h: Harness) -> None:
    failing = command(name="stop vm-2", timeout=60, monitor=h.monitor)
    failing.notify_failure(RuntimeError("the agent refused"))
    with pytest.raises(RuntimeError, match="the agent refused"):
        failing.result(timeout=0)
    assert failing.status == "Failed"
    silent = command(name="stop vm-3", timeout=5, monitor=h.monitor)
    h.step(4)
    assert not silent.done()
    h.step(1.5)
    with pytest.raises(OperationTimeout, match="stop vm-3"):
        silent.result(timeout=5)
    with pytest.raises(TypeError, match=r"^notify_failure\(error\)"):
        command(monitor=h.monitor).notify_failure("no")  # type: ignore[arg-type]
