"""Reading a journal back, the same in SQLite and PostgreSQL: list, get, unfinished,
prune, and the arguments they refuse."""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Iterator
from typing import Any

import pytest

from osfutures import OperationFuture
from osfutures.journal import Journal, OperationNotFound
from osfutures.journal.tracking import Context, Tracked


@pytest.fixture(params=["sqlite", "postgresql"])
def any_journal(request: pytest.FixtureRequest) -> Iterator[Journal]:
    name = "journal" if request.param == "sqlite" else "pg_journal"
    yield request.getfixturevalue(name)


def put(journal: Journal, name: str, outcome: str, *, age: float = 0.0, cloud: str = "c1") -> str:
    """Write an operation whose last change was ``age`` seconds ago, straight to the
    store (a journal's own rows are always fresh)."""
    future: OperationFuture[Any] = OperationFuture(name=name, resource_id=f"id-{name}")
    if outcome == "succeeded":
        future.set_result(None)
    elif outcome == "failed":
        future.set_exception(RuntimeError(f"{name} broke"))
    elif outcome == "cancelled":
        future.cancel()
    op = Tracked(future, Context(cloud=cloud, region="r1", project_id="p1"))
    row = op.row(future)
    then = time.time() - age
    record = {**row.record, "created_at": then - 1, "updated_at": then}
    journal.store.write(
        [dataclasses.replace(row, created_at=then - 1, updated_at=then, record=record)]
    )
    return op.op_id


def test_list_filters_and_orders(any_journal: Journal) -> None:
    j = any_journal
    ids = {
        "old-ok": put(j, "old-ok", "succeeded", age=7200),
        "old-bad": put(j, "old-bad", "failed", age=3600),
        "new-ok": put(j, "new-ok", "succeeded", age=10),
        "running": put(j, "running", "pending", age=5, cloud="c2"),
    }
    assert [r["name"] for r in j.list()] == ["running", "new-ok", "old-bad", "old-ok"]
    assert [r["name"] for r in j.list(outcome="succeeded")] == ["new-ok", "old-ok"]
    assert [r["name"] for r in j.list(outcome=["failed", "pending"])] == ["running", "old-bad"]
    assert [r["name"] for r in j.list(since=time.time() - 60)] == ["running", "new-ok"]
    an_hour_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1.5)
    assert len(j.list(since=an_hour_ago)) == 3
    assert [r["name"] for r in j.list(limit=1)] == ["running"]
    assert [r["name"] for r in j.list(cloud="c2")] == ["running"]
    assert len(j.list(limit=None)) == 4
    got = j.get(ids["old-bad"])
    assert got["op_id"] == ids["old-bad"] and got["outcome"] == "failed"
    assert got["error"] == {"type": "builtins.RuntimeError", "message": "old-bad broke"}
    assert (got["cloud"], got["region"], got["project_id"]) == ("c1", "r1", "p1")


def test_unfinished_oldest_first(any_journal: Journal) -> None:
    j = any_journal
    put(j, "done", "succeeded", age=100)
    second = put(j, "second", "pending", age=10)
    first = put(j, "first", "pending", age=50)
    put(j, "elsewhere", "pending", age=60, cloud="c2")
    assert [r["op_id"] for r in j.unfinished(cloud="c1")] == [first, second]
    assert len(j.unfinished()) == 3


def test_get_an_unknown_id(any_journal: Journal) -> None:
    with pytest.raises(OperationNotFound, match=r"has no operation 'nope'") as caught:
        any_journal.get("nope")
    assert caught.value.op_id == "nope" and isinstance(caught.value, KeyError)


def test_prune(any_journal: Journal) -> None:
    j = any_journal
    put(j, "ancient-ok", "succeeded", age=10 * 86400)
    put(j, "ancient-bad", "cancelled", age=9 * 86400)
    put(j, "ancient-running", "pending", age=10 * 86400)
    put(j, "recent", "succeeded", age=60)
    assert j.prune(older_than=datetime.timedelta(days=7)) == 2
    assert sorted(r["name"] for r in j.list()) == ["ancient-running", "recent"]
    assert j.prune(older_than=7 * 86400, unfinished_too=True) == 1
    assert [r["name"] for r in j.list()] == ["recent"]
    assert j.prune(older_than=0) == 1


def test_refused_arguments(journal: Journal) -> None:
    with pytest.raises(ValueError, match="outcome: expected some of pending"):
        journal.list(outcome="done")
    with pytest.raises(ValueError, match="naive datetime"):
        journal.list(since=datetime.datetime.now())
    with pytest.raises(TypeError, match="since"):
        journal.list(since="yesterday")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        journal.list(limit=0)
    with pytest.raises(ValueError, match="older_than"):
        journal.prune(older_than=-1)
    with pytest.raises(TypeError, match="older_than"):
        journal.prune(older_than="1d")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="op_id"):
        journal.get(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="OperationFuture"):
        journal.track("f")  # type: ignore[arg-type]
