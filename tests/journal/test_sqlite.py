"""The SQLite store: a new file's mode and WAL, migrations, two processes at once,
coalesced batches, and the refusals (a missing directory, a newer schema)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from osfutures import OperationFuture
from osfutures.journal import SCHEMA_VERSION, Journal, SchemaTooNew
from osfutures.journal import schema as journal_schema
from osfutures.journal.schema import Row
from osfutures.journal.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[2]


def future(name: str = "op", **request: Any) -> OperationFuture[Any]:
    return OperationFuture(
        name=name,
        request={"service": "compute", "call": "create_server", "arguments": request},
        resource_id=f"id-{name}",
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_is_0600_in_wal_mode_and_waits_for_locks(journal_path: Path) -> None:
    journal_path.parent.mkdir()
    with Journal.open(journal_path, busy_timeout=2.5, batch_delay=0) as journal:
        op = future()
        journal.track(op)
        assert journal.flush()
        for name in ("ops.db", "ops.db-wal", "ops.db-shm"):
            assert mode(journal_path.parent / name) == 0o600, name
        assert isinstance(journal.store, SQLiteStore)
        conn = journal.store._connection()
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
    with sqlite3.connect(journal_path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_permissive_umask_still_makes_0600_files(tmp_path: Path) -> None:
    # Another process, with umask 000: the file and its -wal and -shm stay private.
    script = f"""
        from osfutures import OperationFuture
        from osfutures.journal import Journal
        journal = Journal.open({str(tmp_path / "ops.db")!r}, batch_delay=0)
        journal.track(OperationFuture(name="op"))
        assert journal.flush()
        import os, stat
        print(sorted(
            (n, oct(stat.S_IMODE(os.stat(os.path.join({str(tmp_path)!r}, n)).st_mode)))
            for n in os.listdir({str(tmp_path)!r})
        ))
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        umask=0,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "0o6" in done.stdout
    assert all(m == "0o600" for _, m in eval(done.stdout)), done.stdout


def test_the_directory_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ops.db"
    with pytest.raises(FileNotFoundError, match=r"target: the directory .*nowhere.* does not"):
        Journal.open(missing)
    assert not missing.parent.exists(), "the journal creates no directory"


def test_sqlite_url_and_bad_targets(tmp_path: Path) -> None:
    with Journal.open(f"sqlite:///{tmp_path / 'a.db'}") as journal:
        assert journal.target == str(tmp_path / "a.db")
    with pytest.raises(ValueError, match=r"mysql:// is not a journal store"):
        Journal.open("mysql://localhost/db")
    with pytest.raises(ValueError, match="empty"):
        Journal.open("  ")
    with pytest.raises(TypeError, match="expected a path"):
        Journal.open(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is a directory"):
        Journal.open(tmp_path)


def test_an_empty_file_is_migrated_to_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with Journal.open(path) as journal:
        assert journal.schema_version() == SCHEMA_VERSION == 2
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        versions = conn.execute("SELECT version FROM schema_version").fetchall()
    assert {"schema_version", "operations"} <= tables
    assert {f"osfutures_operations_{c}" for c in journal_schema.INDEXED} <= indexes
    assert versions == [(1,), (2,)]


def test_a_newer_schema_is_refused_and_left_alone(journal_path: Path) -> None:
    journal_path.parent.mkdir()
    Journal.open(journal_path).close()
    with sqlite3.connect(journal_path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (3, 0)")
    before = journal_path.read_bytes()
    with pytest.raises(SchemaTooNew, match=r"schema version 3, newer than .* \(up to 2\)") as e:
        Journal.open(journal_path)
    assert (e.value.found, e.value.known) == (3, 2)
    assert journal_path.read_bytes() == before


def test_version_3_is_one_function_away(
    journal_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal_path.parent.mkdir()
    with Journal.open(journal_path, batch_delay=0) as journal:
        journal.track(future("old"))
        assert journal.flush()

    def version_3(d: journal_schema.Dialect) -> list[str]:
        return [f"ALTER TABLE {d.table('operations')} ADD COLUMN token TEXT"]

    monkeypatch.setitem(journal_schema.MIGRATIONS, 3, version_3)
    with Journal.open(journal_path) as journal:
        assert journal.schema_version() == 3
        assert [r["name"] for r in journal.list()] == ["old"]
    with sqlite3.connect(journal_path) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(operations)")]
        assert "token" in columns
        assert [v for (v,) in conn.execute("SELECT version FROM schema_version")] == [1, 2, 3]


WRITER = """
import sys, time
from osfutures import OperationFuture
from osfutures.journal import Journal

path, tag, count, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
journal = Journal.open(path, batch_delay=0, max_batch=7)
while time.time() < start:
    time.sleep(0.005)
futures = []
for i in range(count):
    f = OperationFuture(name=f"{tag}-{i}", resource_id=f"{tag}-{i}")
    journal.track(f)
    futures.append(f)
for step in ("BUILD", "SPAWNING"):
    for f in futures:
        f.set_state(step, progress=50)
for f in futures:
    f.set_result(None)
assert journal.close(timeout=60), journal.error
print(journal.stats())
"""


def test_two_processes_write_at_once(journal_path: Path) -> None:
    journal_path.parent.mkdir()
    start = time.time() + 1.5  # both past their imports by then
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(journal_path), tag, "150", str(start)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        assert "'failed_batches': 0" in out, out
    with Journal.open(journal_path) as journal:
        rows = journal.list(limit=None)
        assert len(rows) == 300
        assert {r["outcome"] for r in rows} == {"succeeded"}
        assert len({r["pid"] for r in rows}) == 2
        assert all([s["status"] for s in r["statuses"]] == ["BUILD", "SPAWNING"] for r in rows)
        assert journal.unfinished() == []


def test_changes_between_writes_are_coalesced(journal_path: Path) -> None:
    journal_path.parent.mkdir()
    with Journal.open(journal_path, batch_delay=30) as journal:
        batches: list[list[Row]] = []
        journal._writer.on_batch = batches.append
        op = future()
        journal.track(op)
        for percent in range(0, 100, 10):
            op.set_state("BUILD", progress=percent)
        op.set_result("done")
        assert journal.flush(timeout=10)
        assert len(batches) == 1 and len(batches[0]) == 1, "eleven changes, one row"
        (row,) = batches[0]
        assert (row.outcome, row.status, row.record["progress"]) == ("succeeded", "BUILD", 90)
        assert len(row.record["statuses"]) == 10
        assert journal.stats()["written"] == 1


def test_a_finished_row_is_never_put_back(journal: Journal) -> None:
    store = journal.store
    done, again = future("done"), future("done")
    journal.track(done)
    done.set_result(None)
    assert journal.flush()
    op_id = journal.op_id(done)
    assert op_id is not None
    # Another process (a later resume) writes an older state of the same operation.
    from osfutures.journal.tracking import Context, Tracked

    stale = Tracked(again, Context())
    stale.op_id = op_id
    assert store.write([stale.row(again)]) == [False]
    assert journal.get(op_id)["outcome"] == "succeeded"
    again.set_exception(RuntimeError("late"))
    assert store.write([stale.row(again)]) == [True], "a finished state may replace another"


def test_json_of_any_request(journal: Journal) -> None:
    odd = OperationFuture(name="odd", request={"when": object(), "n": 1})
    journal.track(odd)
    odd.set_result(None)
    assert journal.flush()
    record = journal.get(journal.op_id(odd) or "")
    assert record["request"]["n"] == 1 and "object" in record["request"]["when"]
    json.dumps(record)


def test_the_store_opens_again_after_a_failure(journal: Journal) -> None:
    store = journal.store
    assert isinstance(store, SQLiteStore)
    store.close()
    assert journal.schema_version() == SCHEMA_VERSION  # reopened on use
    assert os.path.exists(store.path)
