"""What a journal's store does, and which store a ``journal=`` target names.

Two stores implement :class:`Store`: :class:`~osfutures.journal.sqlite.SQLiteStore`
(a path, or ``sqlite:///path``) and
:class:`~osfutures.journal.postgres.PostgresStore` (a ``postgresql://`` URL).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

from osfutures.journal.schema import Dialect, Row, select, select_one

__all__ = ["Reading", "Store", "store_for"]

SQLITE_SCHEME = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Store(Protocol):
    """Where a journal keeps its rows.

    Every method may be called from any thread (the writer thread writes, callers
    read). Each opens the store on first use, so a store that cannot be reached when
    the journal is made is retried at the next write.

    Attributes:
        target: the store as messages show it (a path; a URL without its password).
        key: what identifies the store (two targets with one key are one journal).
    """

    target: str
    key: str

    def open(self) -> None:
        """Connect and migrate the schema, unless done already.

        Raises:
            JournalUnavailable: the store cannot be reached or written.
            SchemaTooNew: the store was written by a newer osfutures.
        """

    def write(self, rows: Sequence[Row]) -> list[bool]:
        """Write ``rows`` in one transaction; for each, True if written, False if the
        operation was already completed there (a finished row is never put back to
        an unfinished state).

        Raises:
            JournalUnavailable: nothing was written.
            SchemaTooNew: the store was written by a newer osfutures.
        """
        ...

    def get(self, op_id: str) -> dict[str, Any] | None:
        """One operation's record, or ``None``.

        Raises:
            JournalUnavailable: the store cannot be read.
        """
        ...

    def select(
        self,
        *,
        outcomes: Sequence[str] | None,
        since: float | None,
        cloud: str | None,
        newest_first: bool,
        limit: int | None,
    ) -> list[dict[str, Any]]:
        """The records that match, in order of creation.

        Raises:
            JournalUnavailable: the store cannot be read.
        """
        ...

    def prune(self, before: float, *, unfinished_too: bool) -> int:
        """Delete the operations last changed before ``before``; return how many.

        Raises:
            JournalUnavailable: the store cannot be written.
        """
        ...

    def schema_version(self) -> int:
        """The store's schema version.

        Raises:
            JournalUnavailable: the store cannot be read.
        """
        ...

    def close(self) -> None:
        """Release the store's connections (it opens again if used)."""


class Reading:
    """The reads both stores make the same way, with the schema's queries: a store
    gives its ``dialect``, ``_read`` (a query on its connection, its errors as
    :class:`~osfutures.journal.JournalUnavailable`) and ``_record`` (a record as its
    driver returns the JSON column: text for SQLite, decoded for PostgreSQL)."""

    dialect: Dialect

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    @staticmethod
    def _record(raw: Any) -> dict[str, Any]:
        raise NotImplementedError

    def get(self, op_id: str) -> dict[str, Any] | None:
        """One operation's record, or ``None``.

        Raises:
            JournalUnavailable: the store cannot be read.
        """
        rows = self._read(select_one(self.dialect), (op_id,))
        return self._record(rows[0][0]) if rows else None

    def select(
        self,
        *,
        outcomes: Sequence[str] | None,
        since: float | None,
        cloud: str | None,
        newest_first: bool,
        limit: int | None,
    ) -> list[dict[str, Any]]:
        """The records that match (see :meth:`Store.select`).

        Raises:
            JournalUnavailable: the store cannot be read.
        """
        sql, params = select(
            self.dialect,
            outcomes=outcomes,
            since=since,
            cloud=cloud,
            newest_first=newest_first,
            limit=limit,
        )
        return [self._record(raw) for (raw,) in self._read(sql, params)]


def store_for(
    target: str | os.PathLike[str],
    *,
    argument: str = "journal",
    busy_timeout: float = 5.0,
    connect_timeout: float = 5.0,
    schema: str | None = None,
) -> Store:
    """The store a target names: a ``postgresql://`` URL, else a SQLite file.

    Args:
        target: a path, ``sqlite:///path`` or ``postgresql://...``.
        argument: the target's name in messages (``journal``, ``OSFUTURES_JOURNAL``).
        busy_timeout: SQLite: how long a write waits for another process's lock.
        connect_timeout: PostgreSQL: how long connecting may take.
        schema: PostgreSQL: the schema holding the tables (over the URL's
            ``schema=``; default ``osfutures``).

    Raises:
        TypeError: ``target`` is neither a string nor a path.
        ValueError: ``target`` is empty or names another kind of database.
        FileNotFoundError: the SQLite file's directory does not exist.
        ImportError: a PostgreSQL URL without psycopg installed (the ``postgres``
            extra).
    """
    if not isinstance(target, (str, os.PathLike)):
        raise TypeError(
            f"{argument}: expected a path or a postgresql:// URL, got {type(target).__name__}"
        )
    text = os.fspath(target)
    if not isinstance(text, str):
        raise TypeError(f"{argument}: expected a text path, got bytes {text!r}")
    if not text.strip():
        raise ValueError(f"{argument}: empty; give a path or a postgresql:// URL")
    if text.startswith(POSTGRES_SCHEMES):
        try:
            from osfutures.journal.postgres import PostgresStore
        except ImportError as error:
            raise ImportError(
                f"{argument}: a PostgreSQL journal needs psycopg 3 and psycopg-pool:"
                " pip install 'osfutures[postgres]'"
            ) from error
        return PostgresStore(
            text, argument=argument, connect_timeout=connect_timeout, schema=schema
        )
    if text.startswith(SQLITE_SCHEME):
        text = text[len(SQLITE_SCHEME) :]
    elif "://" in text:
        raise ValueError(
            f"{argument}: {text.split('://')[0]}:// is not a journal store; give a path,"
            " sqlite:///path or postgresql://..."
        )
    from osfutures.journal.sqlite import SQLiteStore

    return SQLiteStore(text, argument=argument, busy_timeout=busy_timeout)
