"""OperationFuture: a concurrent.futures.Future for one long-running cloud operation.

Being a real :class:`concurrent.futures.Future` subclass is the point:
``concurrent.futures.wait``, ``as_completed``, ``asyncio.wrap_future`` and ``await``
work unchanged. On top it carries what a caller of a cloud operation wants to see
while it runs (``sync_res``, ``status``, ``progress``, ``attempts``) and a JSON-able
:meth:`~OperationFuture.record` of itself, which is what a journal stores.

State changes go through the ``_set_*_if_pending`` helpers: a future the user has
cancelled is simply left alone, where the proof of concept's ``set_result`` raised on
it and killed its monitor thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import itertools
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import CancelledError, Future, InvalidStateError
from concurrent.futures._base import CANCELLED as _CANCELLED
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from osfutures import tokens
from osfutures._callbacks import run_logged
from osfutures._checks import require_callable

if TYPE_CHECKING:
    from osfutures._callbacks import CallbackRunner

__all__ = [
    "RECORD_VERSION",
    "Attempt",
    "OperationFuture",
    "ProgressUpdate",
    "RecordedError",
    "RecordedTimeout",
    "error_record",
]

T = TypeVar("T")
U = TypeVar("U")

#: Version of the layout :meth:`OperationFuture.record` returns. Version 2 renamed
#: ``state`` to ``outcome``, the word :class:`Attempt` uses; version 3 added
#: ``history`` (the states set by :meth:`OperationFuture.set_state`).
RECORD_VERSION = 3

_ids = itertools.count(1)
#: What a wait that runs out raises: the builtin TimeoutError from Python 3.11, a
#: class of its own in concurrent.futures before.
_WaitTimeout = concurrent.futures.TimeoutError


class RecordedError(Exception):
    """An error known only from a record (:func:`error_record`): an earlier attempt's,
    made by a process that stopped, of an operation resumed from a journal.

    Attributes:
        type: the original error's type, as the record names it
            (``osfutures.errors.OperationFailed``).
    """

    def __init__(self, record: Mapping[str, Any]) -> None:
        super().__init__(str(record.get("message", "")))
        self.type = str(record.get("type", "Exception"))

    @classmethod
    def of(cls, record: Mapping[str, Any], *, timed_out: bool = False) -> RecordedError:
        """The error a record describes; a :class:`RecordedTimeout` if it was a timeout."""
        return (RecordedTimeout if timed_out else cls)(record)


class RecordedTimeout(RecordedError, TimeoutError):
    """A :class:`RecordedError` that was a timeout (an attempt's outcome ``timed_out``)."""


def error_record(error: BaseException | None) -> dict[str, str] | None:
    """A JSON-able description of an exception: its type and message."""
    if error is None:
        return None
    if isinstance(error, RecordedError):  # written again as it was first written
        return {"type": error.type, "message": str(error)}
    kind = type(error)
    return {"type": f"{kind.__module__}.{kind.__qualname__}", "message": str(error)}


class Unmade:
    """A result stored as the monitor fetched it, made into what the caller gets
    (:attr:`osfutures.Reader.result`) when first read, on the reading thread.

    Building an openstacksdk resource costs milliseconds; the monitor thread, which
    may resolve hundreds of operations from one listing, would otherwise make each in
    turn before resolving the next, and make results nobody reads (a deletion's).
    Made once: every reader, and every future that takes this one's outcome, gets the
    same object.
    """

    __slots__ = ("_fetched", "_lock", "_made", "_make")

    def __init__(self, fetched: Any, make: Callable[[Any], Any]) -> None:
        self._fetched = fetched
        self._make: Callable[[Any], Any] | None = make
        self._made: Any = None
        self._lock = threading.Lock()

    def made(self) -> Any:
        """The made result (what ``make`` raises is raised here, and tried again on
        the next read)."""
        with self._lock:
            if self._make is not None:
                self._made = self._make(self._fetched)
                self._make = self._fetched = None
            return self._made


def passed_on(done: Future[Any]) -> Any:
    """The result of ``done`` (a successful future) as it is stored, for another
    future to take as its own: an :class:`Unmade` stays unmade, so the resolving
    thread (often the monitor) does not make it."""
    if isinstance(done, OperationFuture):
        return done._result
    return done.result()


class ProgressUpdate(NamedTuple):
    """What a progress callback receives: one change, as it was when it happened.

    Attributes:
        future: the operation's future.
        status: the state the cloud reported.
        progress: the progress it reported (``None``, 0-100 or any JSON-able value).
        at: wall time of the observation.
    """

    future: OperationFuture[Any]
    status: str | None
    progress: Any
    at: float


@dataclass
class Attempt:
    """One attempt of a retrying operation.

    Attributes:
        number: 1 for the first attempt.
        started_at: wall time (seconds since the epoch) the attempt started.
        ended_at: wall time it ended, ``None`` while it runs.
        error: why it failed; ``None`` while it runs or if it succeeded.
        cleanup_error: why cleaning up after it failed, if it did.
        resource_id: the id of the object the attempt created, when known.
    """

    number: int
    started_at: float
    ended_at: float | None = None
    error: BaseException | None = None
    cleanup_error: BaseException | None = None
    resource_id: str | None = None

    @property
    def outcome(self) -> str:
        """``"running"``, ``"succeeded"``, ``"timed_out"`` or ``"failed"``."""
        if self.ended_at is None:
            return "running"
        if self.error is None:
            return "succeeded"
        return "timed_out" if isinstance(self.error, TimeoutError) else "failed"

    def to_dict(self) -> dict[str, Any]:
        """This attempt as JSON-able data."""
        return {
            "number": self.number,
            "outcome": self.outcome,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "resource_id": self.resource_id,
            "error": error_record(self.error),
            "cleanup_error": error_record(self.cleanup_error),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attempt:
        """An attempt as :meth:`to_dict` wrote it (in a journal, say); its errors
        are :class:`RecordedError` objects.

        Raises:
            KeyError, TypeError, ValueError: ``data`` is not such a dict.
        """

        def recorded(key: str, timed_out: bool = False) -> RecordedError | None:
            found = data.get(key)
            return None if found is None else RecordedError.of(found, timed_out=timed_out)

        ended_at = data.get("ended_at")
        resource_id = data.get("resource_id")
        return cls(
            number=int(data["number"]),
            started_at=float(data["started_at"]),
            ended_at=None if ended_at is None else float(ended_at),
            error=recorded("error", data.get("outcome") == "timed_out"),
            cleanup_error=recorded("cleanup_error"),
            resource_id=None if resource_id is None else str(resource_id),
        )


class OperationFuture(Future[T], Generic[T]):
    """The future of one long-running operation.

    Users get these from the monitor (:meth:`osfutures.Monitor.watch`), from
    :func:`osfutures.retrying`, from :meth:`next`, or from the OpenStack twins; they
    do not usually construct one.

    While the operation runs the future stays *pending* (``running()`` is False even
    though the cloud is working; :attr:`status` says what the cloud reports), so
    :meth:`cancel` works until the end.

    Attributes:
        id: a process-unique number, for logs and records.
        name: what the operation is, e.g. ``"create_server web-1"``.
        request: a JSON-able description of what was asked (never any secret).
        sync_res: what the call that started the operation returned (the
            preliminary result), or ``None``.
        resource_id: the id of the object being watched, when known.
        status: the last state the cloud reported (a string), ``None`` until seen.
        progress: the last progress seen: ``None``, a number 0-100 or any JSON-able
            value.
        attempts: for retrying operations, every :class:`Attempt` so far.
        created_at: wall time the future was made.
        updated_at: wall time of the last change of status or progress.
    """

    def __init__(
        self,
        *,
        name: str = "operation",
        request: Any = None,
        sync_res: Any = None,
        resource_id: str | None = None,
        runner: CallbackRunner | None = None,
    ) -> None:
        super().__init__()
        self.id = next(_ids)
        self.name = name
        self.request = request
        self.sync_res = sync_res
        self.resource_id = resource_id
        self.status: str | None = None
        self.progress: Any = None
        self.attempts: list[Attempt] = []
        self.created_at = self.updated_at = time.time()
        self._runner = runner
        # True once done; unlike done() it takes no lock, so the monitor can ask it
        # of ten thousand futures per cycle (it may lag a cancel() by a moment).
        self._over = False
        self._progress_callbacks: list[Callable[[ProgressUpdate], object]] = []

    def __repr__(self) -> str:
        return f"<OperationFuture #{self.id} {self.name!r} {self.outcome} status={self.status!r}>"

    # -- callbacks ------------------------------------------------------------

    def add_done_callback(self, fn: Callable[[Future[T]], object]) -> None:
        """Call ``fn(future)`` once the future is done.

        Unlike plain futures, when the monitor resolves the future the callback runs
        on the monitor's small callback pool, never on the monitor thread itself, so
        a slow callback delays no polling. Callbacks of one future run in the order
        they were added. If the future is already done, ``fn`` is scheduled at once.
        What ``fn`` raises is logged and otherwise ignored.
        """
        super().add_done_callback(lambda fut: self._dispatch(functools.partial(fn, fut)))

    def add_progress_callback(self, fn: Callable[[ProgressUpdate], object]) -> None:
        """Call ``fn(update)`` for every change of :attr:`status` or :attr:`progress`.

        ``update`` is a :class:`ProgressUpdate` holding the values of that change, so
        none is lost when callbacks lag behind the cloud. Runs on the callback pool,
        in order for this future. What ``fn`` raises is logged and ignored.

        Raises:
            TypeError: ``fn`` is not callable.
        """
        require_callable("add_progress_callback(fn)", fn)
        self._progress_callbacks.append(fn)

    def _dispatch(self, fn: Callable[[], object]) -> None:
        if self._runner is None:
            run_logged(fn)
        else:
            self._runner.submit(self, fn)

    def _add_internal_callback(self, fn: Callable[[OperationFuture[T]], None]) -> None:
        # For the engine's own bookkeeping (chaining, retries): cheap, non-blocking
        # work that must happen as soon as the future is done, on whatever thread
        # resolved it, without waiting behind user callbacks in the pool.
        super().add_done_callback(fn)  # type: ignore[arg-type]

    def set_state(self, status: str, progress: Any = None) -> None:
        """Set the status (and progress) of a future your own code drives: a unit of
        work's named stage (``"migrating-data"``), an async command's. Progress
        callbacks are woken as for any change, and :meth:`record` keeps every state
        set this way, in order (``history``).

        Args:
            status: the state's name.
            progress: its progress (``None``, a number 0-100 or any JSON-able value).

        Raises:
            TypeError: ``status`` is not a non-empty string.
            InvalidStateError: the future is done.
        """
        if not isinstance(status, str) or not status:
            raise TypeError(f"set_state(status): need a state's name, got {status!r}")
        if self.done():
            raise InvalidStateError(f"{self.name} is done: its state can no longer change")
        self._observe(status, progress)
        if self._history is None:
            self._history = []  # made on first use: most futures never have one
        self._history.append({"status": status, "progress": progress, "at": self.updated_at})

    #: The states set by :meth:`set_state`, in order (None for most futures).
    _history: list[dict[str, Any]] | None = None
    #: Why the journal could not write this operation down, while it could not
    #: (see :doc:`/journal`); ``None`` when it could, or when there is no journal.
    journal_error: BaseException | None = None
    #: What :meth:`token` writes down: set by the layer that started the operation
    #: (the OpenStack twins), None where nothing can watch it again elsewhere.
    _resume_state: dict[str, Any] | None = None

    def token(self) -> str:
        """A continuation token: an opaque, JSON-safe string with which any process
        waits on this operation again (``conn.resume(token)``). It holds the cloud,
        region, project, call, the object's id, the states that end it and the
        deadline; never a credential.

        Raises:
            ValueError: the operation was not started by a plain OpenStack twin, so
                nothing can watch it from a token (a retrying twin's goes on from its
                journal row: :func:`osfutures.resume`).
        """
        if self._resume_state is None:
            raise ValueError(
                f"{self.name}: has no token: a token watches one object of a plain"
                " OpenStack twin (create_server_async); a retrying twin's operation"
                " goes on from its journal row (osfutures.resume)"
            )
        return tokens.encode(self._resume_state)

    def _observe(self, status: str | None, progress: Any) -> None:
        """Record what the cloud reports; wake progress callbacks on a change."""
        if status == self.status and progress == self.progress:
            return
        self.status = status
        self.progress = progress
        self.updated_at = time.time()
        if self._progress_callbacks:
            update = ProgressUpdate(self, status, progress, self.updated_at)
            for fn in self._progress_callbacks:
                self._dispatch(functools.partial(fn, update))

    # -- resolution -----------------------------------------------------------

    def result(self, timeout: float | None = None) -> T:
        """The operation's result (as :meth:`concurrent.futures.Future.result`).

        Raises:
            TimeoutError: not done within ``timeout`` seconds of waiting here; the
                operation goes on (its message says so). Not to be confused with
                :class:`~osfutures.OperationTimeout`, also a ``TimeoutError``: the
                operation's own deadline passed, and it is over.
            CancelledError: the future was cancelled.
            Exception: the operation's error (:class:`~osfutures.OperationFailed`,
                :class:`~osfutures.OperationTimeout`, ...).
        """
        with self._waiting_at_most(timeout, "result"):
            value: Any = super().result(timeout)
        if type(value) is Unmade:
            value = value.made()
        made: T = value
        return made

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The operation's error, or None if it succeeded (as
        :meth:`concurrent.futures.Future.exception`).

        Raises:
            TimeoutError: not done within ``timeout`` seconds of waiting here (see
                :meth:`result`).
            CancelledError: the future was cancelled.
        """
        with self._waiting_at_most(timeout, "exception"):
            return super().exception(timeout)

    @contextlib.contextmanager
    def _waiting_at_most(self, timeout: float | None, call: str) -> Iterator[None]:
        # The stdlib raises a bare TimeoutError() when a wait runs out; say whose
        # wait it was, so it is not taken for the operation's own deadline.
        try:
            yield
        except _WaitTimeout as error:
            if type(error) is not _WaitTimeout or error.args or self.done():
                raise  # the operation's own error (OperationTimeout, ...)
            raise _WaitTimeout(
                f"{self.name}: not done after {call}(timeout={timeout}) waited {timeout} s;"
                " the operation goes on (its own deadline ends it with OperationTimeout)"
            ) from None

    def set_result(self, result: T) -> None:
        """Resolve the future (as :meth:`concurrent.futures.Future.set_result`)."""
        super().set_result(result)
        self._over = True

    def set_exception(self, exception: BaseException | None) -> None:
        """Fail the future (as :meth:`concurrent.futures.Future.set_exception`)."""
        super().set_exception(exception)
        self._over = True

    def _set_result_if_pending(self, result: T) -> bool:
        try:
            self.set_result(result)
        except InvalidStateError:
            return False
        return True

    def _set_exception_if_pending(self, error: BaseException) -> bool:
        try:
            self.set_exception(error)
        except InvalidStateError:
            return False
        return True

    def cancel(self) -> bool:
        """Stop waiting for the operation.

        Returns True if the future is now cancelled (it was pending or already
        cancelled), False if it had already finished. This stops the watching only:
        **nothing is deleted or stopped in the cloud**. To undo the work, delete the
        object yourself (e.g. from :attr:`sync_res`).
        """
        if not super().cancel():
            return False
        self._over = True
        # concurrent.futures.wait() and as_completed() learn of a cancellation only
        # through set_running_or_notify_cancel() (an executor's worker calls it when
        # it picks the item up); no worker ever picks up an operation, so do it here.
        with self._condition:
            if self._state == _CANCELLED:
                self.set_running_or_notify_cancel()
        return True

    def _mirror_progress(self, other: OperationFuture[Any]) -> None:
        """Show ``other``'s status and progress as ours from now on."""
        other.add_progress_callback(lambda update: self._observe(update.status, update.progress))
        self._observe(other.status, other.progress)

    def _follow(self, other: Future[Any]) -> None:
        """Take ``other``'s outcome as ours (and its status and progress meanwhile)."""
        if isinstance(other, OperationFuture):
            self._mirror_progress(other)

        def copy_outcome(done: Future[Any]) -> None:
            if done.cancelled():
                self._set_exception_if_pending(CancelledError(f"{other!r} was cancelled"))
            elif (error := done.exception()) is not None:
                self._set_exception_if_pending(error)
            else:
                self._set_result_if_pending(passed_on(done))

        if isinstance(other, OperationFuture):
            other._add_internal_callback(copy_outcome)
        else:
            other.add_done_callback(copy_outcome)

        def pass_cancel_on(me: OperationFuture[T]) -> None:
            if me.cancelled():  # cancelling the chain stops watching what it waits for
                other.cancel()

        self._add_internal_callback(pass_cancel_on)

    # -- chaining -------------------------------------------------------------

    def next(
        self, fn: Callable[[T], U | Future[U]], *, name: str | None = None
    ) -> OperationFuture[U]:
        """Chain work after this operation: a new future resolved with ``fn(result)``.

        ``fn`` runs on the callback pool once this future succeeds. If it returns a
        future (e.g. another ``*_async`` call), the new future waits for that one and
        takes its outcome, so chains stay flat::

            attached = create_fut.next(lambda vm: attach_async(vm, volume))

        If this future fails, or ``fn`` raises, the new future fails with that same
        exception; if this future is cancelled, so is the new one. Cancelling the new
        future before ``fn`` has started stops the chain there (``fn`` never runs);
        cancelling it while it waits for the future ``fn`` returned cancels that
        one too. Neither deletes anything in the cloud.

        Args:
            fn: called with this future's result.
            name: the new future's name (default: derived from this one's).

        Returns:
            The new :class:`OperationFuture`.

        Raises:
            TypeError: ``fn`` is not callable.
        """
        require_callable("next(fn)", fn)
        label = name or f"{self.name} -> {getattr(fn, '__name__', 'fn')}"
        child: OperationFuture[U] = OperationFuture(name=label, runner=self._runner)

        def run() -> None:
            if child.done():  # cancelled before it started: the chain stops here
                return
            try:
                value = fn(self.result())
            except BaseException as error:
                child._set_exception_if_pending(error)
                return
            if isinstance(value, Future):
                child._follow(value)
            else:
                child._set_result_if_pending(value)

        def on_done(parent: OperationFuture[T]) -> None:
            if parent.cancelled():
                child.cancel()
            elif (error := parent.exception()) is not None:
                child._set_exception_if_pending(error)
            else:
                child._dispatch(run)

        self._add_internal_callback(on_done)
        return child

    def __await__(self) -> Generator[Any, None, T]:
        return asyncio.wrap_future(self).__await__()

    # -- record ---------------------------------------------------------------

    @property
    def outcome(self) -> str:
        """Where the operation stands, in osfutures' words (``status`` is the cloud's):
        ``"pending"``, ``"running"``, ``"succeeded"``, ``"failed"``, ``"timed_out"``
        or ``"cancelled"``."""
        if self.cancelled():
            return "cancelled"
        if not self.done():
            return "running" if self.running() else "pending"
        error = self.exception()
        if error is None:
            return "succeeded"
        return "timed_out" if isinstance(error, TimeoutError) else "failed"

    def record(self) -> dict[str, Any]:
        """This operation as a small JSON-able dict (what a journal stores).

        Keys: ``version``, ``id``, ``name``, ``request``, ``resource_id``,
        ``status``, ``progress``, ``outcome``, ``error`` (type and message, or None),
        ``attempts``, ``history`` (states set by :meth:`set_state`), ``created_at``,
        ``updated_at``. The result object itself is not
        included (it is not JSON-able in general); ``resource_id`` identifies it.
        """
        outcome = self.outcome
        error = self.exception() if outcome in ("failed", "timed_out") else None
        return {
            "version": RECORD_VERSION,
            "id": self.id,
            "name": self.name,
            "request": self.request,
            "resource_id": self.resource_id,
            "status": self.status,
            "progress": self.progress,
            "outcome": outcome,
            "error": error_record(error),
            "attempts": [a.to_dict() for a in self.attempts],
            "history": list(self._history or ()),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
