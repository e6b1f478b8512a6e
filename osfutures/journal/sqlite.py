"""The SQLite store: a journal in one file, shared by the processes of one machine.

The file is in WAL mode, so readers never wait for the writer, and each write waits
up to ``busy_timeout`` seconds for another process's (SQLite's ``busy_timeout``).
A new file is created readable by its owner only (mode 0600); SQLite gives its
``-wal`` and ``-shm`` files the same mode, and they are set to 0600 again once open.
The file's directory must exist: the journal creates the file, never a directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from typing import Any

from osfutures.journal.errors import JournalUnavailable, SchemaTooNew
from osfutures.journal.schema import (
    SQLITE,
    Row,
    delete_older,
    latest,
    migrate,
    upsert,
)
from osfutures.journal.store import Reading

__all__ = ["SQLiteStore"]

#: The mode of a journal file this code creates, and of its -wal and -shm files.
FILE_MODE = 0o600


class SQLiteStore(Reading):
    """A journal in a SQLite file.

    Args:
        path: the file (created if missing; its directory must exist).
        argument: the path's name in messages.
        busy_timeout: seconds a write waits for another process's lock before it
            fails (and is retried later).

    Raises:
        FileNotFoundError: the file's directory does not exist.
        ValueError: ``busy_timeout`` is negative.
    """

    dialect = SQLITE

    def __init__(self, path: str, *, argument: str = "journal", busy_timeout: float = 5.0) -> None:
        if not busy_timeout >= 0:
            raise ValueError(f"busy_timeout: expected seconds >= 0, got {busy_timeout!r}")
        self.path = os.path.abspath(os.path.expanduser(path))
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise FileNotFoundError(
                f"{argument}: the directory of the journal {path!r} ({directory}) does not"
                " exist; create it first (the journal creates its file, not directories)"
            )
        if os.path.isdir(self.path):
            raise ValueError(f"{argument}: {path!r} is a directory; name a file in it")
        self.target = self.path
        self.key = f"sqlite:{self.path}"
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None  # (device, inode) of the open file

    def __repr__(self) -> str:
        return f"<SQLiteStore {self.path}>"

    # -- opening ------------------------------------------------------------------

    def open(self) -> None:
        """Open the file (creating it with mode 0600) and migrate it.

        Raises:
            JournalUnavailable: it cannot be opened, or it needs migrating and cannot
                be written.
            SchemaTooNew: it was written by a newer osfutures.
        """
        self._connection()

    def _connection(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is not None and not self._same_file():
                self._forget()
                raise JournalUnavailable(
                    f"journal {self.target} was removed or replaced (or its directory was)"
                    " while open"
                )
            if self._conn is None:
                self._conn = self._connect()
                self._same_file()
            return self._conn

    def _same_file(self) -> bool:
        """True if the path still names the file that is open (or none is open yet).

        In WAL mode SQLite goes on writing to a file that was removed, or whose
        directory was: every write would be lost without a word.
        """
        try:
            found = os.stat(self.path)
        except OSError:
            return False
        identity = (found.st_dev, found.st_ino)
        if self._file is None:
            self._file = identity
        return self._file == identity

    def _connect(self) -> sqlite3.Connection:
        created = self._create_file()
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # transactions are begun and ended here
                check_same_thread=False,  # used by the writer and readers, under _lock
            )
        except sqlite3.Error as error:
            raise self._unavailable("cannot be opened", error) from error
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA synchronous = FULL")
            # Read without a write lock: a journal at this version opens read-only too.
            version, newest = self._version(conn), latest()
            if version > newest:
                raise SchemaTooNew(self.target, version, newest)
            self._use_wal(conn)
            if version < newest:
                self._migrate(conn)
        except sqlite3.Error as error:
            conn.close()
            raise self._unavailable("cannot be opened", error) from error
        except BaseException:
            conn.close()
            raise
        if created:
            self._secure_companions()
        return conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Put the file in WAL mode (set once, it stays in the file). SQLite does not
        wait on its busy timeout for this switch: two processes opening a new journal
        at once may find it locked by the other, which is then setting it. Try again
        until the busy timeout is spent."""
        deadline = time.monotonic() + self.busy_timeout
        while conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _create_file(self) -> bool:
        """Create the file with mode 0600 unless it exists; True if created here."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return False
        except OSError as error:
            raise self._unavailable("cannot be created", error) from error
        os.close(fd)
        os.chmod(self.path, FILE_MODE)  # whatever the umask
        return True

    def _secure_companions(self) -> None:
        # SQLite creates -wal and -shm with the database file's mode; set it again in
        # case they were made by another process with another umask.
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):  # not there (yet), or another user's
                os.chmod(self.path + suffix, FILE_MODE)

    def _version(self, conn: sqlite3.Connection) -> int:
        """The file's schema version, read without taking a write lock."""
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if found is None:
            return 0
        return int(
            conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
        )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        def execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
            return conn.execute(sql, tuple(params)).fetchall()

        conn.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then see it
        try:
            migrate(execute, self.dialect, self.target)
        except BaseException:
            _rollback(conn)
            raise
        conn.execute("COMMIT")

    def _unavailable(self, what: str, error: BaseException) -> JournalUnavailable:
        return JournalUnavailable(f"journal {self.target} {what}: {error}")

    def _forget(self) -> None:
        """Drop the connection after a failure: the next use opens the file again
        (it may have been removed, or become writable)."""
        with self._lock:
            conn, self._conn, self._file = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- writing and reading --------------------------------------------------------

    def write(self, rows: Sequence[Row]) -> list[bool]:
        """Write ``rows`` in one transaction (see :meth:`Store.write
        <osfutures.journal.store.Store.write>`).

        Raises:
            JournalUnavailable: nothing was written (locked, read-only, full, gone).
            SchemaTooNew: the file was written by a newer osfutures.
        """
        statement = upsert(self.dialect)
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    written = [
                        conn.execute(statement, row.values(_dumps(row.record))).rowcount == 1
                        for row in rows
                    ]
                except BaseException:
                    _rollback(conn)
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                self._forget()
                raise self._unavailable("cannot be written", error) from error
        return written

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as error:
                self._forget()
                raise self._unavailable("cannot be read", error) from error

    @staticmethod
    def _record(raw: Any) -> dict[str, Any]:
        return _loads(raw)

    def prune(self, before: float, *, unfinished_too: bool) -> int:
        """Delete the operations last changed before ``before``; return how many.

        Raises:
            JournalUnavailable: the file cannot be written.
        """
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(
                    delete_older(self.dialect, unfinished_too=unfinished_too), (before,)
                ).rowcount
            except sqlite3.Error as error:
                self._forget()
                raise self._unavailable("cannot be written", error) from error

    def schema_version(self) -> int:
        """The file's schema version.

        Raises:
            JournalUnavailable: the file cannot be read.
        """
        with self._lock:
            conn = self._connection()
            try:
                return self._version(conn)
            except sqlite3.Error as error:
                self._forget()
                raise self._unavailable("cannot be read", error) from error

    def close(self) -> None:
        """Close the file (it opens again if used)."""
        self._forget()


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back what is left of a failed transaction (SQLite may have rolled it back
    itself, on a full disk say): the error that failed it is the one to tell."""
    with contextlib.suppress(sqlite3.Error):
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _dumps(record: dict[str, Any]) -> str:
    # default=str: a request of the caller's own making may hold what JSON cannot.
    return json.dumps(record, default=str, separators=(",", ":"))


def _loads(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(text)
    return loaded
