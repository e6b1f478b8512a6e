"""The journal's tables, their versions and the migrations between them.

Both stores (SQLite and PostgreSQL) hold the same two tables (PostgreSQL holds
cluster mode's two more from version 2: :mod:`osfutures.journal.sharing`):

``schema_version``
    one row per migration applied: ``version`` and ``applied_at``. The journal's
    version is the highest one.
``operations``
    one row per tracked operation: the whole record as JSON (``record``, JSONB in
    PostgreSQL) plus the columns that listing filters and sorts on, indexed.

Opening a journal migrates it: every version above the one it has is applied in
order, in one transaction (see :func:`migrate`). To change the schema, write the next
migration (a function of the :class:`Dialect` returning its statements) and add it
to :data:`MIGRATIONS`; :data:`SCHEMA_VERSION` follows. A journal whose version is
higher than :data:`SCHEMA_VERSION` was written by a newer osfutures and is refused
(:class:`~osfutures.journal.SchemaTooNew`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from osfutures.journal.errors import SchemaTooNew

__all__ = [
    "FINISHED",
    "MIGRATIONS",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "UNFINISHED",
    "Dialect",
    "Row",
    "latest",
    "migrate",
]

#: The outcomes of an operation still going on (:attr:`OperationFuture.outcome
#: <osfutures.OperationFuture.outcome>`): what :meth:`Journal.unfinished
#: <osfutures.journal.Journal.unfinished>` lists.
UNFINISHED = ("pending", "running")
#: The outcomes of an operation that is over.
FINISHED = ("succeeded", "failed", "timed_out", "cancelled")
OUTCOMES = UNFINISHED + FINISHED


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier (standard SQL: SQLite and PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Dialect:
    """What differs between the stores' SQL.

    Attributes:
        name: ``"sqlite"`` or ``"postgresql"``.
        json: the record column's type.
        real: the type of the times (seconds since the epoch, as the records have them).
        integer: the type of the process-local id.
        param: the driver's placeholder (``?`` or ``%s``).
        schema: the PostgreSQL schema holding the tables (``None``: unqualified).
    """

    name: str
    json: str
    real: str
    integer: str
    param: str
    schema: str | None = None

    def table(self, name: str) -> str:
        """The quoted, qualified name of one of the journal's tables."""
        if self.schema is None:
            return quote(name)
        return f"{quote(self.schema)}.{quote(name)}"


SQLITE = Dialect("sqlite", json="TEXT", real="REAL", integer="INTEGER", param="?")


def postgresql(schema: str | None) -> Dialect:
    """The PostgreSQL dialect, its tables in ``schema``."""
    return Dialect(
        "postgresql",
        json="JSONB",
        real="DOUBLE PRECISION",
        integer="BIGINT",
        param="%s",
        schema=schema,
    )


# -- migrations ------------------------------------------------------------------

#: The indexed columns of ``operations``: what listing filters and sorts on.
INDEXED = ("outcome", "created_at", "updated_at", "cloud", "resource_id")


def _version_1(d: Dialect) -> list[str]:
    """The first schema: the ``operations`` table and its indexes."""
    operations = d.table("operations")
    statements = [
        f"""CREATE TABLE {operations} (
            op_id TEXT PRIMARY KEY,
            local_id {d.integer},
            name TEXT,
            cloud TEXT,
            region TEXT,
            project_id TEXT,
            service TEXT,
            call TEXT,
            resource_id TEXT,
            resource_name TEXT,
            status TEXT,
            outcome TEXT NOT NULL,
            created_at {d.real} NOT NULL,
            updated_at {d.real} NOT NULL,
            ended_at {d.real},
            record {d.json} NOT NULL
        )"""
    ]
    for column in INDEXED:
        index = quote(f"osfutures_operations_{column}")
        statements.append(f"CREATE INDEX {index} ON {operations} ({column})")
    return statements


def _version_2(d: Dialect) -> list[str]:
    """Cluster mode's tables (:mod:`osfutures.journal.sharing`): what one process's
    listing saw, for the others. PostgreSQL only: a SQLite journal is one machine's.

    ``shares``: one row per shared listing (a cloud's endpoint, project and kind):
    how many listings it has had, when and by whom the last one was made, and where
    the next may start (a ``changes-since`` window, for a new leader to go on from).
    ``observations``: the newest state listed of each object, numbered from one
    sequence, so a process reads only what is newer than it has seen.
    """
    if d.name != "postgresql":
        return []
    observations = d.table("observations")
    return [
        f"CREATE SEQUENCE {d.table('observation_seq')}",
        f"""CREATE TABLE {d.table("shares")} (
            share TEXT PRIMARY KEY,
            listings BIGINT NOT NULL,
            listed_at {d.real} NOT NULL,
            lister TEXT NOT NULL,
            position TEXT
        )""",
        f"""CREATE TABLE {observations} (
            share TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            seen TEXT NOT NULL,
            record {d.json},
            observed_at {d.real} NOT NULL,
            PRIMARY KEY (share, resource_id)
        )""",
        f"CREATE INDEX {quote('osfutures_observations_seq')} ON {observations} (share, seq)",
    ]


#: Each version's migration from the one before: a function of the dialect returning
#: the statements to run. Version 3 is one more entry.
MIGRATIONS: dict[int, Callable[[Dialect], list[str]]] = {1: _version_1, 2: _version_2}
#: The schema version this code writes and reads.
SCHEMA_VERSION = max(MIGRATIONS)


def latest() -> int:
    """The newest version :data:`MIGRATIONS` leads to (:data:`SCHEMA_VERSION`)."""
    return max(MIGRATIONS)


#: Runs one statement with its parameters and returns the rows it gives.
Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


def migrate(execute: Execute, dialect: Dialect, target: str) -> tuple[int, int]:
    """Bring a journal's schema to the latest version (:data:`SCHEMA_VERSION`).

    The caller runs this in one transaction, holding the lock that keeps two
    processes from migrating at once (SQLite's ``BEGIN IMMEDIATE``, a PostgreSQL
    advisory lock).

    Args:
        execute: runs a statement in that transaction.
        dialect: the store's SQL dialect.
        target: the journal, for messages.

    Returns:
        The version found (0 for a new journal) and the version now.

    Raises:
        SchemaTooNew: the journal's version is higher than this code knows; nothing
            was changed.
    """
    versions = dialect.table("schema_version")
    execute(
        f"CREATE TABLE IF NOT EXISTS {versions}"
        f" (version INTEGER PRIMARY KEY, applied_at {dialect.real} NOT NULL)",
        (),
    )
    found = int(execute(f"SELECT COALESCE(MAX(version), 0) FROM {versions}", ())[0][0])
    newest = latest()
    if found > newest:
        raise SchemaTooNew(target, found, newest)
    for version in range(found + 1, newest + 1):
        for statement in MIGRATIONS[version](dialect):
            execute(statement, ())
        p = dialect.param
        execute(
            f"INSERT INTO {versions} (version, applied_at) VALUES ({p}, {p})",
            (version, time.time()),
        )
    return found, newest


# -- rows and the queries on them -------------------------------------------------


@dataclass
class Row:
    """One operation as it is written: the columns and the whole record.

    Attributes:
        op_id: the durable id (a UUID).
        local_id: the future's process-local id.
        name: the operation's name.
        cloud: the cloud's name (clouds.yaml entry), when known.
        region: the region, when known.
        project_id: the project, when known.
        service: the openstacksdk service (``"compute"``), when known.
        call: the call (``"create_server"``), when known.
        resource_id: the id of the object being watched.
        resource_name: its name, when known.
        status: the last status the cloud reported.
        outcome: where the operation stands (see :data:`OUTCOMES`).
        created_at: when the operation started.
        updated_at: when anything about it last changed.
        ended_at: when it ended, ``None`` while it goes on.
        record: the whole record, JSON-able.
    """

    op_id: str
    local_id: int | None
    name: str | None
    cloud: str | None
    region: str | None
    project_id: str | None
    service: str | None
    call: str | None
    resource_id: str | None
    resource_name: str | None
    status: str | None
    outcome: str
    created_at: float
    updated_at: float
    ended_at: float | None
    record: dict[str, Any] = field(default_factory=dict)

    #: The columns, in the order :meth:`values` gives them.
    COLUMNS = (
        "op_id",
        "local_id",
        "name",
        "cloud",
        "region",
        "project_id",
        "service",
        "call",
        "resource_id",
        "resource_name",
        "status",
        "outcome",
        "created_at",
        "updated_at",
        "ended_at",
        "record",
    )

    def values(self, record: Any) -> tuple[Any, ...]:
        """The column values, ``record`` standing for the record (as the driver
        wants it: JSON text, a Jsonb wrapper)."""
        return tuple(record if name == "record" else getattr(self, name) for name in self.COLUMNS)


def upsert(dialect: Dialect) -> str:
    """Insert an operation's row, or update it, except that a finished row is never
    put back to an unfinished state (the update then changes no row: the operation
    was already completed)."""
    operations = dialect.table("operations")
    columns = ", ".join(Row.COLUMNS)
    params = ", ".join(dialect.param for _ in Row.COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in Row.COLUMNS if c != "op_id")
    unfinished = ", ".join(f"'{o}'" for o in UNFINISHED)
    # The existing row is named by its table's bare name in both SQLite and PostgreSQL.
    return (
        f"INSERT INTO {operations} ({columns}) VALUES ({params})"
        f" ON CONFLICT (op_id) DO UPDATE SET {updates}"
        f' WHERE "operations".outcome IN ({unfinished}) OR excluded.outcome NOT IN ({unfinished})'
    )


def select(
    dialect: Dialect,
    *,
    outcomes: Iterable[str] | None = None,
    since: float | None = None,
    cloud: str | None = None,
    newest_first: bool = True,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """The query listing records, and its parameters."""
    p = dialect.param
    where: list[str] = []
    params: list[Any] = []
    if outcomes is not None:
        chosen = list(outcomes)
        where.append(f"outcome IN ({', '.join(p for _ in chosen)})")
        params += chosen
    if since is not None:
        where.append(f"updated_at >= {p}")
        params.append(since)
    if cloud is not None:
        where.append(f"cloud = {p}")
        params.append(cloud)
    order = "DESC" if newest_first else "ASC"
    sql = f"SELECT record FROM {dialect.table('operations')}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY created_at {order}, op_id {order}"
    if limit is not None:
        sql += f" LIMIT {p}"
        params.append(limit)
    return sql, params


def select_one(dialect: Dialect) -> str:
    """The query reading one operation's record by its durable id."""
    return f"SELECT record FROM {dialect.table('operations')} WHERE op_id = {dialect.param}"


def delete_older(dialect: Dialect, *, unfinished_too: bool) -> str:
    """The statement deleting the operations last changed before a time (its one
    parameter); finished ones only unless ``unfinished_too``."""
    sql = f"DELETE FROM {dialect.table('operations')} WHERE updated_at < {dialect.param}"
    if not unfinished_too:
        sql += " AND outcome NOT IN (" + ", ".join(f"'{o}'" for o in UNFINISHED) + ")"
    return sql
