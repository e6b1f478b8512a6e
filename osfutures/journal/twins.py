"""``journal=`` of the OpenStack connections: which journal, and the context of its rows.

:class:`~osfutures.openstack.AsyncConnection` asks :func:`twin_journal` for its
journal (the argument, else ``OSFUTURES_JOURNAL``), and its twins hand each future they
return to :meth:`TwinJournal.track`. A path or URL opens one journal per process:
every connection naming the same file or database shares its writer thread.
Nothing here imports openstacksdk; the connection is only read (its config, and its
project once authenticated).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Union

from osfutures.future import OperationFuture
from osfutures.journal.errors import JournalUnavailable, SchemaTooNew
from osfutures.journal.journal import Journal
from osfutures.journal.store import store_for
from osfutures.journal.tracking import Context

if TYPE_CHECKING:  # needs psycopg, which only a PostgreSQL journal brings
    from osfutures.journal.sharing import SharedPolling

__all__ = [
    "ENVIRONMENT",
    "SENDING",
    "AttemptRelay",
    "JournalArgument",
    "Sending",
    "TwinJournal",
    "custom_policy",
    "shared_journal",
    "twin_journal",
]

log = logging.getLogger("osfutures.journal")

#: The environment variable naming the journal when ``journal=`` is not given.
ENVIRONMENT = "OSFUTURES_JOURNAL"

#: What ``journal=`` takes: a path or URL, a :class:`Journal`, ``False`` (none, even
#: if ``OSFUTURES_JOURNAL`` is set) or ``None`` (``OSFUTURES_JOURNAL``, if set).
JournalArgument = Union[str, "os.PathLike[str]", Journal, bool, None]

#: The state of a create's row written before the create is sent.
SENDING = "sending"
#: The most seconds a create waits for its row to be written before it is sent.
SENDING_WRITE_TIMEOUT = 5.0

_shared_lock = threading.Lock()
_shared: dict[str, Journal] = {}


def shared_journal(target: str | os.PathLike[str], *, argument: str = "journal") -> Journal:
    """This process's journal for ``target``, opened on first use.

    A store that cannot be reached now does not stop the connection: the journal
    logs its one warning and its writes are retried. A bad target, or a journal
    written by a newer osfutures, raises.

    Args:
        target: a path, ``sqlite:///path`` or ``postgresql://...``.
        argument: the target's name in messages.

    Raises:
        TypeError, ValueError, FileNotFoundError, ImportError: as
            :meth:`Journal.open`.
        SchemaTooNew: the journal was written by a newer osfutures.
    """
    store = store_for(target, argument=argument)
    with _shared_lock:
        journal = _shared.get(store.key)
        if journal is not None and not journal.closed:
            return journal  # open, or its writer retrying: no new wait here
        journal = _shared[store.key] = Journal(store)
    try:
        journal.store.open()
    except SchemaTooNew:
        with _shared_lock:
            if _shared.get(store.key) is journal:
                del _shared[store.key]
        journal.close(timeout=0)
        raise
    except JournalUnavailable as error:
        journal._unavailable(error)
    return journal


def twin_journal(argument: JournalArgument, conn: Any) -> TwinJournal | None:
    """The journal of a connection's twins, or ``None``.

    Args:
        argument: the ``journal=`` argument; ``None`` reads ``OSFUTURES_JOURNAL``
            (unset or empty: no journal), ``False`` means none.
        conn: the openstacksdk Connection, for the context of the rows.

    Raises:
        TypeError: ``argument`` is ``True`` or of another type.
        ValueError, FileNotFoundError, ImportError, SchemaTooNew: as
            :func:`shared_journal`, the message naming ``journal`` or
            ``OSFUTURES_JOURNAL``.
    """
    if argument is False:
        return None
    name = "journal"
    if argument is None:
        argument = os.environ.get(ENVIRONMENT, "").strip() or None
        if argument is None:
            return None
        name = ENVIRONMENT
    if isinstance(argument, Journal):
        journal = argument
    elif isinstance(argument, (str, os.PathLike)) and not isinstance(argument, bool):
        journal = shared_journal(argument, argument=name)
    else:
        raise TypeError(
            "journal: expected a path, a postgresql:// URL, a Journal, False or None,"
            f" got {argument!r}"
        )
    return TwinJournal(journal, conn)


def _authenticated_project(conn: Any) -> str | None:
    """The project of the connection's token, if it has one already (no request)."""
    try:
        ref = getattr(conn.session.auth, "auth_ref", None)
        project = getattr(ref, "project_id", None) if ref is not None else None
    except Exception:
        return None
    return project if isinstance(project, str) and project else None


def connection_context(conn: Any) -> Context:
    """The cloud, region and project of a connection's rows.

    The cloud and region are read from its config. The project is the token's, read
    without a request once the connection has authenticated (a twin's call does
    that); failing that, ``conn.current_project_id`` is asked once, on the journal's
    writer thread, where a request delays no caller.
    """
    config = getattr(conn, "config", None)

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    def project() -> str | None:
        return _authenticated_project(conn) or text(getattr(conn, "current_project_id", None))

    return Context(
        cloud=text(getattr(config, "name", None)),
        region=text(getattr(config, "region_name", None)),
        project_id=_authenticated_project(conn),
        project=project,
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


class TwinJournal:
    """A journal as one connection's twins use it: the journal and the context.

    Args:
        journal: the journal.
        conn: the openstacksdk Connection.
    """

    def __init__(self, journal: Journal, conn: Any) -> None:
        self.journal = journal
        self._conn = conn
        self.context = connection_context(conn)

    def sharing(self) -> SharedPolling | None:
        """The journal's cluster side, if its store has one (PostgreSQL's, with
        cluster mode on): the twins then share their listings."""
        store = self.journal.store
        share = getattr(store, "sharing", None)
        return share() if callable(share) and getattr(store, "cluster", False) else None

    def track(
        self,
        future: OperationFuture[Any],
        twin: str,
        *,
        new_id: str | None = None,
        **options: Any,
    ) -> None:
        """Track a future a twin returns.

        Args:
            future: the twin's future.
            twin: the twin's name (``create_server_async``).
            new_id: the operation's id, made beforehand (default: a new one).
            options: how it waits (``timeout``, ``interval``, retry options), kept
                in the record's ``watch``.
        """
        if self.context.project_id is None:  # the twin's call has authenticated by now
            self.context.project_id = _authenticated_project(self._conn)
        watch = {"twin": twin, **{k: _plain(v) for k, v in options.items()}}
        self.journal.track(future, context=self.context, watch=watch, new_id=new_id)

    def sending(self, twin: str, **options: Any) -> Sending:
        """A create about to be sent carrying its operation's id (see :class:`Sending`).

        Args:
            twin: the twin's name (``create_server_async``).
            options: as for :meth:`track`.
        """
        return Sending(self, twin, options)

    def attempts(self) -> AttemptRelay:
        """A relay for the attempts of one retrying twin call: its ``started`` gets
        each attempt's future; :meth:`track_retrying` then tracks the call's future."""
        return AttemptRelay(self.journal)

    def track_retrying(
        self, future: OperationFuture[Any], relay: AttemptRelay, twin: str, **options: Any
    ) -> None:
        """Track the future a retrying twin returns, and its attempts.

        Args:
            future: the retrying future (``retrying()``'s).
            relay: the relay its attempts were handed to.
            twin: the twin's name (``create_server_async_r``).
            options: as for :meth:`track`.
        """
        self.track(future, twin, **options)
        relay.tracking(future)


class AttemptRelay:
    """Hands the attempts of a retrying operation, and their cleanups, to the journal.

    The first attempt starts inside :func:`osfutures.retrying`, before its future
    exists (and a resumed operation's cleanup inside
    :func:`~osfutures.retrying.resume_retrying`): they are held until
    :meth:`tracking` names that future.
    """

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._lock = threading.Lock()
        self._outer: OperationFuture[Any] | None = None
        self._early: list[tuple[Callable[..., None], Future[Any]]] = []

    def _relay(self, track: Callable[[OperationFuture[Any], Any], None], what: Future[Any]) -> None:
        with self._lock:
            outer = self._outer
            if outer is None:
                self._early.append((track, what))
                return
        track(outer, what)

    def started(self, attempt: OperationFuture[Any]) -> None:
        """Note that an attempt started (its future just made)."""
        self._relay(self._journal.track_attempt, attempt)

    def cleaning(self, removal: Future[Any]) -> None:
        """Note that the latest attempt's cleanup started (``removal`` its future)."""
        self._relay(self._journal.track_cleanup, removal)

    def tracking(self, outer: OperationFuture[Any]) -> None:
        """Name the retrying future, once tracked; what was held goes to it."""
        with self._lock:
            self._outer = outer
            early, self._early = self._early, []
        for track, what in early:
            track(outer, what)


def custom_policy(**strategies: Any) -> list[str]:
    """The names of the tenacity strategies and hooks a retrying twin call was given
    (they are code, not data: the record says only which were the caller's own)."""
    return sorted(name for name, value in strategies.items() if value is not None)


class Sending:
    """A create sent with its operation's id, written down before it is sent.

    The id is made first (:attr:`op_id`), for the create to carry (its metadata or
    tags). :meth:`write` then writes the operation's row, under a stand-in future in
    the state ``sending`` (no object id yet), and waits until it is written: a
    process killed between the request and its answer leaves a row whose object
    :func:`osfutures.resume` finds by that id. :meth:`hand_over` gives the row to the
    twin's future once the call answered; :meth:`unsent` ends it when the call failed.

    Args:
        journal: the connection's journal.
        twin: the twin's name.
        options: how it waits, kept in the row's ``watch`` (with ``tagged``: true).
    """

    def __init__(self, journal: TwinJournal, twin: str, options: dict[str, Any]) -> None:
        self._journal = journal
        self._twin = twin
        self._options = {**options, "tagged": True}
        self.op_id = str(uuid.uuid4())
        self.stand_in: OperationFuture[Any] | None = None

    def write(self, name: str, request: Any) -> None:
        """Track the operation under a stand-in future and wait (a few seconds at
        most) until its row is written; not when the journal's last write failed (the
        create goes on: the cloud work is never held up for the journal's sake)."""
        stand_in = OperationFuture[Any](name=name, request=request)
        stand_in.set_state(SENDING)
        self._journal.track(stand_in, self._twin, new_id=self.op_id, **self._options)
        self.stand_in = stand_in
        journal = self._journal.journal
        if journal.error is None:
            journal.flush(SENDING_WRITE_TIMEOUT)

    def hand_over(self, future: OperationFuture[Any]) -> None:
        """The create answered: ``future`` (the twin's) goes on under the row."""
        if self.stand_in is None:  # the row was never written: track it as usual
            self._journal.track(future, self._twin, new_id=self.op_id, **self._options)
            return
        self._journal.journal.hand_over(self.stand_in, future)

    def unsent(self, error: BaseException, refused: bool) -> None:
        """The call raised ``error``. A refusal (an answer saying nothing was made)
        ends the row as failed; any other error (a dropped connection, a timeout, a
        5xx) leaves it ``sending``: the object may exist, a resume looks for it."""
        if self.stand_in is not None and refused:
            self.stand_in.set_exception(error)
