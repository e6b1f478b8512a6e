"""A journal that cannot be written: one warning, ``future.journal_error`` on the
futures it could not write, and every operation still watched to its end.

Each failure kind that can be provoked here: a read-only file, its directory
removed, a full disk (SQLite's page limit says so as a full disk does), a file locked
by another process (and the journal recovering once it is free). PostgreSQL's
(a wrong port, a wrong database) are in test_postgres.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import osfutures
from osfutures.journal import Journal, JournalUnavailable
from osfutures.journal.sqlite import SQLiteStore
from osfutures.testing import FakeCloud

from .conftest import warnings_of


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` read-only, even for root (who ignores its mode: then the
    immutable attribute, where the file system has one)."""
    if os.geteuid() != 0:
        path.chmod(0o400)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make a file read-only for root here: {made.stderr!r}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def servers(
    conn: osfutures.AsyncConnection, boot: dict[str, Any], *names: str
) -> list[osfutures.OperationFuture[Any]]:
    """Build servers; their futures, once all are ACTIVE."""
    futures = [conn.compute.create_server_async(name=n, **boot) for n in names]
    assert {f.result(timeout=60).status for f in futures} == {"ACTIVE"}
    return futures


def test_a_read_only_file(
    cloud: FakeCloud,
    monitor: osfutures.Monitor,
    boot: dict[str, Any],
    journal_path: Path,
    journal_log: pytest.LogCaptureFixture,
) -> None:
    journal_path.parent.mkdir()
    Journal.open(journal_path).close()
    with read_only(journal_path):
        conn = osfutures.wrap(cloud.connect(), monitor=monitor, journal=journal_path)
        journal = conn.journal
        assert journal is not None
        futures = servers(conn, boot, "ro-1", "ro-2")
        assert not journal.flush()
        assert all(isinstance(f.journal_error, JournalUnavailable) for f in futures)
        assert "readonly" in str(futures[0].journal_error)
        gone = conn.compute.delete_server_async(futures[0].result())
        gone.result(timeout=60)
        assert not journal.flush()
        assert isinstance(gone.journal_error, JournalUnavailable)
        journal.close(timeout=5)
    (warning,) = warnings_of(journal_log)
    assert str(journal_path) in warning and "cannot be written" in warning
    assert "go on being watched" in warning


def test_its_directory_removed(
    cloud: FakeCloud,
    monitor: osfutures.Monitor,
    boot: dict[str, Any],
    journal_path: Path,
    journal_log: pytest.LogCaptureFixture,
) -> None:
    journal_path.parent.mkdir()
    conn = osfutures.wrap(cloud.connect(), monitor=monitor, journal=str(journal_path))
    journal = conn.journal
    assert journal is not None
    (first,) = servers(conn, boot, "before")
    assert journal.flush()
    shutil.rmtree(journal_path.parent)
    later = servers(conn, boot, "after-1", "after-2")
    gone = conn.compute.delete_server_async(first.result())
    assert gone.result(timeout=60) is not None
    assert not journal.flush()
    for f in [*later, gone]:
        assert isinstance(f.journal_error, JournalUnavailable), f
    assert first.journal_error is None, "its row was written in time"
    (warning,) = warnings_of(journal_log)
    assert "removed" in warning
    # Once the directory is back, the journal is written again (in a new file).
    journal_path.parent.mkdir()
    assert journal.flush()
    assert all(f.journal_error is None for f in [*later, gone])
    assert {r["resource_name"] for r in journal.list()} == {"after-1", "after-2", "before"}
    assert len(warnings_of(journal_log)) == 1


def test_a_full_disk(
    cloud: FakeCloud,
    monitor: osfutures.Monitor,
    boot: dict[str, Any],
    journal: Journal,
    journal_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SQLite's page limit fails a write as a full disk does ("database or disk is
    # full"); set on every connection the store opens, while the disk is "full".
    store = journal.store
    assert isinstance(store, SQLiteStore)
    disk = {"full": True}
    connect = store._connect

    def connect_to_a_full_disk() -> sqlite3.Connection:
        conn = connect()
        if disk["full"]:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(store, "_connect", connect_to_a_full_disk)
    store.close()
    conn = osfutures.wrap(cloud.connect(), monitor=monitor, journal=journal)
    futures = servers(conn, boot, *(f"full-{i}" for i in range(30)))
    assert not journal.flush()
    assert all("full" in str(f.journal_error) for f in futures), futures[0].journal_error
    (warning,) = warnings_of(journal_log)
    assert "database or disk is full" in warning
    disk["full"] = False
    assert journal.flush(timeout=30)
    assert all(f.journal_error is None for f in futures)
    assert len(journal.list(outcome="succeeded")) == 30
    assert len(warnings_of(journal_log)) == 1


def test_a_file_locked_by_another_process_then_free(
    monitor: osfutures.Monitor,
    journal_path: Path,
    journal_log: pytest.LogCaptureFixture,
) -> None:
    journal_path.parent.mkdir()
    journal = Journal.open(journal_path, busy_timeout=0.1, batch_delay=0)
    holder = sqlite3.connect(journal_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    job = {"status": "BUILD"}
    futures = [
        monitor.watch_states(lambda: dict(job), target={"ACTIVE"}, timeout=30, interval=0.05)
        for _ in range(3)
    ]
    for f in futures:
        journal.track(f)
    job["status"] = "ACTIVE"
    assert [f.result(timeout=30)["status"] for f in futures] == ["ACTIVE"] * 3
    assert not journal.flush()
    assert all("locked" in str(f.journal_error) for f in futures)
    assert "locked" in str(journal.error)
    holder.execute("ROLLBACK")
    holder.close()
    assert journal.flush(timeout=30)
    assert journal.error is None
    assert all(f.journal_error is None for f in futures)
    assert [r["outcome"] for r in journal.list()] == ["succeeded"] * 3
    assert len(warnings_of(journal_log)) == 1
    assert any("written again" in r.getMessage() for r in journal_log.records)
    journal.close()


def test_one_warning_per_journal_not_per_write(
    tmp_path: Path, journal_log: pytest.LogCaptureFixture
) -> None:
    journals = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        journals.append(Journal.open(tmp_path / name / "ops.db", batch_delay=0))
    for name in ("a", "b"):
        shutil.rmtree(tmp_path / name)
    for journal in journals:
        for _ in range(5):
            op = osfutures.OperationFuture(name="op")
            journal.track(op)
            op.set_result(None)
            assert not journal.flush()
        assert journal.stats()["failed_batches"] >= 5
    assert len(warnings_of(journal_log)) == 2, "one per journal"
    for journal in journals:
        journal.close(timeout=1)


def test_close_gives_up_within_its_timeout(journal_path: Path) -> None:
    journal_path.parent.mkdir()
    journal = Journal.open(journal_path, busy_timeout=0.05)
    shutil.rmtree(journal_path.parent)
    op = osfutures.OperationFuture(name="op")
    journal.track(op)
    assert journal.close(timeout=5) is False
    assert journal.closed
    later = osfutures.OperationFuture(name="later")
    journal.track(later)  # tracked, never written: the journal is closed
    later.set_result(None)
    assert later.result() is None
