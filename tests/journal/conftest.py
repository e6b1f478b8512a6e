"""Fixtures of the journal's tests: SQLite files, PostgreSQL schemas, FakeCloud.

The PostgreSQL tests use the server at ``OSFUTURES_TEST_POSTGRES`` (default
``postgresql://127.0.0.1:5432/test``). Each test gets a schema of its own, named
``osfutures_test_<run>_<n>``, and drops it afterwards; nothing else in the database
is read or changed. When the server cannot be reached they are skipped, saying why,
unless ``OSFUTURES_REQUIRE_POSTGRES`` is set (CI sets it): then they fail.
"""

from __future__ import annotations

import itertools
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import osfutures
from osfutures.journal import Journal, twins
from osfutures.testing import FakeCloud
from osfutures.testing.fakecloud.scenario import Scenario

POSTGRES_URL = os.environ.get("OSFUTURES_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
#: This run's schemas all start with this (a test run never drops another's).
SCHEMA_PREFIX = f"osfutures_test_{uuid.uuid4().hex[:10]}_"
_schemas = itertools.count(1)
BUILD_SECONDS = 0.3


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    """Where a test's SQLite journal goes (not created)."""
    return tmp_path / "journal" / "ops.db"


@pytest.fixture
def journal(journal_path: Path) -> Iterator[Journal]:
    """A SQLite journal, written at once (no batch delay), closed after the test."""
    journal_path.parent.mkdir()
    opened = Journal.open(journal_path, batch_delay=0)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The test server's URL, once it answered; else skip (or fail, in CI)."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as error:
        reason = f"PostgreSQL at {POSTGRES_URL} is not reachable ({error})".replace("\n", " ")
        if os.environ.get("OSFUTURES_REQUIRE_POSTGRES"):
            pytest.fail(f"{reason}; OSFUTURES_REQUIRE_POSTGRES is set, so this fails")
        pytest.skip(f"{reason}: start it, or set OSFUTURES_TEST_POSTGRES")
    return POSTGRES_URL


def drop_schema(schema: str) -> None:
    """Drop one of this run's schemas (refuses any other name)."""
    import psycopg
    from psycopg import sql

    assert schema.startswith(SCHEMA_PREFIX), schema
    with psycopg.connect(POSTGRES_URL, connect_timeout=3, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def schema_exists(schema: str) -> bool:
    import psycopg

    with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
        return bool(row and row[0])


@pytest.fixture
def pg_schema(postgres_server: str) -> Iterator[str]:
    """A schema name of this test's own; dropped after it (with all it holds)."""
    schema = f"{SCHEMA_PREFIX}{next(_schemas)}"
    try:
        yield schema
    finally:
        drop_schema(schema)


@pytest.fixture
def pg_url(postgres_server: str, pg_schema: str) -> str:
    """The test server's URL, naming this test's schema."""
    return f"{postgres_server}?schema={pg_schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A journal's target: a SQLite file, or this test's PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "ops.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def pg_journal(pg_url: str) -> Iterator[Journal]:
    """A PostgreSQL journal in this test's schema, closed before the schema is dropped."""
    opened = Journal.open(pg_url, batch_delay=0)
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def _no_journal_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OSFUTURES_JOURNAL", raising=False)


@pytest.fixture(autouse=True)
def _close_shared_journals() -> Iterator[None]:
    """Close the journals that journal= opened during the test (one per target and
    process, kept for the next connection): the next test starts with none."""
    yield
    with twins._shared_lock:
        opened = list(twins._shared.values())
        twins._shared.clear()
    for journal in opened:
        journal.close(timeout=5)


@pytest.fixture
def journal_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The journal's log records, from DEBUG up."""
    caplog.set_level(logging.DEBUG, logger="osfutures.journal")
    return caplog


# -- FakeCloud (as tests/twins/conftest.py) -------------------------------------------


@pytest.fixture
def cloud() -> Iterator[FakeCloud]:
    with FakeCloud(seed=7, scenario=Scenario.fast(seed=7, duration=BUILD_SECONDS)) as c:
        yield c


@pytest.fixture
def monitor() -> Iterator[osfutures.Monitor]:
    m = osfutures.Monitor(default_interval=0.1, max_probes_per_second=None, seed=3)
    yield m
    m.shutdown(cancel_futures=True)


@pytest.fixture
def boot(cloud: FakeCloud) -> dict[str, Any]:
    """The arguments every test server boots with."""
    plain = cloud.connect()
    flavor = next(iter(plain.compute.flavors()))
    image = next(iter(plain.image.images()))
    plain.close()
    return {"flavor_id": flavor.id, "image_id": image.id, "networks": "none"}


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The journal's warnings."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "osfutures.journal" and r.levelno == logging.WARNING
    ]
