"""The PostgreSQL store, against the real server (see conftest.py: each test has a
schema of its own, dropped after it; skipped when the server is unreachable, except
in CI)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

import osfutures
from osfutures.journal import Journal, JournalUnavailable, SchemaTooNew
from osfutures.journal.postgres import PostgresStore, _split
from osfutures.testing import FakeCloud

from .conftest import POSTGRES_URL, drop_schema, schema_exists, warnings_of
from .test_sqlite import WRITER

REPO = Path(__file__).resolve().parents[2]


def query(statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
        return conn.execute(statement, params).fetchall()  # type: ignore[arg-type]


def test_open_creates_its_schema_tables_and_indexes(pg_schema: str, pg_url: str) -> None:
    assert not schema_exists(pg_schema)
    with Journal.open(pg_url) as journal:
        assert journal.schema_version() == 2
        assert journal.target.endswith(f"(schema {pg_schema})")
    columns = dict(
        query(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = 'operations'",
            pg_schema,
        )
    )
    assert columns["record"] == "jsonb" and columns["created_at"] == "double precision"
    indexes = {
        r[0] for r in query("SELECT indexname FROM pg_indexes WHERE schemaname = %s", pg_schema)
    }
    for column in ("outcome", "created_at", "updated_at", "cloud", "resource_id"):
        assert f"osfutures_operations_{column}" in indexes
    tables = query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", pg_schema
    )
    assert sorted(t for (t,) in tables) == [
        "observations",
        "operations",
        "schema_version",
        "shares",
    ]
    with Journal.open(pg_url) as again:  # already there: nothing to migrate
        assert again.schema_version() == 2
    assert query(
        sql.SQL("SELECT version FROM {}.schema_version")
        .format(sql.Identifier(pg_schema))
        .as_string()
    ) == [(1,), (2,)]


def test_processes_opening_a_new_schema_at_once_migrate_it_once(pg_url: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_it() -> None:
        try:
            start.wait()
            Journal.open(pg_url).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with Journal.open(pg_url) as journal:
        assert journal.schema_version() == 2


def test_a_newer_schema_is_refused(pg_schema: str, pg_url: str) -> None:
    Journal.open(pg_url).close()
    with psycopg.connect(POSTGRES_URL) as conn:
        conn.execute(
            sql.SQL("INSERT INTO {}.schema_version VALUES (3, 0)").format(sql.Identifier(pg_schema))
        )
    with pytest.raises(SchemaTooNew, match=r"schema version 3, newer than this osfutures"):
        Journal.open(pg_url)


def test_two_processes_write_at_once(pg_url: str) -> None:
    Journal.open(pg_url).close()
    start = time.time() + 1.5
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, pg_url, tag, "100", str(start)],
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
    with Journal.open(pg_url) as journal:
        rows = journal.list(limit=None)
        assert len(rows) == 200 and {r["outcome"] for r in rows} == {"succeeded"}
        assert len({r["pid"] for r in rows}) == 2


def test_twins_write_jsonb_rows(
    cloud: FakeCloud,
    monitor: osfutures.Monitor,
    boot: dict[str, Any],
    pg_schema: str,
    pg_url: str,
) -> None:
    conn = osfutures.wrap(cloud.connect(), monitor=monitor, journal=pg_url)
    journal = conn.journal
    assert journal is not None
    server = conn.compute.create_server_async(name="pg-1", admin_pass="pw-S3cret", **boot)
    conn.compute.delete_server_async(server.result(timeout=60)).result(timeout=60)
    assert journal.flush()
    rows = query(
        sql.SQL(
            "SELECT call, resource_name, outcome, record->'request'->'arguments'->>'admin_pass'"
            " FROM {}.operations ORDER BY created_at"
        )
        .format(sql.Identifier(pg_schema))
        .as_string()
    )
    assert rows == [
        ("create_server", "pg-1", "succeeded", "<redacted>"),
        ("delete_server", "pg-1", "succeeded", None),
    ]
    assert all(r["project_id"] == conn.current_project_id for r in journal.list())


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param("postgresql://127.0.0.1:1/test", id="port"),
        pytest.param(
            f"postgresql://127.0.0.1:5432/no_such_db_{uuid.uuid4().hex[:8]}", id="database"
        ),
    ],
)
def test_an_unreachable_database(
    wrong: str,
    cloud: FakeCloud,
    monitor: osfutures.Monitor,
    boot: dict[str, Any],
    postgres_server: str,
    journal_log: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(JournalUnavailable, match="cannot be opened") as caught:
        Journal.open(wrong, connect_timeout=2)
    assert ("refused" in str(caught.value)) or ("does not exist" in str(caught.value))
    # Through journal=: the connection is made, its operations run to their end.
    conn = osfutures.wrap(cloud.connect(), monitor=monitor, journal=wrong)
    journal = conn.journal
    assert journal is not None
    futures = [conn.compute.create_server_async(name=f"pg-{i}", **boot) for i in range(3)]
    assert {f.result(timeout=60).status for f in futures} == {"ACTIVE"}
    assert not journal.flush()
    assert all(isinstance(f.journal_error, JournalUnavailable) for f in futures)
    (warning,) = warnings_of(journal_log)
    assert wrong.split("?")[0] in warning


def test_a_lost_connection_is_made_again(
    pg_url: str, monitor: osfutures.Monitor, journal_log: pytest.LogCaptureFixture
) -> None:
    # Only this test's own sessions are ended (by their application_name).
    name = f"osfutures-journal-test-{uuid.uuid4().hex[:8]}"
    journal = Journal.open(f"{pg_url}&application_name={name}", batch_delay=0)
    first = osfutures.OperationFuture(name="first")
    journal.track(first)
    assert journal.flush()
    ended = query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", name
    )
    assert ended and all(ok for (ok,) in ended)
    first.set_result(None)
    assert not journal.flush(), "the pooled connection was gone"
    assert isinstance(first.journal_error, JournalUnavailable)
    assert journal.flush(timeout=30), "a new pool, a new connection"
    assert first.journal_error is None
    assert journal.get(journal.op_id(first) or "")["outcome"] == "succeeded"
    assert len(warnings_of(journal_log)) == 1
    journal.close()


def test_dropping_a_schema_removes_all_it_held(pg_schema: str, pg_url: str) -> None:
    with Journal.open(pg_url) as journal:
        journal.track(osfutures.OperationFuture(name="x"))
        assert journal.flush()
    assert schema_exists(pg_schema)
    drop_schema(pg_schema)
    assert not schema_exists(pg_schema)
    with pytest.raises(AssertionError):
        drop_schema("public")  # the tests drop their own schemas only


def test_urls() -> None:
    conninfo, ours, shown = _split(
        "postgresql://u:pw@db.example:5433/ops?schema=j&sslmode=require&cluster=off"
    )
    assert conninfo == "postgresql://u:pw@db.example:5433/ops?sslmode=require"
    assert (
        ours == {"schema": "j", "cluster": "off"}
        and shown == "postgresql://u:***@db.example:5433/ops?sslmode=require"
    )
    store = PostgresStore("postgres://db.example/ops")
    assert store.schema == "osfutures" and store.target == "postgres://db.example/ops"
    assert PostgresStore("postgresql://h/db", schema="mine").dialect.table("operations") == (
        '"mine"."operations"'
    )
    with pytest.raises(ValueError, match="schema name is empty"):
        PostgresStore("postgresql://h/db?schema=")
    assert PostgresStore("postgresql://h/db").cluster, "cluster mode is on by default"
    assert not PostgresStore("postgresql://h/db?cluster=OFF").cluster
    with pytest.raises(ValueError, match=r"^journal: cluster= takes on or off, got 'yes'"):
        PostgresStore("postgresql://h/db?cluster=yes")
