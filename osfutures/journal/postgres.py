"""The PostgreSQL store: a journal shared by processes on any number of machines.

Connections come from a :class:`psycopg_pool.ConnectionPool` (psycopg 3; no ORM). The
tables live in their own schema, ``osfutures`` unless the URL's ``schema=`` or the
``schema`` argument names another; it is created if missing (that needs the CREATE
privilege on the database: without it, create the schema beforehand). The record is a
JSONB column.

Opening first connects once on its own, so a server that is down or a database that
does not exist is told plainly (the driver's message), and no pool is left retrying
in the background; a write that fails closes the pool the same way, and the next
write opens it again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import psycopg_pool
from psycopg.types.json import Jsonb

from osfutures.journal.cluster import ALIVE, Election
from osfutures.journal.errors import JournalUnavailable, SchemaTooNew
from osfutures.journal.schema import (
    Dialect,
    Row,
    delete_older,
    latest,
    migrate,
    postgresql,
    quote,
    upsert,
)
from osfutures.journal.sharing import SharedPolling, dumps
from osfutures.journal.store import Reading
from osfutures.journal.tracking import PROCESS

__all__ = ["DEFAULT_SCHEMA", "OWNER_HEARTBEAT", "PostgresStore"]

log = logging.getLogger("osfutures.journal")

#: The schema holding the journal's tables unless told otherwise.
DEFAULT_SCHEMA = "osfutures"
#: The most connections a journal's pool holds (the writer's, and readers').
MAX_CONNECTIONS = 4

_DRIVER_ERRORS = (psycopg.Error, psycopg_pool.PoolTimeout)


def _owner() -> tuple[str, int, str]:
    """This process, as rows name the process that watches an operation (asked at
    each use: a forked child has a pid of its own)."""
    return (socket.gethostname(), os.getpid(), PROCESS)


#: Seconds between two checks that this process still holds its owner lock (its
#: session may be cut by a server restart or an idle timeout while it lives).
OWNER_HEARTBEAT = 2.0


def _key(host: str, pid: int, process: str | None) -> tuple[str, int] | tuple[str, int, str]:
    """A process's owner lock key, as its rows name it (rows written before the
    process id was kept name a host and pid only)."""
    return (host, pid) if process is None else (host, pid, process)


#: The URL's query parameters that are osfutures's, not libpq's.
_OURS = ("schema", "cluster")


def _split(url: str) -> tuple[str, dict[str, str], str]:
    """The URL without osfutures's parameters, those parameters, and the URL as
    messages show it (without its password)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {name: value for name, value in query if name in _OURS}
    rest = urlencode([(name, value) for name, value in query if name not in _OURS])
    conninfo = urlunsplit(parts._replace(query=rest))
    shown = parts
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        shown = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    return conninfo, ours, urlunsplit(shown._replace(query=rest))


class PostgresStore(Reading):
    """A journal in a PostgreSQL database.

    Args:
        url: ``postgresql://[user[:password]@]host[:port]/database[?schema=...]``;
            ``cluster=off`` turns cluster mode off (see :doc:`/cluster`); every
            other query parameter goes to libpq.
        argument: the URL's name in messages.
        connect_timeout: seconds connecting may take (libpq's ``connect_timeout``)
            and a write may wait for a pooled connection.
        schema: the schema of the tables (over the URL's ``schema=``).

    Attributes:
        cluster: whether the twins of connections that keep their operations here
            share their listings with the other processes that do (cluster mode).

    Raises:
        ValueError: the schema name is empty, ``cluster=`` is neither ``on`` nor
            ``off``, or ``connect_timeout`` is not > 0.
    """

    def __init__(
        self,
        url: str,
        *,
        argument: str = "journal",
        connect_timeout: float = 5.0,
        schema: str | None = None,
    ) -> None:
        if not connect_timeout > 0:
            raise ValueError(f"connect_timeout: expected seconds > 0, got {connect_timeout!r}")
        self.conninfo, ours, self.target = _split(url)
        chosen = schema if schema is not None else ours.get("schema")
        cluster = ours.get("cluster", "on").lower()
        if cluster not in ("on", "off"):
            raise ValueError(f"{argument}: cluster= takes on or off, got {cluster!r}")
        self.cluster = cluster == "on"
        if chosen is not None and not chosen:
            raise ValueError(f"{argument}: the schema name is empty")
        self.schema = chosen or DEFAULT_SCHEMA
        self.dialect: Dialect = postgresql(self.schema)
        if self.schema != DEFAULT_SCHEMA:
            self.target += f" (schema {self.schema})"
        self.key = f"postgresql:{self.conninfo}#{self.schema}"
        self.connect_timeout = connect_timeout
        self._lock = threading.RLock()
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] | None = None
        # While this process writes rows, it holds its owner lock: a process that
        # dies (on any machine) frees it, which tells others its operations are
        # orphans (owner_gone). Claims are the locks of the orphans' owners this
        # process took, so that no other process takes the same ones.
        owners = f"{self.schema}:owners"
        self._owner = Election(self.conninfo, namespace=owners, connect_timeout=connect_timeout)
        self._claims = Election(self.conninfo, namespace=owners, connect_timeout=connect_timeout)
        self._heartbeat: threading.Thread | None = None
        self._closing = threading.Event()
        self._overtaken = False
        self._sharing: SharedPolling | None = None

    def __repr__(self) -> str:
        return f"<PostgresStore {self.target}>"

    # -- opening ------------------------------------------------------------------

    def _connect_kwargs(self) -> dict[str, Any]:
        return {"connect_timeout": max(1, round(self.connect_timeout)), **ALIVE}

    def open(self) -> None:
        """Connect, migrate the schema, and start the pool.

        Raises:
            JournalUnavailable: the server cannot be reached, refuses the connection
                or the migration.
            SchemaTooNew: the tables were written by a newer osfutures.
        """
        self._pool_or_open()

    def _pool_or_open(self) -> psycopg_pool.ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._pool is None:
                self._pool = self._open()
            return self._pool

    def _open(self) -> psycopg_pool.ConnectionPool[psycopg.Connection[Any]]:
        try:
            with psycopg.connect(self.conninfo, **self._connect_kwargs()) as conn:
                self._migrate(conn)
            pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] = (
                psycopg_pool.ConnectionPool(
                    self.conninfo,
                    min_size=1,
                    max_size=MAX_CONNECTIONS,
                    kwargs=self._connect_kwargs(),
                    timeout=self.connect_timeout,
                    name="osfutures-journal",
                    open=False,
                )
            )
            pool.open()
        except _DRIVER_ERRORS as error:
            raise self._unavailable("cannot be opened", error) from error
        return pool

    def _version(self, conn: psycopg.Connection[Any]) -> int:
        table = self.dialect.table("schema_version")
        row = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        if row is None or row[0] is None:
            return 0
        found = conn.execute(f"SELECT COALESCE(MAX(version), 0) FROM {table}").fetchone()
        return int(found[0]) if found else 0

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        version, newest = self._version(conn), latest()
        conn.rollback()
        if version > newest:
            raise SchemaTooNew(self.target, version, newest)
        if version == newest:
            return

        def execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
            cursor = conn.execute(sql, tuple(params))
            return cursor.fetchall() if cursor.description else []

        with conn.transaction():
            # One process migrates; the others wait here, then find it done.
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"osfutures-journal:{self.schema}",)
            )
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.schema)}")
            migrate(execute, self.dialect, self.target)

    def _unavailable(self, what: str, error: BaseException) -> JournalUnavailable:
        message = str(error).strip().replace("\n", " ") or type(error).__name__
        return JournalUnavailable(f"journal {self.target} {what}: {message}")

    def _forget(self) -> None:
        """Close the pool after a failure, so it does not go on reconnecting in the
        background; the next use opens it again."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(timeout=self.connect_timeout)

    # -- writing and reading --------------------------------------------------------

    def write(self, rows: Sequence[Row]) -> list[bool]:
        """Write ``rows`` in one transaction (see :meth:`Store.write
        <osfutures.journal.store.Store.write>`).

        Raises:
            JournalUnavailable: nothing was written (server down, refused, ...).
            SchemaTooNew: the tables were written by a newer osfutures.
        """
        statement = upsert(self.dialect)
        pool = self._pool_or_open()
        self._hold_owner()
        try:
            with pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
                written = []
                for row in rows:
                    cursor.execute(statement, row.values(Jsonb(row.record, dumps=dumps)))
                    written.append(cursor.rowcount == 1)
        except _DRIVER_ERRORS as error:
            self._forget()
            raise self._unavailable("cannot be written", error) from error
        return written

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        pool = self._pool_or_open()
        try:
            with pool.connection() as conn:
                return conn.execute(sql, tuple(params)).fetchall()
        except _DRIVER_ERRORS as error:
            self._forget()
            raise self._unavailable("cannot be read", error) from error

    @staticmethod
    def _record(raw: Any) -> dict[str, Any]:
        return dict(raw)

    def prune(self, before: float, *, unfinished_too: bool) -> int:
        """Delete the operations last changed before ``before``; return how many.

        Raises:
            JournalUnavailable: the database cannot be written.
        """
        pool = self._pool_or_open()
        try:
            with pool.connection() as conn:
                sql = delete_older(self.dialect, unfinished_too=unfinished_too)
                return conn.execute(sql, (before,)).rowcount
        except _DRIVER_ERRORS as error:
            self._forget()
            raise self._unavailable("cannot be written", error) from error

    def schema_version(self) -> int:
        """The schema version of the journal's tables.

        Raises:
            JournalUnavailable: the database cannot be read.
        """
        pool = self._pool_or_open()
        try:
            with pool.connection() as conn:
                return self._version(conn)
        except _DRIVER_ERRORS as error:
            self._forget()
            raise self._unavailable("cannot be read", error) from error

    @contextlib.contextmanager
    def session(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection of the pool, for a few statements.

        Raises:
            JournalUnavailable: the database cannot be reached.
        """
        pool = self._pool_or_open()
        try:
            with pool.connection() as conn:
                yield conn
        except _DRIVER_ERRORS as error:
            self._forget()
            raise self._unavailable("cannot be read", error) from error

    def sharing(self) -> SharedPolling:
        """Cluster mode's side of this journal (made on first use): see
        :mod:`osfutures.journal.sharing`."""
        with self._lock:
            if self._sharing is None:
                self._sharing = SharedPolling(
                    self.conninfo,
                    schema=self.schema,
                    session=self.session,
                    me=":".join(map(str, _owner())),
                    connect_timeout=self.connect_timeout,
                )
            return self._sharing

    def _hold_owner(self) -> None:
        """Hold this process's owner lock, and keep holding it: a heartbeat takes it
        again within :data:`OWNER_HEARTBEAT` seconds of a lost session, so that the
        window in which a live process looks dead is that short. Not got (the server
        cannot say), the rows are written all the same.

        Taken on this thread before the first write; after that the heartbeat alone
        checks it, off the writes' path."""
        if self._heartbeat is not None:
            return
        with self._lock:  # a second writer waits for the first one's check
            if self._heartbeat is not None:
                return
            self._check_owner()  # held before this process's first row
            if not self._closing.is_set():
                self._heartbeat = threading.Thread(
                    target=self._beat, name="osfutures-journal-owner", daemon=True
                )
                self._heartbeat.start()

    def _beat(self) -> None:
        while not self._closing.wait(OWNER_HEARTBEAT):
            self._check_owner()

    def _check_owner(self) -> None:
        me = _owner()
        if me in self._owner.leading() or self._owner.try_lead(me):
            return
        if not self._overtaken and self._server_answers():
            self._overtaken = True
            log.warning(
                "osfutures: journal %s: another process holds this process's owner lock:"
                " it took this process's operations over (this process lost its database"
                " session for a while); both now watch them",
                self.target,
            )

    def _server_answers(self) -> bool:
        """Whether the server answers (then a lock not got is held by another session)."""
        try:
            with psycopg.connect(self.conninfo, **self._connect_kwargs()) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def release_claim(self, host: str, pid: int, process: str | None = None) -> None:
        """Give back the owner lock :meth:`owner_gone` claimed, once the claimed
        operations taken over are written under this process's own name (another
        process may then claim what is left of that owner's, in other clouds)."""
        self._claims.resign(_key(host, pid, process))

    def claimed(self) -> set[tuple[str, int, str | None]]:
        """The owners whose operations this store claimed (:meth:`owner_gone`) and
        has not given back."""
        owners: set[tuple[str, int, str | None]] = set()
        for key in self._claims.held():
            parts: tuple[Any, ...] = tuple(key)  # type: ignore[arg-type]  # what _key made
            owners.add((parts[0], parts[1], parts[2] if len(parts) > 2 else None))
        return owners

    def owner_gone(self, host: str, pid: int, process: str | None = None) -> bool:
        """Whether the process ``pid`` on ``host`` (``process``: the id its rows
        give it, if any), which wrote rows here, is gone (it died, or lost its
        session), on any machine: no session holds its owner lock. True also claims
        its operations: this store takes the lock, so another process asking gets
        False and does not take the same operations over.

        False when it is alive, already claimed, is this process, or the server
        cannot say.
        """
        key = _key(host, pid, process)
        if key == _owner():
            return False
        return self._claims.try_lead(key)

    def close(self) -> None:
        """Close the pool (it opens again if used) and give up the owner locks."""
        self._closing.set()
        with self._lock:
            sharing, self._sharing = self._sharing, None
        if sharing is not None:
            sharing.close()
        heartbeat = self._heartbeat
        if heartbeat is not None:
            heartbeat.join(OWNER_HEARTBEAT * 2)
        self._forget()
        self._owner.close()
        self._claims.close()
