"""watch(inquire=...): an operation whose object settles where it does not go (a
failed action the cloud undid) fails with the cloud's explanation, not at its deadline."""

from __future__ import annotations

from typing import Any

import pytest

from osfutures import Batch, Explanation, OperationFailed, Reader

from .conftest import Harness, Table

NOVA_LIKE = Reader(settled=lambda row: row.get("task") is None)
STOP = {"target": {"SHUTOFF"}, "pending": {"ACTIVE"}, "failure": {"ERROR"}}


class Actions:
    """The cloud's record of the action: what each inquiry answers, and the count."""

    def __init__(self) -> None:
        self.answer: Any = None
        self.asked: list[Any] = []

    def __call__(self, last: Any) -> Any:
        self.asked.append(last)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def watched(h: Harness, table: Table, row: tuple[str, str, str | None], **options: Any) -> Any:
    """Put ``row`` (key, status, task) in the table and watch it."""
    key, status, task = row
    table.put(key, status, task=task)
    return h.monitor.watch_states(table.fetcher(key), **options)


def stop(h: Harness, table: Table, actions: Actions, **options: Any) -> Any:
    return watched(
        h, table, ("vm", "ACTIVE", "powering-off"),
        reader=NOVA_LIKE, inquire=actions, name="stop vm", **STOP, **options,
    )  # fmt: skip


def test_a_reverted_action_fails_with_the_clouds_explanation(h: Harness, table: Table) -> None:
    actions = Actions()
    fut = stop(h, table, actions)
    h.step(1)
    assert actions.asked == [], "no inquiry while a task runs"
    table.put("vm", "ACTIVE", task=None)  # the stop failed and was undone
    action = {"message": "Error", "events": [{"event": "compute_stop_instance"}]}
    actions.answer = Explanation("stop: compute_stop_instance Error", action)
    h.step(1)
    with pytest.raises(OperationFailed) as failed:
        fut.result(timeout=0)
    assert failed.value.fault == "stop: compute_stop_instance Error"
    assert failed.value.details == action
    assert failed.value.status == "ACTIVE"
    assert failed.value.resource == {"id": "vm", "status": "ACTIVE", "task": None}
    assert len(actions.asked) == 1


def test_an_inquiry_that_finds_nothing_is_not_repeated_until_the_object_moves_again(
    h: Harness, table: Table
) -> None:
    actions = Actions()
    fut = stop(h, table, actions)
    table.put("vm", "ACTIVE", task=None)  # e.g. a copy from before the action
    for _ in range(4):
        h.step(1)
    assert len(actions.asked) == 1 and not fut.done()
    table.put("vm", "ACTIVE", task="powering-off")
    h.step(2)
    table.put("vm", "ACTIVE", task=None)
    actions.answer = Explanation("the stop failed")
    for _ in range(3):
        h.step(1)
    assert len(actions.asked) == 2
    with pytest.raises(OperationFailed, match="the stop failed"):
        fut.result(timeout=0)


def test_an_inquiry_that_raises_changes_nothing(h: Harness, table: Table) -> None:
    actions = Actions()
    actions.answer = PermissionError("403: policy forbids listing instance actions")
    fut = stop(h, table, actions)
    table.put("vm", "ACTIVE", task=None)
    h.step(1)
    h.step(1)
    assert len(actions.asked) == 1 and not fut.done()
    table.put("vm", "SHUTOFF", task=None)
    for _ in range(3):
        h.step(1)
    assert fut.result(timeout=0)["status"] == "SHUTOFF"


def test_a_batch_member_asks_on_its_own_and_goes_back_to_its_batch(
    h: Harness, table: Table
) -> None:
    actions = Actions()
    batch = Batch("vms", table.fetch_many)
    table.put("other", "ACTIVE", task="powering-off")
    other = h.monitor.watch_states(
        table.fetcher("other"), reader=NOVA_LIKE, batch=batch.member("other"), **STOP
    )
    fut = stop(h, table, actions, batch=batch.member("vm"))
    table.put("vm", "ACTIVE", task=None)
    h.step(1)
    assert len(actions.asked) == 1 and actions.asked[0]["id"] == "vm"
    assert table.fetches == 0, "the inquiry replaced the member's own fetch"
    listings = table.batch_fetches
    table.put("vm", "SHUTOFF", task=None)
    table.put("other", "SHUTOFF", task=None)
    for _ in range(3):
        h.step(1)
    assert fut.result(timeout=0)["status"] == other.result(timeout=0)["status"] == "SHUTOFF"
    assert table.batch_fetches > listings and table.fetches == 0


def test_inquire_and_confirm_are_checked_at_the_call(h: Harness, table: Table) -> None:
    with pytest.raises(TypeError, match=r"^inquire: expected a callable"):
        h.monitor.watch_states(
            table.fetcher("vm"), target={"ACTIVE"}, reader=NOVA_LIKE, inquire="actions"
        )
    with pytest.raises(TypeError, match=r"^confirm: .*give one"):
        h.monitor.watch_states(table.fetcher("vm"), target={"ACTIVE"}, confirm=True)


CINDER_LIKE = Reader(fault=lambda row: row.get("reason"))  # shows no task


def create_volume(h: Harness, table: Table, actions: Actions) -> Any:
    return watched(
        h, table, ("vol", "creating", None), target={"available"}, failure={"error"},
        reader=CINDER_LIKE, inquire=actions, name="create_volume vol",
    )  # fmt: skip


def test_a_failure_carries_what_the_inquiry_found(h: Harness, table: Table) -> None:
    actions = Actions()
    fut = create_volume(h, table, actions)
    message = {"message_id": "VOLUME_000002", "event_id": "VOLUME_VOLUME_001_002"}
    actions.answer = Explanation("schedule allocate volume: Could not find any available", message)
    table.put("vol", "error")
    h.step(1)
    with pytest.raises(OperationFailed) as failed:
        fut.result(timeout=0)
    assert failed.value.status == "error"
    assert failed.value.fault == "schedule allocate volume: Could not find any available"
    assert failed.value.details == message
    assert str(failed.value).endswith("Could not find any available")


def test_a_failure_keeps_the_objects_own_fault_first(h: Harness, table: Table) -> None:
    actions = Actions()
    actions.answer = Explanation("from the messages")
    fut = create_volume(h, table, actions)
    table.put("vol", "error", reason="from the object")
    h.step(1)
    with pytest.raises(OperationFailed, match=r"from the object; from the messages$"):
        fut.result(timeout=0)


def test_a_failure_whose_inquiry_fails_or_finds_nothing_is_reported_as_seen(
    h: Harness, table: Table
) -> None:
    quiet, broken = Actions(), Actions()
    broken.answer = ConnectionError("messages API down")
    futures = []
    for actions in (quiet, broken):
        futures.append(create_volume(h, table, actions))
    table.put("vol", "error", reason="disk full")
    h.step(1)
    for fut in futures:
        with pytest.raises(OperationFailed) as failed:
            fut.result(timeout=0)
        assert failed.value.fault == "disk full" and failed.value.details is None


def test_an_inquiry_that_answers_the_wrong_type_fails_the_operation_saying_so(
    h: Harness, table: Table
) -> None:
    actions = Actions()
    actions.answer = "just words"
    fut = stop(h, table, actions)
    table.put("vm", "ACTIVE", task=None)
    h.step(1)
    with pytest.raises(TypeError, match=r"^inquire of stop vm must return an Explanation or None"):
        fut.result(timeout=0)


def test_explanation_checks_its_fields() -> None:
    with pytest.raises(ValueError, match=r"^Explanation\(fault\)"):
        Explanation("")
    with pytest.raises(TypeError, match=r"^Explanation\(details\)"):
        Explanation("failed", details=["not", "a", "mapping"])  # type: ignore[arg-type]


def migrate(h: Harness, table: Table, actions: Actions) -> Any:
    return watched(
        h, table, ("vm", "MIGRATING", "migrating"), target={"ACTIVE"}, pending={"MIGRATING"},
        reader=NOVA_LIKE, inquire=actions, confirm=True, name="live_migrate vm",
    )  # fmt: skip


def test_a_confirmed_success_waits_for_the_inquiry(h: Harness, table: Table) -> None:
    quiet, failing, broken = Actions(), Actions(), Actions()
    failing.answer = Explanation("live-migration failed: conductor_live_migrate_instance Error")
    broken.answer = ConnectionError("refused")
    futures = [migrate(h, table, actions) for actions in (quiet, failing, broken)]
    table.put("vm", "ACTIVE", task=None)  # migrated, or rolled back where it was
    h.step(1)
    assert all(len(a.asked) == 1 for a in (quiet, failing, broken))
    assert futures[0].result(timeout=0)["status"] == "ACTIVE"
    with pytest.raises(OperationFailed, match=r"conductor_live_migrate_instance Error$"):
        futures[1].result(timeout=0)
    assert futures[2].result(timeout=0)["status"] == "ACTIVE", "no answer: the state stands"


def test_a_success_is_not_held_without_confirm(h: Harness, table: Table) -> None:
    actions = Actions()
    fut = stop(h, table, actions)
    table.put("vm", "SHUTOFF", task=None)
    h.step(1)
    assert fut.result(timeout=0)["status"] == "SHUTOFF" and actions.asked == []
