"""Cluster mode's PostgreSQL primitives: who polls what, and telling the others.

Processes that share a PostgreSQL journal can share the polling: for each key (a
cloud, region, project and kind) one process of the cluster polls, and the others
learn what it sees. Two primitives make that, each on a connection of its own,
outside the journal's pool (a pooled connection is shared and reset; these hold
session state):

* :class:`Election`: a process leads a key while it holds a session-level advisory
  lock on it. PostgreSQL frees the lock when the session ends, so a process that dies
  (even by SIGKILL: the kernel closes its socket) or loses its connection gives its
  keys up at once, with no lease or timer of ours. A transaction-pooling proxy
  (PgBouncer in transaction mode) breaks this: sessions are not the client's.
* :class:`Channel`: ``NOTIFY`` / ``LISTEN`` of operation ids under a topic. A
  listener that loses its connection may miss notifications: it says so
  (``on_notice(None)``: re-read what you watch) when it notices, and again once it
  listens again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, NamedTuple, TypeVar

import psycopg

__all__ = ["MAX_PAYLOAD", "Channel", "Election", "Notice", "lock_id", "payloads"]

T = TypeVar("T")

log = logging.getLogger(__name__)

#: The longest NOTIFY payload sent, in bytes (PostgreSQL's limit is 8000).
MAX_PAYLOAD = 7900
#: libpq options of the sessions here: a server that stops answering without closing
#: the connection (a partition, a dead host) is given up on within seconds, not the
#: kernel's quarter of an hour, so that nothing waits on it for long.
ALIVE: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


def lock_id(namespace: str, key: Hashable) -> int:
    """The advisory lock (a signed 64-bit integer) of ``key`` in ``namespace``: the
    same in every process (a digest of their ``repr``, not Python's salted hash)."""
    digest = hashlib.blake2b(f"{namespace}\0{key!r}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Election:
    """Which keys this process leads in the cluster.

    Args:
        conninfo: the journal database (a libpq URL, no ``schema=``).
        namespace: what keeps one journal's keys apart from another's in the same
            database (its schema).
        connect_timeout: seconds connecting may take.

    Thread-safe. The connection opens on first use, and again after it was lost.
    """

    def __init__(self, conninfo: str, *, namespace: str, connect_timeout: float = 5.0) -> None:
        self._conninfo = conninfo
        self._namespace = namespace
        self._timeout = max(1, round(connect_timeout))
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._held: dict[int, Hashable] = {}
        #: Whether the database could not be reached at the last attempt.
        self.lost = False

    def held(self) -> set[Hashable]:
        """The keys this process believes it leads (:meth:`leading` asks the server)."""
        with self._lock:
            return set(self._held.values())

    def try_lead(self, key: Hashable) -> bool:
        """Lead ``key`` if no live session of the cluster does; True if this process
        leads it now (it may have already). False also when the database cannot be
        reached: then nobody can be sure, and the caller polls on its own."""
        lock = lock_id(self._namespace, key)
        with self._lock:
            if lock in self._held:
                return True
            try:
                got = self._query("SELECT pg_try_advisory_lock(%s)", (lock,))[0][0]
            except psycopg.Error as error:
                self._lost(error)
                return False
            if got:
                self._held[lock] = key
            return bool(got)

    def leading(self) -> set[Hashable]:
        """The keys this process leads, as PostgreSQL sees it now: a lost
        connection (or a session the server ended) leads none."""
        with self._lock:
            if not self._held:
                return set()
            try:
                rows = self._query(
                    "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks"
                    " WHERE locktype = 'advisory' AND objsubid = 1 AND granted"
                    " AND pid = pg_backend_pid()",
                    (),
                )
            except psycopg.Error as error:
                self._lost(error)
                return set()
            # pg_locks splits a bigint key in two 32-bit halves (classid, objid).
            mine = {_signed(row[0]) for row in rows}
            for lock in self._held.keys() - mine:
                del self._held[lock]
            return set(self._held.values())

    def while_leading(self, key: Hashable, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``work`` in a transaction on the session that holds ``key``'s lock:
        what it writes is written only while this process leads ``key`` (a session
        that died took the lock and the transaction with it).

        Raises:
            LookupError: this process does not lead ``key``.
            psycopg.Error: the session is lost (so is the lead), or ``work`` failed.
        """
        lock = lock_id(self._namespace, key)
        with self._lock:
            if lock not in self._held or self._conn is None or self._conn.closed:
                raise LookupError(f"this process does not lead {key!r}")
            try:
                with self._conn.transaction():
                    return work(self._conn)
            except psycopg.OperationalError as error:
                self._lost(error)
                raise

    def resign(self, key: Hashable) -> None:
        """Stop leading ``key`` (another process may take it)."""
        lock = lock_id(self._namespace, key)
        with self._lock:
            if self._held.pop(lock, None) is None or self._conn is None:
                return
            try:
                self._query("SELECT pg_advisory_unlock(%s)", (lock,))
            except psycopg.Error as error:
                self._lost(error)

    def close(self) -> None:
        """Give up every key (the session ends)."""
        with self._lock:
            conn, self._conn = self._conn, None
            self._held.clear()
        if conn is not None:
            conn.close()

    def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=self._timeout, **ALIVE
            )
        rows = self._conn.execute(sql, params).fetchall()
        self.lost = False
        return rows

    def _lost(self, error: BaseException) -> None:
        """The session is gone, and every key with it."""
        self.lost = True
        if self._held:
            log.warning(
                "osfutures: lost the cluster election's database session (%s); leading"
                " nothing until it is back",
                error,
            )
        self._held.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


class Notice(NamedTuple):
    """What one notification tells: a topic, and ids under it."""

    topic: str
    ids: list[str]


class Channel:
    """Operation ids, told to every process of the cluster.

    Args:
        conninfo: the journal database (a libpq URL, no ``schema=``).
        name: the channel (one per journal: its schema's name, say).
        on_notice: called on the listener's thread with each notification's
            :class:`Notice`, or with ``None`` when some may have been missed (the
            connection was lost; called again once listening again).
        connect_timeout: seconds connecting may take.
        retry_every: seconds between attempts to listen again.

    Raises:
        ValueError: ``name`` is not a plain identifier.
    """

    def __init__(
        self,
        conninfo: str,
        name: str,
        on_notice: Callable[[Notice | None], None],
        *,
        connect_timeout: float = 5.0,
        retry_every: float = 1.0,
    ) -> None:
        if not name.replace("_", "").isalnum() or not name.isascii():
            raise ValueError(f"name: expected letters, digits and _, got {name!r}")
        self.name = name
        self._conninfo = conninfo
        self._on_notice = on_notice
        self._timeout = max(1, round(connect_timeout))
        self._retry_every = retry_every
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._send_lock = threading.Lock()
        self._sender: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(
            target=self._listen, name=f"osfutures-channel-{name}", daemon=True
        )
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        """Wait until the listener listens; False if it did not within ``timeout``."""
        return self._listening.wait(timeout)

    def publish(self, ids: Iterable[str], *, topic: str = "") -> None:
        """Tell every listener (this process's too) these ids under ``topic``, in as
        few notifications as fit in :data:`MAX_PAYLOAD`.

        Raises:
            psycopg.Error: the database cannot be reached (nothing, or only some,
                was told).
        """
        chunks = payloads(topic, ids)
        with self._send_lock:
            try:
                if self._sender is None or self._sender.closed:
                    self._sender = psycopg.connect(
                        self._conninfo, autocommit=True, connect_timeout=self._timeout, **ALIVE
                    )
                for payload in chunks:
                    self._sender.execute("SELECT pg_notify(%s, %s)", (self.name, payload))
            except psycopg.Error:
                if self._sender is not None:
                    self._sender.close()
                self._sender = None
                raise

    def close(self) -> None:
        """Stop listening and close the connections."""
        self._stop.set()
        self._thread.join(10)
        with self._send_lock:
            if self._sender is not None:
                self._sender.close()
                self._sender = None

    def _listen(self) -> None:
        missed = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo, autocommit=True, connect_timeout=self._timeout, **ALIVE
                ) as conn:
                    conn.execute(f'LISTEN "{self.name}"')
                    self._listening.set()
                    if missed:  # what was sent while nobody listened is lost
                        self._tell(None)
                        missed = False
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._tell(_notice(note.payload))
            except psycopg.Error as error:
                self._listening.clear()
                if not missed:
                    log.warning("osfutures: the cluster channel %s stopped listening (%s)",
                                self.name, error)  # fmt: skip
                    self._tell(None)
                missed = True
                self._stop.wait(self._retry_every)

    def _tell(self, notice: Notice | None) -> None:
        try:
            self._on_notice(notice)
        except Exception:  # the listener goes on whatever a callback does
            log.exception("osfutures: the cluster channel's callback raised")


def payloads(topic: str, ids: Iterable[str]) -> list[str]:
    """The notifications that tell ``ids`` under ``topic``: JSON lists, the topic
    first, each at most :data:`MAX_PAYLOAD` bytes (at least one, for no ids)."""
    head = len(json.dumps(topic)) + 2
    chunks: list[str] = []
    current: list[str] = [topic]
    size = head
    for op_id in ids:
        cost = len(json.dumps(op_id)) + 1
        if len(current) > 1 and size + cost > MAX_PAYLOAD:
            chunks.append(json.dumps(current, separators=(",", ":")))
            current = [topic]
            size = head
        current.append(op_id)
        size += cost
    chunks.append(json.dumps(current, separators=(",", ":")))
    return chunks


def _notice(payload: str) -> Notice | None:
    """What a payload tells; None (re-read everything) for one not ours."""
    try:
        items = json.loads(payload)
    except ValueError:
        return None
    if isinstance(items, list) and items and all(isinstance(i, str) for i in items):
        return Notice(items[0], items[1:])
    return None
