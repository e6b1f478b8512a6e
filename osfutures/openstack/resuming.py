"""What a twin's continuation token holds, and reading one back.

:meth:`osfutures.OperationFuture.token` writes down the state a twin leaves here
(:func:`state`); :meth:`~osfutures.openstack.AsyncConnection.resume` reads it back
(:func:`parse`) to watch the operation again, in any process: the spec row (service
and call), the object's id, the target states (which may depend on the call's
arguments), the deadline as wall-clock time, whether the call made a new object, the
request ids an inquiry needs (Nova's instance actions), and the cloud, region and
project it belongs to. Ids and states only: never an argument's value.

:func:`resume` (``osfutures.resume``) watches again every unfinished operation a
journal holds for a connection's cloud, each under its own row, and a retrying
operation goes on with its attempts left (:class:`RetryState`, read from the row).
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from osfutures import tokens
from osfutures._checks import check_timeout
from osfutures.future import Attempt, OperationFuture
from osfutures.journal.errors import OperationNotFound
from osfutures.journal.journal import Journal
from osfutures.journal.schema import UNFINISHED
from osfutures.journal.tracking import PROCESS
from osfutures.journal.twins import AttemptRelay, shared_journal
from osfutures.openstack.explaining import Sent
from osfutures.openstack.specs import OP_KEY, OperationSpec, specs_for
from osfutures.policy import PollInterval
from osfutures.watch import States

if TYPE_CHECKING:
    from osfutures.openstack.connection import AsyncConnection

__all__ = [
    "LAST_LOOK",
    "TAKING",
    "Resumable",
    "Resumed",
    "RetryState",
    "orphans",
    "parse",
    "resume",
    "state",
    "take_over",
]

log = logging.getLogger("osfutures.journal")

#: The deadline of a resumed operation whose own deadline has passed: the look made
#: when it is resumed decides, else it times out at once.
LAST_LOOK: Final = 0.001


def state(
    conn: Any,
    spec: OperationSpec,
    resource_id: str,
    states: States,
    *,
    name: str,
    deadline: float,
    sent: Sequence[Sent],
    leaves_behind: bool,
) -> dict[str, Any]:
    """What a token of this operation holds (``deadline``: seconds from now)."""
    cloud, region, project = context(conn)
    return {
        "cloud": cloud,
        "region": region,
        "project": project,
        "service": spec.service,
        "call": spec.call,
        "resource_id": resource_id,
        "name": name,
        "target": sorted(states.target),
        "deadline": time.time() + deadline if math.isfinite(deadline) else None,
        "leaves_behind": leaves_behind,
        "requests": [[s.method, s.path, s.request_id] for s in sent if s.method != "GET"],
    }


def context(conn: Any) -> tuple[str | None, str | None, str | None]:
    """The cloud's name, the region and the project of a connection (no request: the
    project is the one its token was scoped to, known once it authenticated)."""
    config = getattr(conn, "config", None)
    cloud = getattr(config, "name", None)
    region = getattr(config, "region_name", None)
    try:
        project = conn.session.get_project_id() if conn.session.auth else None
    except Exception:  # not authenticated yet, or an auth plugin without a project
        project = None
    return cloud, region, project


@dataclass(frozen=True)
class Resumable:
    """An operation read back from a token.

    Attributes:
        state: what the token holds.
        spec: the spec row of its call.
        resource_id: the watched object's id.
        states: the states that end it.
        sent: the requests its call made (for an inquiry).
    """

    state: dict[str, Any]
    spec: OperationSpec
    resource_id: str
    states: States
    sent: tuple[Sent, ...]

    @property
    def name(self) -> str:
        return str(self.state.get("name") or f"{self.spec.call} {self.resource_id}")

    @property
    def leaves_behind(self) -> bool:
        return bool(self.state.get("leaves_behind"))

    def time_left(self) -> float:
        """Seconds until the operation's deadline (``inf`` for none; negative when
        it passed)."""
        deadline = self.state.get("deadline")
        return math.inf if deadline is None else float(deadline) - time.time()


def parse(token: str, conn: Any) -> Resumable:
    """Read a token for a connection.

    Raises:
        TypeError, ValueError: not a token, a damaged one, one of a call osfutures
            does not know, or one of another cloud, region or project than
            ``conn``'s (the message says which).
    """
    found = tokens.decode(token)
    try:
        spec = specs_for(str(found["service"]))[str(found["call"])]
        resource_id = str(found["resource_id"])
        states = States.of(
            found["target"], spec.pending, spec.failure, allow_no_target=spec.deletes
        )
        sent = tuple(Sent(m, p, 0, r) for m, p, r in found.get("requests") or ())
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"token: not one osfutures can resume ({error!r})") from None
    mine = dict(zip(("cloud", "region", "project"), context(conn), strict=True))
    for key, value in mine.items():
        theirs = found.get(key)
        if theirs is not None and value is not None and theirs != value:
            raise ValueError(
                f"token: its operation is in {key} {theirs!r}; this connection's is {value!r}"
            )
    return Resumable(found, spec, resource_id, states, sent)


# -- a journal's unfinished operations -------------------------------------------------

#: The values a journal stores in place of an argument's (a secret, uploaded data, a
#: file): an attempt that needs them cannot be made again from the row.
_PLACEHOLDER = re.compile(r"^<(redacted|file|\d+ bytes)>$")


@dataclass(frozen=True)
class Resumed:
    """What :func:`resume` did with a journal's unfinished operations.

    Attributes:
        futures: by operation id (the row's ``op_id``), the future watching each
            operation again, in the order the operations started; each is tracked
            under its row, where its outcome is written.
        skipped: by operation id, why that unfinished operation was not resumed (no
            continuation token, another cloud, a process still watching it, ...).
    """

    futures: dict[str, OperationFuture[Any]]
    skipped: dict[str, str]


@dataclass(frozen=True)
class RetryState:
    """Where a retrying operation (an ``_async_r`` twin's) stood, read from its row.

    Attributes:
        spec: the spec row of its call.
        attempts: every attempt made; the last one is ``running`` when it was still
            being watched (its token watches it again).
        arguments: the call's arguments as recorded (secrets redacted).
        try_count: the most attempts, those made included.
        tout: each attempt's timeout.
        time_left: seconds left of the whole operation's deadline (``None``: none).
        reraise: ``reraise`` of the twin call.
        cleanup_last: ``cleanup_last`` of the twin call.
        cleanup_pending: the last attempt failed and its cleanup had not finished.
        request: the row's ``request``, kept as the operation's.
        name: the operation's name.
    """

    spec: OperationSpec
    attempts: tuple[Attempt, ...]
    arguments: dict[str, Any]
    try_count: int
    tout: float | None
    time_left: float | None
    reraise: bool
    cleanup_last: bool
    cleanup_pending: bool
    request: Any
    name: str

    @property
    def running(self) -> bool:
        """Whether the last attempt was still going on (to be watched again)."""
        return self.attempts[-1].ended_at is None

    def relaunchable(self) -> dict[str, Any]:
        """The arguments a new attempt is made with.

        Raises:
            ValueError: the journal holds no value for some of them (a secret, data,
                a file): no attempt can be made again from the row.
        """
        missing = sorted(_placeholders(self.arguments))
        if missing:
            raise ValueError(
                f"{self.name}: cannot make another attempt after a resume: the journal"
                f" keeps no value for {', '.join(missing)} (never stored); it was left"
                " with its attempts so far"
            )
        return dict(self.arguments)

    @classmethod
    def of(cls, row: Mapping[str, Any], *, adopted: str | None = None) -> RetryState:
        """Read a retrying operation's row.

        Args:
            row: the row.
            adopted: the object an attempt made whose answer was lost, found by the
                operation id it carries and not made by a recorded attempt: it is
                the next attempt, running since the row's last change (its creation,
                for a first attempt).

        Raises:
            ValueError: the row lacks what continuing the retries needs.
        """
        watch, request = row.get("watch") or {}, row.get("request") or {}
        try:
            spec = specs_for(str(row["service"]))[str(row["call"])]
            attempts = [Attempt.from_dict(a) for a in row.get("attempts") or ()]
            if adopted is not None:
                since = row["updated_at"] if attempts else row["created_at"]
                attempts.append(
                    Attempt(number=len(attempts) + 1, started_at=float(since), resource_id=adopted)
                )
            arguments = dict(request.get("arguments") or {})
            try_count = int(watch["try_count"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"its row lacks what a retry needs ({error!r})") from None
        if not attempts:
            raise ValueError("its row has no attempt to go on from")
        last = attempts[-1]
        if last.outcome == "succeeded":  # ended as the process stopped: its token decides
            attempts[-1] = replace(last, ended_at=None)
        cleanup = row.get("cleanup") or {}
        cleaned = cleanup.get("attempt") == last.number and cleanup.get("outcome") == "succeeded"
        timeout = _seconds(watch.get("timeout"))
        return cls(
            spec=spec,
            attempts=tuple(attempts),
            arguments=arguments,
            try_count=try_count,
            tout=_seconds(watch.get("tout")),
            time_left=None if timeout is None else row["created_at"] + timeout - time.time(),
            reraise=bool(watch.get("reraise", False)),
            cleanup_last=bool(watch.get("cleanup_last", True)),
            cleanup_pending=not cleaned,
            request=row.get("request"),
            name=str(row.get("name") or spec.call),
        )


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _placeholders(value: Any, path: str = "") -> set[str]:
    """The names of the arguments whose recorded value is a placeholder."""
    if isinstance(value, str):
        return {path} if _PLACEHOLDER.match(value) else set()
    if isinstance(value, Mapping):
        found: set[str] = set()
        for key, item in value.items():
            found |= _placeholders(item, f"{path}.{key}" if path else str(key))
        return found
    if isinstance(value, list):
        return set().union(*(_placeholders(v, path) for v in value)) if value else set()
    return set()


def _alive_elsewhere(
    row: Mapping[str, Any], journal: Journal, claimed: set[tuple[str, int, str | None]]
) -> bool:
    """Whether the process that watched the row is alive (not this process): it still
    watches the operation, and may still retry it. A PostgreSQL journal knows it for
    a process on any machine (its owner lock; asking claims a dead one's rows, so two
    resuming processes do not take the same ones: the claim goes into ``claimed``);
    else only on this machine."""
    pid, host, process = row.get("pid"), row.get("host"), row.get("process")
    if not isinstance(pid, int):
        return False
    if host == socket.gethostname() and pid == os.getpid() and process in (None, PROCESS):
        return False  # this process
    owner_gone = getattr(journal.store, "owner_gone", None)
    if owner_gone is not None and isinstance(host, str):
        if owner_gone(host, pid, process):
            claimed.add((host, pid, process))
            return False
        return True
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, another user's
        return True
    return True


def resume(
    conn: AsyncConnection,
    journal: Journal | str | os.PathLike[str] | None = None,
    *,
    interval: PollInterval | float | None = None,
    timeout: float | None = None,
) -> Resumed:
    """Watch again every unfinished operation of ``conn``'s cloud in a journal, each
    under its own row: what a process that stopped (crashed, was killed, restarted)
    left in flight.

    Each operation's object is fetched first, on this thread: what ended while
    nobody watched resolves at once, as it ended. The others are watched as their
    twins watched them, until the deadlines they had. A retrying operation (an
    ``_async_r`` twin's) goes on retrying: its running attempt is watched again, and
    if it fails (or had failed), it is cleaned up and followed by the attempts left
    of its ``try_count``, with the default retry policy (strategies and hooks of the
    caller's own are code, which no row holds).

    The outcome is written to the operation's row (same ``op_id``, its ``created_at``
    and statuses carrying on; ``resumed`` lists when and where it was taken over).

    Args:
        conn: a connection to the operations' cloud, region and project.
        journal: the journal: a :class:`~osfutures.journal.Journal`, a SQLite
            file's path or a ``postgresql://`` URL (as ``connect(journal=)``);
            default: the connection's own.
        interval: seconds between polls, or a :class:`~osfutures.PollInterval`
            (default: the monitor's).
        timeout: a deadline for each, in seconds from now, instead of the one it had
            (for a retrying operation: what is left of the whole operation's).

    Returns:
        The futures by operation id, and the unfinished operations not resumed with
        the reason of each: of another cloud, region or project (another
        connection's to resume), and, also logged as warnings on
        ``osfutures.journal``, one without a continuation token, one still watched
        by a live process of this machine, or one the cloud refused.

    Raises:
        TypeError: ``conn`` is not an :class:`~osfutures.AsyncConnection`, or
            ``journal`` of another type.
        ValueError: no journal (neither ``journal`` nor the connection's), a target
            that names no journal store, or ``interval`` or ``timeout`` out of range.
        FileNotFoundError, ImportError, SchemaTooNew: as ``connect(journal=)``.
        JournalUnavailable: the journal cannot be read.
    """
    from osfutures.openstack.connection import AsyncConnection

    if not isinstance(conn, AsyncConnection):
        raise TypeError(
            f"conn: expected an osfutures AsyncConnection (osfutures.connect or wrap),"
            f" got {type(conn).__name__}"
        )
    if journal is None:
        journal = conn.journal
        if journal is None:
            raise ValueError("journal: this connection keeps none; give the journal to resume")
    elif not isinstance(journal, Journal):
        if not isinstance(journal, (str, os.PathLike)):
            raise TypeError(
                f"journal: expected a Journal, a path or a postgresql:// URL, got {journal!r}"
            )
        journal = shared_journal(journal)
    PollInterval.coerce(interval, PollInterval())  # checked before anything is watched
    check_timeout("timeout", timeout)
    return take_over(conn, journal, journal.unfinished(), interval=interval, timeout=timeout)


def take_over(
    conn: AsyncConnection,
    journal: Journal,
    rows: Sequence[Mapping[str, Any]],
    *,
    interval: PollInterval | float | None = None,
    timeout: float | None = None,
) -> Resumed:
    """:func:`resume` of the unfinished ``rows`` of ``journal`` (arguments checked).
    One at a time in a process (:data:`TAKING`)."""
    with TAKING:
        return _take_over(conn, journal, rows, interval, timeout)


# The operations already said not to be resumed, and why (each is said once).
_TOLD: set[tuple[str, str]] = set()

#: Held while a process takes operations over: the claims one take-over holds are
#: its own (a second one of the same store would believe them gone).
TAKING = threading.RLock()


def _take_over(
    conn: AsyncConnection,
    journal: Journal,
    rows: Sequence[Mapping[str, Any]],
    interval: PollInterval | float | None,
    timeout: float | None,
) -> Resumed:
    futures: dict[str, OperationFuture[Any]] = {}
    skipped: dict[str, str] = {}
    mine = _context_of(conn)
    claimed: set[tuple[str, int, str | None]] = set()
    try:
        for row in rows:
            op_id = str(row["op_id"])
            elsewhere = _elsewhere(row, mine)
            if elsewhere is not None:  # not this connection's to resume: no warning
                skipped[op_id] = elsewhere
                continue
            why = _not_resumable(row, journal, claimed)
            if why is None:
                # Claimed now; the row may be older than the claim (another process
                # took it over and gave the claim back since it was read).
                current, why = _still_left(journal, row)
                if current is not None:
                    try:
                        resumed = _resume_row(conn, journal, current, interval, timeout)
                    except Exception as error:  # a damaged row, a cloud that refuses
                        why = f"{type(error).__name__}: {error}"
                    else:
                        if isinstance(resumed, str):
                            why = resumed
                        else:
                            futures[op_id] = resumed
            if why is not None:
                skipped[op_id] = why
                # A live process's operation is no trouble: said once for all, below.
                # Others are said once per process (cluster members look every 30 s).
                if not why.startswith(_ALIVE) and (op_id, why) not in _TOLD:
                    _TOLD.add((op_id, why))
                    log.warning(
                        "osfutures: operation %s (%s) not resumed: %s", op_id, row["name"], why
                    )
    finally:
        _give_back(journal, claimed, rows)
    alive = sum(1 for why in skipped.values() if why.startswith(_ALIVE))
    if alive:
        log.info("osfutures: %d operation(s) left to the live processes watching them", alive)
    return Resumed(futures, skipped)


def _still_left(
    journal: Journal, row: Mapping[str, Any]
) -> tuple[Mapping[str, Any] | None, str | None]:
    """The row as it is now, if its operation is still unfinished and still its
    owner's; else why not."""
    try:
        current = journal.get(str(row["op_id"]))
    except OperationNotFound:
        return None, "its row is gone (pruned)"
    if current.get("outcome") not in UNFINISHED:
        return None, f"it ended meanwhile ({current.get('outcome')})"
    if _owner(current) != _owner(row):
        return None, (
            f"taken over meanwhile by process {current.get('pid')} on {current.get('host')}"
        )
    return current, None


def _owner(row: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return (row.get("host"), row.get("pid"), row.get("process"))


def _give_back(
    journal: Journal,
    claimed: set[tuple[str, int, str | None]],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Once the rows taken over name this process (written), give back the claims on
    their dead owners (those :func:`orphans` made too), for others to claim what is
    left of theirs in other clouds. Not written, they are kept: given back, another
    process would take the same operations over again."""
    held = getattr(journal.store, "claimed", None)
    if held is not None:
        claimed = claimed | ({_owner(row) for row in rows} & held())
    if claimed and journal.flush():
        release = getattr(journal.store, "release_claim")  # noqa: B009 (PostgreSQL's only)
        for host, pid, process in claimed:
            release(host, pid, process)


def orphans(conn: AsyncConnection, journal: Journal) -> list[dict[str, Any]]:
    """The unfinished operations of ``conn``'s cloud, region and project whose process
    is gone (on any machine: no session holds its owner lock), claimed for this
    process: what :func:`take_over` then resumes (it gives the claims back). Only a
    PostgreSQL journal knows; others have none. Call it holding :data:`TAKING`.

    Raises:
        JournalUnavailable: the journal cannot be read.
    """
    owner_gone = getattr(journal.store, "owner_gone", None)
    claimed = getattr(journal.store, "claimed", None)
    if owner_gone is None or claimed is None:
        return []
    # Claimed and not given back: a take-over whose rows were not written; taking
    # them again would watch them twice.
    held = claimed()
    mine = _context_of(conn)
    me = (socket.gethostname(), os.getpid(), PROCESS)
    by_owner: dict[tuple[str, int, str | None], list[dict[str, Any]]] = {}
    for row in journal.unfinished():
        host, pid, process = row.get("host"), row.get("pid"), row.get("process")
        if not isinstance(host, str) or not isinstance(pid, int) or (host, pid, process) == me:
            continue
        if _elsewhere(row, mine) is None:
            by_owner.setdefault((host, pid, process), []).append(row)
    return [
        row
        for owner, rows in by_owner.items()
        if owner not in held and owner_gone(*owner)
        for row in rows
    ]


def _context_of(conn: AsyncConnection) -> dict[str, str | None]:
    """The connection's cloud, region and project, as rows name them."""
    return dict(zip(("cloud", "region", "project_id"), context(conn.unwrap()), strict=True))


def _elsewhere(row: Mapping[str, Any], mine: Mapping[str, str | None]) -> str | None:
    """How a row's cloud, region or project differs from ``mine``, or ``None``."""
    for key, value in mine.items():
        theirs = row.get(key)
        if theirs is not None and value is not None and theirs != value:
            return f"another {key.removesuffix('_id')}: {theirs!r} (this connection's: {value!r})"
    return None


def _not_resumable(
    row: Mapping[str, Any], journal: Journal, claimed: set[tuple[str, int, str | None]]
) -> str | None:
    """Why a row of this connection's cloud cannot be resumed, or ``None``."""
    if not row.get("token") and not _sent_unanswered(row):
        return "no continuation token: nothing to watch was known when its process stopped"
    if _alive_elsewhere(row, journal, claimed):
        return (
            f"{_ALIVE} {row['pid']} on {row.get('host')} is alive and watching it"
            " (or another process is taking it over)"
        )
    return None


#: How the reason of an operation left to its live process starts.
_ALIVE = "its process"


def _sent_unanswered(row: Mapping[str, Any]) -> bool:
    """Whether the row is a create that carried its operation id, written before it
    was sent, whose answer never came (no object id, no token, no attempt)."""
    watch = row.get("watch") or {}
    return (
        bool(watch.get("tagged"))
        and not row.get("token")
        and not row.get("resource_id")
        and not row.get("attempts")
    )


class _NotAdopted(Exception):
    """Why a create whose answer was lost has no object to adopt (a skip reason)."""


def _carried_id(
    conn: AsyncConnection, row: Mapping[str, Any], known: frozenset[str] = frozenset()
) -> str | None:
    """The id of the one object that carries the row's operation id (what a create
    whose answer was lost made), among those not ``known`` (made by recorded
    attempts); None if none does.

    Raises:
        _NotAdopted: several do (none is taken for it).
    """
    from osfutures.openstack.connection import carrying

    spec = specs_for(str(row["service"]))[str(row["call"])]
    found = carrying(conn.unwrap(), spec, str(row["op_id"]), row.get("resource_name"))
    found = [obj for obj in found if str(obj.id) not in known]
    if not found:
        return None
    kind = spec.kind
    ids = sorted(str(obj.id) for obj in found)
    if len(found) > 1:
        raise _NotAdopted(
            f"{len(found)} {kind}s carry its {OP_KEY} tag ({', '.join(ids)}): none adopted"
        )
    return ids[0]


def _adopt(
    conn: AsyncConnection,
    row: Mapping[str, Any],
    resource_id: str,
    interval: PollInterval | float | None,
    left: float | None,
) -> OperationFuture[Any]:
    """Watch what a create whose answer was lost made, ``left`` seconds more (default:
    what is left of the deadline its twin call had)."""
    from osfutures.monitor import default_monitor
    from osfutures.openstack.connection import adopt_twin

    spec = specs_for(str(row["service"]))[str(row["call"])]
    monitor = conn._monitor or default_monitor()
    if left is None:
        waited = _seconds((row.get("watch") or {}).get("timeout"))
        left = (monitor.default_timeout if waited is None else waited) - (
            time.time() - float(row["created_at"])
        )
    return adopt_twin(
        conn.unwrap(),
        spec,
        resource_id,
        name=str(row.get("name") or f"{spec.call} {resource_id}"),
        left=left,
        interval=interval,
        monitor=monitor,
    )


def _later_attempt(conn: AsyncConnection, row: Mapping[str, Any]) -> str | None:
    """What a later attempt of a retrying create made, if its answer was lost (the
    process stopped while the cloud made it): an object carrying the operation id
    that no recorded attempt made, once the recorded ones have all ended.

    Raises:
        _NotAdopted: several such objects (none is taken for it).
    """
    recorded = [Attempt.from_dict(a) for a in row.get("attempts") or ()]
    if not recorded or any(a.ended_at is None for a in recorded):
        return None  # one still runs: its token watches it
    known = frozenset(a.resource_id for a in recorded if a.resource_id is not None)
    return _carried_id(conn, row, known)


def _resume_row(
    conn: AsyncConnection,
    journal: Journal,
    row: Mapping[str, Any],
    interval: PollInterval | float | None,
    timeout: float | None,
) -> OperationFuture[Any] | str:
    """Watch one row's operation again, tracked under the row (or why not)."""
    op_id = str(row["op_id"])
    retrying = str((row.get("watch") or {}).get("twin") or "").endswith("_async_r")
    lost = _sent_unanswered(row)
    try:
        if lost:
            adopted = _carried_id(conn, row)
            if adopted is None:
                kind = specs_for(str(row["service"]))[str(row["call"])].kind
                return (
                    f"the create was sent but no {kind} carries its {OP_KEY} tag: it was"
                    " not made (or the cloud has yet to show it: a later resume looks again)"
                )
        elif retrying and (row.get("watch") or {}).get("tagged"):
            adopted = _later_attempt(conn, row)
        else:
            adopted = None
    except _NotAdopted as reason:
        return str(reason)
    if not retrying:
        future = (
            _adopt(conn, row, adopted, interval, timeout)
            if adopted is not None
            else conn.resume(str(row["token"]), interval=interval, timeout=timeout)
        )
        future.request = row.get("request")  # what was asked, not how it was resumed
        try:
            journal.track(future, op_id=op_id)
        except BaseException:
            future.cancel()
            raise
        return future
    retry = RetryState.of(row, adopted=adopted)
    if timeout is not None:
        retry = replace(retry, time_left=timeout)
    relay = AttemptRelay(journal)
    if adopted is not None:
        # That attempt, watched for what is left of its tout (or of the whole).
        elapsed = time.time() - retry.attempts[-1].started_at
        left = retry.time_left if retry.tout is None else retry.tout - elapsed
        current: OperationFuture[Any] | str = _adopt(conn, row, adopted, interval, left)
    else:
        current = str(row["token"])
    outer = conn._resume_retrying(retry, current, relay, interval)
    try:
        journal.track(outer, op_id=op_id)
    except BaseException:
        outer.cancel()
        raise
    relay.tracking(outer)
    return outer
