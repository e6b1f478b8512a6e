"""Cluster mode: processes that share a PostgreSQL journal share each listing.

A *share* names one listing that every process watching the same objects would
otherwise make on its own: a cloud's service endpoint, a project and a kind of object
(servers, volumes, ...). For each share, one process of the cluster lists (it leads
the share: :class:`~osfutures.journal.cluster.Election`), and writes what its listing
saw to the journal's ``observations`` table: each object whose state moved, or that
is gone. The others read those rows instead of asking the cloud, and learn at once
that there is something to read: the leader's transaction ends with a ``NOTIFY``
naming the share and the objects (:class:`~osfutures.journal.cluster.Channel`).

This module is the database's side, and knows nothing of OpenStack: what an
observation's record holds, and when to lead, :mod:`osfutures.openstack.sharing`
decides.

The leader writes on the very session that holds its lock
(:meth:`Election.while_leading <osfutures.journal.cluster.Election.while_leading>`):
a process whose session died (and with it, its lead) cannot write over its
successor's rows. Observations are numbered from one sequence; one leader at a time
writes a share, so a reader that remembers the highest number it read misses
nothing newer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from osfutures.journal.cluster import Channel, Election, Notice, payloads
from osfutures.journal.errors import JournalUnavailable
from osfutures.journal.observations import GONE, LISTED, SEEN, Observation, Reading, topic_of
from osfutures.journal.schema import postgresql

__all__ = ["OBSERVATIONS_KEPT", "SharedPolling", "dumps"]

log = logging.getLogger("osfutures.journal")

#: Seconds an observation is kept after it was written. A process that starts
#: watching an object later than that, and sees no newer one, reads it itself (once).
OBSERVATIONS_KEPT = 3600.0
#: Seconds between two sweeps of old observations by a share's leader.
SWEEP_EVERY = 300.0


class SharedPolling:
    """The cluster side of one PostgreSQL journal: who leads which share, their
    observations, and the notifications that tell the others.

    Args:
        conninfo: the journal database (a libpq URL, no ``schema=``).
        schema: the journal's schema (it names the locks and the channel too).
        session: lends a connection of the journal's pool (a context manager);
            raises :class:`~osfutures.journal.JournalUnavailable` when it cannot.
        me: this process, as the ``shares`` table names a lister.
        connect_timeout: seconds connecting may take.

    The channel's listener starts with the first :meth:`subscribe`.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str,
        session: Callable[[], Any],
        me: str,
        connect_timeout: float = 5.0,
    ) -> None:
        self._conninfo = conninfo
        self._schema = schema
        self._session = session
        self._me = me
        self._timeout = connect_timeout
        self._election = Election(
            conninfo, namespace=f"{schema}:shares", connect_timeout=connect_timeout
        )
        # The channel's name is an identifier of at most 63 bytes.
        self.channel_name = (
            "osfutures_" + hashlib.blake2b(schema.encode(), digest_size=8).hexdigest()
        )
        self._lock = threading.Lock()
        self._channel: Channel | None = None
        # Weakly: a subscriber (one connection's listing) ends with its connection.
        self._subscribers: dict[str, list[weakref.WeakMethod[_Callback]]] = {}
        self._swept: dict[str, float] = {}
        self._quote = postgresql(schema).table

    # -- leading --------------------------------------------------------------------

    def lead(self, share: str) -> bool | None:
        """Lead ``share`` if nobody does: True if this process leads it (now or
        already), False if another does, None if the database cannot say (then
        nobody can be sure, and the caller lists on its own)."""
        if self._election.try_lead(share):
            return True
        return None if self._election.lost else False

    def resign(self, share: str) -> None:
        """Stop leading ``share``, and tell the others (one of them leads it next).

        Never raises: a lost session gave the lead up anyway."""
        if share not in self._election.held():
            return
        self._election.resign(share)
        try:
            self._tell(share, [])
        except psycopg.Error as error:
            log.debug("osfutures: could not tell the cluster %s has no leader: %s", share, error)

    def publish(
        self,
        share: str,
        observations: Sequence[Observation],
        complete: Iterable[str] | None = None,
        position: str | None = None,
    ) -> int:
        """Write what this process's listing of ``share`` saw, count the listing, and
        tell the others, in one transaction on the session that holds the lead.
        ``complete``: every id a complete listing showed; the objects it lacks that
        rows still show as listed are gone (whoever wrote them, whatever was lost).
        ``position``: where the next listing starts, for whoever lists it next.

        Returns:
            The highest observation number written (0 for none).

        Raises:
            LookupError: this process does not lead ``share`` (any more).
            JournalUnavailable: the database cannot be reached (nothing was written,
                and the lead is lost).
        """
        now = time.time()
        table, shares, seq = (
            self._quote("observations"),
            self._quote("shares"),
            self._quote("observation_seq"),
        )

        def write(conn: psycopg.Connection[Any]) -> int:
            highest = 0
            gone: list[str] = []
            with conn.cursor() as cursor:
                if observations:
                    cursor.executemany(
                        f"INSERT INTO {table} AS o"
                        " (share, resource_id, seq, seen, record, observed_at)"
                        f" VALUES (%s, %s, nextval('{_literal(seq)}'), %s, %s, %s)"
                        " ON CONFLICT (share, resource_id) DO UPDATE SET"
                        " seq = EXCLUDED.seq, seen = EXCLUDED.seen, record = EXCLUDED.record,"
                        " observed_at = EXCLUDED.observed_at"
                        " RETURNING seq",
                        [
                            (share, o.resource_id, o.seen, _json(o.record), now)
                            for o in observations
                        ],
                        returning=True,
                    )
                    while True:
                        row = cursor.fetchone()
                        if row is not None:
                            highest = max(highest, int(row[0]))
                        if not cursor.nextset():
                            break
                if complete is not None:
                    cursor.execute(
                        f"UPDATE {table} SET seen = %s, record = NULL,"
                        f" seq = nextval('{_literal(seq)}'), observed_at = %s"
                        " WHERE share = %s AND seen = %s AND NOT (resource_id = ANY(%s))"
                        " RETURNING resource_id, seq",
                        (GONE, now, share, LISTED, list(complete)),
                    )
                    for rid, number in cursor.fetchall():
                        gone.append(rid)
                        highest = max(highest, int(number))
                cursor.execute(
                    f"INSERT INTO {shares} (share, listings, listed_at, lister, position)"
                    " VALUES (%s, 1, %s, %s, %s) ON CONFLICT (share) DO UPDATE SET"
                    f" listings = {shares}.listings + 1, listed_at = EXCLUDED.listed_at,"
                    " lister = EXCLUDED.lister, position = EXCLUDED.position",
                    (share, now, self._me, position),
                )
                if now - self._swept.get(share, 0.0) > SWEEP_EVERY:
                    self._swept[share] = now
                    cursor.execute(
                        f"DELETE FROM {table} WHERE share = %s AND observed_at < %s",
                        (share, now - OBSERVATIONS_KEPT),
                    )
                told = [o.resource_id for o in observations] + gone
                for payload in payloads(topic_of(share), told):
                    cursor.execute("SELECT pg_notify(%s, %s)", (self.channel_name, payload))
            return highest

        try:
            return self._election.while_leading(share, write)
        except psycopg.Error as error:
            raise JournalUnavailable(f"cluster observations cannot be written: {error}") from error

    def position(self, share: str) -> str | None:
        """Where the last leader of ``share`` said its next listing would start.

        Raises:
            JournalUnavailable: the database cannot be read.
        """
        with self._session() as conn:
            row = conn.execute(
                f"SELECT position FROM {self._quote('shares')} WHERE share = %s", (share,)
            ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def ask(self, share: str, marker: str) -> None:
        """Tell ``marker`` about ``share`` to every process (a follower asks its
        leader to quicken its polling). Never raises: a wish lost costs latency only."""
        try:
            self._tell(share, [marker])
        except psycopg.Error as error:
            log.debug("osfutures: could not ask the cluster about %s: %s", share, error)

    def _tell(self, share: str, ids: list[str]) -> None:
        # A process that leads or follows a share subscribed to it: the channel is
        # there until close(), which resigns first.
        channel = self._channel
        if channel is not None:
            channel.publish(ids, topic=topic_of(share))

    # -- following ------------------------------------------------------------------

    def read(
        self, share: str, cursor: int, watched: Iterable[str], new: Iterable[str] = ()
    ) -> Reading:
        """The observations of the ``watched`` objects of ``share`` numbered above
        ``cursor``, and the newest of each of ``new`` whatever its number. Only the
        rows of what the caller watches leave the server: a leader writes every
        object of the project.

        Raises:
            JournalUnavailable: the database cannot be read.
        """
        table, shares = self._quote("observations"), self._quote("shares")
        with self._session() as conn:
            rows = conn.execute(
                f"SELECT resource_id, seen, record, seq FROM {table}"
                " WHERE share = %s AND resource_id = ANY(%s)"
                " AND (seq > %s OR resource_id = ANY(%s))",
                (share, list(watched), cursor, list(new)),
            ).fetchall()
            counted = conn.execute(
                f"SELECT listings FROM {shares} WHERE share = %s", (share,)
            ).fetchone()
        observations = [
            Observation(rid, seen, record, int(seq))
            for rid, seen, record, seq in rows
            if seen in SEEN
        ]
        newest = max((o.seq for o in observations), default=0)
        return Reading(observations, max(cursor, newest), int(counted[0]) if counted else 0)

    def subscribe(self, share: str, callback: _Callback) -> None:
        """Call ``callback`` (on the listener's thread) with the ids of each
        notification about ``share``: an empty list when its leader resigned, and
        ``None`` when some may have been missed (re-read). ``callback`` is a bound
        method, held weakly: its object's end ends the subscription."""
        with self._lock:
            self._subscribers.setdefault(topic_of(share), []).append(weakref.WeakMethod(callback))
            if self._channel is None:
                self._channel = Channel(
                    self._conninfo,
                    self.channel_name,
                    self._heard,
                    connect_timeout=self._timeout,
                )

    def wait_listening(self, timeout: float) -> bool:
        """Wait until notifications are heard (for tests); False if not within
        ``timeout`` or nothing subscribed."""
        channel = self._channel
        return channel is not None and channel.wait_listening(timeout)

    def _heard(self, notice: Notice | None) -> None:
        with self._lock:
            for topic, refs in list(self._subscribers.items()):
                refs[:] = [r for r in refs if r() is not None]
                if not refs:
                    del self._subscribers[topic]
            if notice is None:
                refs = [r for rs in self._subscribers.values() for r in rs]
            else:
                refs = list(self._subscribers.get(notice.topic, []))
        for ref in refs:
            callback = ref()
            if callback is not None:
                callback(None if notice is None else notice.ids)

    def close(self) -> None:
        """Give up every share's lead (telling the others), and stop listening."""
        for share in self._election.held():
            self.resign(str(share))
        with self._lock:
            channel, self._channel = self._channel, None
            self._subscribers.clear()
        self._election.close()
        if channel is not None:
            channel.close()


_Callback = Callable[[list[str] | None], None]


def _literal(text: str) -> str:
    return text.replace("'", "''")


def dumps(record: Any) -> str:
    """A record as the journal's JSONB columns store it (what JSON lacks, as text)."""
    return json.dumps(record, default=str, separators=(",", ":"))


def _json(record: Any) -> Jsonb | None:
    return None if record is None else Jsonb(record, dumps=dumps)
