"""The public :class:`Journal`: track futures durably, read the operations back."""

from __future__ import annotations

import atexit
import builtins
import datetime
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any

from osfutures.future import OperationFuture, ProgressUpdate
from osfutures.journal.errors import OperationNotFound
from osfutures.journal.schema import OUTCOMES, UNFINISHED
from osfutures.journal.store import Store, store_for
from osfutures.journal.tracking import Context, Tracked
from osfutures.journal.writer import Writer

__all__ = ["EXIT_TIMEOUT", "Journal"]

log = logging.getLogger("osfutures.journal")

#: How long the interpreter's exit waits for the journals' last writes, in all.
EXIT_TIMEOUT = 5.0

When = float | datetime.datetime


class Journal:
    """A durable record of operations: one row per tracked future, kept up to date
    by a writer thread, readable by any process.

    Most code does not make one: ``osfutures.connect(..., journal=PATH_OR_URL)`` (or
    the ``OSFUTURES_JOURNAL`` environment variable) tracks every future the
    connection's twins return. :meth:`open` makes one to read a journal, or to
    :meth:`track` futures of your own.

    Args:
        store: where the rows are kept (see :meth:`Journal.open` for the targets).
        batch_delay: seconds the writer waits after a change for more changes, so
            they go in one transaction.
        max_batch: the most operations written in one transaction.

    Raises:
        ValueError: ``batch_delay`` < 0 or ``max_batch`` < 1.
    """

    def __init__(self, store: Store, *, batch_delay: float = 0.05, max_batch: int = 500) -> None:
        if not batch_delay >= 0:
            raise ValueError(f"batch_delay: expected seconds >= 0, got {batch_delay!r}")
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch: expected a count >= 1, got {max_batch!r}")
        self.store = store
        self.target = store.target
        self._writer = Writer(store, batch_delay=batch_delay, max_batch=max_batch)
        # Weak: a journal keeps no future alive (the writer holds those it has yet
        # to write). A Tracked holds no reference to its future.
        self._ops: weakref.WeakKeyDictionary[OperationFuture[Any], Tracked] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._closed = False
        _open_journals.add(self)

    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        schema: str | None = None,
        batch_delay: float = 0.05,
        max_batch: int = 500,
        argument: str = "target",
    ) -> Journal:
        """Open (and create, and migrate) the journal a path or URL names.

        Args:
            target: a SQLite file (a path or ``sqlite:///path``; created with mode
                0600, its directory must exist) or a PostgreSQL database
                (``postgresql://user@host:port/db``, ``?schema=NAME`` for the schema
                of the tables, default ``osfutures``).
            busy_timeout: SQLite: seconds a write waits for another process's lock.
            connect_timeout: PostgreSQL: seconds connecting may take.
            schema: PostgreSQL: the tables' schema, over the URL's.
            batch_delay: as for :class:`Journal`.
            max_batch: as for :class:`Journal`.
            argument: the target's name in error messages.

        Raises:
            TypeError: ``target`` is neither a string nor a path.
            ValueError: ``target`` names no journal store.
            FileNotFoundError: the SQLite file's directory does not exist.
            ImportError: a PostgreSQL URL without the ``postgres`` extra installed.
            JournalUnavailable: the store cannot be reached or migrated.
            SchemaTooNew: the journal was written by a newer osfutures.
        """
        store = store_for(
            target,
            argument=argument,
            busy_timeout=busy_timeout,
            connect_timeout=connect_timeout,
            schema=schema,
        )
        journal = cls(store, batch_delay=batch_delay, max_batch=max_batch)
        try:
            store.open()
        except BaseException:
            journal.close(timeout=0)
            raise
        return journal

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<Journal {self.target}{state}>"

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tracking -----------------------------------------------------------------------

    def track(
        self,
        future: OperationFuture[Any],
        *,
        context: Context | None = None,
        watch: Mapping[str, Any] | None = None,
        op_id: str | None = None,
        new_id: str | None = None,
    ) -> str:
        """Keep ``future``'s operation in the journal until it ends; return its
        durable id (a UUID; ``future.id`` is only unique within this process).

        Its row is written now, on every change of status or progress, and at its
        end, by the writer thread: this call and the future's callbacks only queue
        it. Tracking a future twice returns the same id.

        With ``op_id``, ``future`` continues an unfinished operation of the journal
        (one a stopped process left, watched again: see :func:`osfutures.resume`):
        its row is read now, and written on as the operation goes on. Its id, start
        (``created_at``) and statuses carry on; ``resumed`` notes this process.

        Args:
            future: the operation's future.
            context: its cloud, region and project (default: the continued row's,
                else none known).
            watch: how it is watched (JSON-able: twin, timeout, retry options), kept
                in the record for a later resume (default: the continued row's).
            op_id: the id of the operation ``future`` continues.
            new_id: the id of the new operation, made beforehand (a create carries
                it, see :doc:`/journal`); default: a new UUID.

        Raises:
            TypeError: ``future`` is not an :class:`~osfutures.OperationFuture`, or
                ``op_id`` not a string.
            OperationNotFound: no operation has the id ``op_id`` here.
            ValueError: the operation ``op_id`` has ended, or another future of this
                journal tracks it, or ``future`` is tracked under another id.
            JournalUnavailable: ``op_id`` given and the journal cannot be read.
        """
        if not isinstance(future, OperationFuture):
            raise TypeError(f"future: expected an OperationFuture, got {type(future).__name__}")
        if new_id is not None and op_id is not None:
            raise ValueError("new_id: a new operation continues none; give op_id or new_id")
        earlier = None if op_id is None else self._continued(op_id)
        if earlier is not None:
            context = context or Context(
                earlier.get("cloud"), earlier.get("region"), earlier.get("project_id")
            )
            watch = earlier.get("watch") if watch is None else watch
        with self._lock:
            known = self._ops.get(future)
            if known is not None and op_id in (None, known.op_id):
                return known.op_id
            if known is not None:
                raise ValueError(f"op_id: {future!r} is tracked here as {known.op_id} already")
            wanted = op_id or new_id
            if wanted is not None and any(op.op_id == wanted for op in self._ops.values()):
                name = "op_id" if new_id is None else "new_id"
                raise ValueError(f"{name}: operation {wanted} is tracked here by another future")
            op = self._ops[future] = Tracked(
                future, context or Context(), watch, earlier, op_id=new_id
            )
        self._attach(op, future)
        return op.op_id

    def hand_over(self, stand_in: OperationFuture[Any], future: OperationFuture[Any]) -> str:
        """``future`` takes over the operation ``stand_in`` was tracked for (same row,
        id and start): a create's row is written before it is sent, under a stand-in,
        and handed to the future its twin returns once the call answered.

        Raises:
            KeyError: ``stand_in`` is not tracked here.
            ValueError: ``future`` is tracked here already.
        """
        with self._lock:
            if future in self._ops:
                raise ValueError(f"future: {future!r} is tracked here already")
            op = self._ops.pop(stand_in, None)
            if op is None:
                raise KeyError(f"{stand_in!r} is not tracked by {self!r}")
            self._ops[future] = op
        op.hand_over(stand_in, future)
        self._attach(op, future)
        return op.op_id

    def _attach(self, op: Tracked, future: OperationFuture[Any]) -> None:
        """Write ``op``'s row (``future``'s) now and on each change of ``future``."""
        writer = self._writer

        def changed(update: ProgressUpdate) -> None:  # on the callback pool
            op.observe(update)
            writer.enqueue(op, update.future)

        def ended(done: OperationFuture[Any]) -> None:  # where it resolved: often the monitor
            op.end()
            writer.enqueue(op, done)

        future.add_progress_callback(changed)
        future._add_internal_callback(ended)
        writer.enqueue(op, future)

    def track_attempt(self, future: OperationFuture[Any], attempt: OperationFuture[Any]) -> None:
        """Write ``future``'s row now and when ``attempt`` (one of its attempts)
        ends, so a retrying operation's attempts show as they come and go.

        Args:
            future: a tracked retrying future.
            attempt: the future of one of its attempts (itself not tracked).

        Raises:
            KeyError: ``future`` is not tracked by this journal.
        """
        op = self._tracked(future)
        op.touch(attempt)
        self._write_now_and_after(op, future, attempt, lambda _: op.touch())

    def _write_now_and_after(
        self,
        op: Tracked,
        future: OperationFuture[Any],
        part: Future[Any],
        ended: Callable[[Future[Any]], None],
    ) -> None:
        """Queue ``future``'s row now, and again once ``part`` (an attempt, a cleanup)
        ends and ``ended(part)`` has noted it; ``future`` is not kept alive for it."""
        writer = self._writer
        writer.enqueue(op, future)
        ref = weakref.ref(future)

        def part_ended(done: Future[Any]) -> None:
            outer = ref()
            if outer is not None:
                ended(done)
                writer.enqueue(op, outer)

        if isinstance(part, OperationFuture):  # at once, on the thread that resolved it
            part._add_internal_callback(part_ended)
        else:
            part.add_done_callback(part_ended)

    def _continued(self, op_id: str) -> dict[str, Any]:
        """The row of an unfinished operation a future is to continue."""
        earlier = self.get(op_id)
        if earlier["outcome"] not in UNFINISHED:
            raise ValueError(
                f"op_id: operation {op_id} has ended ({earlier['outcome']}); only an"
                " unfinished one can be continued"
            )
        return earlier

    def track_cleanup(self, future: OperationFuture[Any], removal: Future[Any]) -> None:
        """Write ``future``'s row now and when ``removal`` ends: the cleanup of its
        latest attempt (a failed one), which a resume must finish if this process
        stops before it does (the row's ``cleanup``).

        Args:
            future: a tracked retrying future, its latest attempt failed.
            removal: the future of that attempt's cleanup.

        Raises:
            KeyError: ``future`` is not tracked by this journal.
        """
        op = self._tracked(future)
        attempt = future.attempts[-1] if future.attempts else None
        number = 0 if attempt is None else attempt.number
        resource_id = None if attempt is None else attempt.resource_id
        op.cleaning(number, resource_id)

        def removed(done: Future[Any]) -> None:
            ok = not done.cancelled() and done.exception() is None
            op.cleaning(number, resource_id, "succeeded" if ok else "failed")

        self._write_now_and_after(op, future, removal, removed)

    def _tracked(self, future: OperationFuture[Any]) -> Tracked:
        with self._lock:
            op = self._ops.get(future)
        if op is None:
            raise KeyError(f"{future!r} is not tracked by {self!r}")
        return op

    def op_id(self, future: OperationFuture[Any]) -> str | None:
        """The durable id of ``future``'s operation, or ``None`` if not tracked here."""
        with self._lock:
            op = self._ops.get(future)
        return None if op is None else op.op_id

    # -- writing --------------------------------------------------------------------------

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Write every pending change now.

        Args:
            timeout: the most seconds to wait (``None``: as long as it takes).

        Returns:
            True once everything tracked is written as it is now; False if a write
            failed (see :attr:`error`) or ``timeout`` passed first.
        """
        return self._writer.flush(timeout)

    def close(self, timeout: float | None = 5.0) -> bool:
        """Write what is pending (waiting at most ``timeout`` seconds), stop the
        writer thread and close the store. Changes of futures still tracked are not
        written afterwards; reading still works (the store opens again).

        Args:
            timeout: the most seconds to wait for the last writes (``None``: as long
                as they take).

        Returns:
            True if everything was written.
        """
        with self._lock:
            self._closed = True
        _open_journals.discard(self)
        return self._writer.close(timeout)

    def _unavailable(self, error: BaseException) -> None:
        """The store could not be opened: warn (the journal's one warning); the
        writes open it again."""
        self._writer.warn(error)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def error(self) -> BaseException | None:
        """Why the last write failed, or ``None`` if it succeeded."""
        return self._writer.error

    def stats(self) -> dict[str, int]:
        """Counts of the writer's work: ``batches`` written, rows ``written``, rows
        refused because the operation was ``already_completed`` in the store, and
        ``failed_batches``."""
        return dict(self._writer.stats)

    # -- reading ------------------------------------------------------------------------------

    def get(self, op_id: str) -> dict[str, Any]:
        """One operation's record, by its durable id.

        Returns:
            The record (see :doc:`/journal` for its keys).

        Raises:
            OperationNotFound: no operation has this id here.
            JournalUnavailable: the journal cannot be read.
        """
        if not isinstance(op_id, str):
            raise TypeError(f"op_id: expected a str, got {type(op_id).__name__}")
        found = self.store.get(op_id)
        if found is None:
            raise OperationNotFound(self.target, op_id)
        return found

    def list(
        self,
        outcome: str | Iterable[str] | None = None,
        since: When | None = None,
        limit: int | None = 100,
        *,
        cloud: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Operations, newest first.

        Args:
            outcome: only those with this outcome (or one of these): ``"pending"``,
                ``"running"``, ``"succeeded"``, ``"failed"``, ``"timed_out"``,
                ``"cancelled"``.
            since: only those that changed (started, progressed or ended) at or
                after this time: seconds since the epoch or an aware datetime.
            limit: the most to return (``None``: all).
            cloud: only those of this cloud.

        Raises:
            ValueError: an unknown outcome, a naive datetime, or ``limit`` < 1.
            JournalUnavailable: the journal cannot be read.
        """
        return self.store.select(
            outcomes=_outcomes(outcome),
            since=_seconds("since", since),
            cloud=cloud,
            newest_first=True,
            limit=_limit(limit),
        )

    def unfinished(self, *, cloud: str | None = None) -> builtins.list[dict[str, Any]]:
        """The operations not known to have ended (``pending`` or ``running``),
        oldest first: what a process that stopped left in flight, with what
        re-watching each needs (cloud, region, project, call, arguments, resource id,
        attempts, how it was watched).

        Args:
            cloud: only those of this cloud.

        Raises:
            JournalUnavailable: the journal cannot be read.
        """
        return self.store.select(
            outcomes=list(UNFINISHED), since=None, cloud=cloud, newest_first=False, limit=None
        )

    def prune(self, older_than: float | datetime.timedelta, *, unfinished_too: bool = False) -> int:
        """Delete the finished operations that last changed more than ``older_than``
        ago; return how many.

        Args:
            older_than: an age: seconds or a :class:`datetime.timedelta`.
            unfinished_too: delete unfinished ones that old as well (they may still
                be running somewhere: only for operations known to be abandoned).

        Raises:
            ValueError: ``older_than`` is negative.
            JournalUnavailable: the journal cannot be written.
        """
        if isinstance(older_than, datetime.timedelta):
            age = older_than.total_seconds()
        elif isinstance(older_than, (int, float)) and not isinstance(older_than, bool):
            age = float(older_than)
        else:
            raise TypeError(
                f"older_than: expected seconds or a timedelta, got {type(older_than).__name__}"
            )
        if not age >= 0:
            raise ValueError(f"older_than: expected an age >= 0, got {older_than!r}")
        return self.store.prune(time.time() - age, unfinished_too=unfinished_too)

    def schema_version(self) -> int:
        """The journal's schema version.

        Raises:
            JournalUnavailable: the journal cannot be read.
        """
        return self.store.schema_version()


def _outcomes(outcome: str | Iterable[str] | None) -> list[str] | None:
    if outcome is None:
        return None
    chosen = [outcome] if isinstance(outcome, str) else list(outcome)
    unknown = [o for o in chosen if o not in OUTCOMES]
    if unknown or not chosen:
        raise ValueError(f"outcome: expected some of {', '.join(OUTCOMES)}; got {outcome!r}")
    return chosen


def _seconds(name: str, when: When | None) -> float | None:
    if when is None:
        return None
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            raise ValueError(f"{name}: a naive datetime is ambiguous; give an aware one")
        return when.timestamp()
    if isinstance(when, (int, float)) and not isinstance(when, bool):
        return float(when)
    raise TypeError(f"{name}: expected seconds since the epoch or a datetime, got {when!r}")


def _limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit: expected a count >= 1 or None, got {limit!r}")
    return limit


# -- the interpreter's exit ---------------------------------------------------------------

# Held until closed: a journal nobody refers to may still have rows to write.
_open_journals: set[Journal] = set()


@atexit.register
def _close_at_exit() -> None:
    # The writer threads are daemons: without this, what they had not written yet
    # would be lost at exit. Bounded: EXIT_TIMEOUT in all.
    deadline = time.monotonic() + EXIT_TIMEOUT
    for journal in list(_open_journals):
        try:
            journal.close(timeout=max(0.1, deadline - time.monotonic()))
        except Exception:
            log.exception("osfutures journal %s: closing at exit failed", journal.target)
