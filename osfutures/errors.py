"""Every exception osfutures raises.

An operation's future fails with one of these, so a caller can tell a cloud-side
failure (:class:`OperationFailed`), a disappearance (:class:`ResourceGone`), a deadline
(:class:`OperationTimeout`) and exhausted retries (:class:`RetriesExhausted`) apart,
and the engine's own trouble (:class:`MonitorShutdown`, :class:`MonitorCrashed`) from
all of them. Each message names the operation, the last status and the elapsed time,
because "unexpected state ERROR" with nothing else is what users of other tools
complain about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from osfutures.future import Attempt

__all__ = [
    "MonitorCrashed",
    "MonitorShutdown",
    "OperationFailed",
    "OperationTimeout",
    "OsFuturesError",
    "PollingFailed",
    "ProbeTimeout",
    "ResourceGone",
    "RetriesExhausted",
    "UnitFailed",
]


class OsFuturesError(Exception):
    """Base class of every osfutures exception."""


def _describe(operation: str, status: str | None, elapsed: float | None) -> str:
    parts = [operation]
    if status is not None:
        parts.append(f"last status {status}")
    if elapsed is not None:
        parts.append(f"after {elapsed:.1f}s")
    return ", ".join(parts)


class OperationFailed(OsFuturesError):
    """The operation reached a failure state in the cloud.

    Attributes:
        operation: what was being watched (e.g. ``"create_server 3f2a..."``).
        resource: the last object fetched (an openstacksdk resource, a dict, ...).
        status: its state when the failure was seen.
        fault: the cloud's explanation when it gave one (Nova's ``fault.message``,
            a stack's ``status_reason``), else ``None``.
        elapsed: seconds since the operation was submitted.
        details: the record the explanation comes from, as the cloud gave it, when
            one was asked for (see :class:`~osfutures.Explanation`): Nova's
            instance action, Cinder's or Manila's user message; else ``None``.
    """

    def __init__(
        self,
        operation: str,
        *,
        resource: Any = None,
        status: str | None = None,
        fault: str | None = None,
        elapsed: float | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.operation = operation
        self.resource = resource
        self.status = status
        self.fault = fault
        self.elapsed = elapsed
        self.details = details
        message = _describe(operation, status, elapsed)
        if fault:
            message = f"{message}: {fault}"
        super().__init__(message)


class ResourceGone(OperationFailed):
    """The watched object disappeared while the operation expected it to stay.

    Raised only after the disappearance was seen as many times in a row as the
    watch's ``gone_after`` allows, so a 404 right after create (eventual
    consistency) is not mistaken for a deletion.
    """


class OperationTimeout(OsFuturesError, TimeoutError):
    """The operation's deadline passed before it reached a terminal state.

    A subclass of the builtin :class:`TimeoutError`, so ``except TimeoutError``
    catches it. When polling itself was failing, the last polling error is
    ``__cause__``.

    Attributes:
        operation: what was being watched.
        status: the last status seen, or ``None`` if none was ever fetched.
        elapsed: seconds since the operation was submitted.
        timeout: the deadline that passed, in seconds.
        last_seen: seconds between the last observation of the object and the
            timeout, or ``None`` if it was never observed.
        delayed_by: why polls came later than their interval asked, when they did
            (the monitor's rate cap, or every probe thread busy); else ``None``.
    """

    def __init__(
        self,
        operation: str,
        *,
        status: str | None = None,
        elapsed: float | None = None,
        timeout: float | None = None,
        last_seen: float | None = None,
        delayed_by: str | None = None,
    ) -> None:
        self.operation = operation
        self.status = status
        self.elapsed = elapsed
        self.timeout = timeout
        self.last_seen = last_seen
        self.delayed_by = delayed_by
        notes = []
        if last_seen is not None:
            notes.append(f"last looked {last_seen:.1f}s before")
        if delayed_by:
            notes.append(f"polls were delayed by {delayed_by}")
        detail = f" ({'; '.join(notes)})" if notes else ""
        super().__init__(f"timed out waiting for {_describe(operation, status, elapsed)}{detail}")


class ProbeTimeout(OsFuturesError, TimeoutError):
    """A probe request took longer than the monitor's ``probe_timeout``.

    Not an operation's outcome: the monitor stops waiting for that request and polls
    again; it is the ``__cause__`` of an :class:`OperationTimeout` if the deadline
    passes before a poll succeeds.
    """


class PollingFailed(OsFuturesError):
    """The operation's state could not be read, for a reason polling again cannot fix.

    The object's own fetch was refused (a 403, a 401 after re-authentication, a
    400): the operation itself may well still be running in the cloud. A failed
    batch listing alone never ends an operation; its members are fetched on their
    own first. The request's error is ``__cause__``.

    Attributes:
        operation: what was being watched.
        status: the last status seen, or ``None``.
        elapsed: seconds since the operation was submitted.
    """

    def __init__(
        self, operation: str, *, status: str | None = None, elapsed: float | None = None
    ) -> None:
        self.operation = operation
        self.status = status
        self.elapsed = elapsed
        super().__init__(f"cannot read the state of {_describe(operation, status, elapsed)}")


class RetriesExhausted(OsFuturesError):
    """Every attempt of a retrying operation failed.

    Attributes:
        operation: what was being attempted.
        attempts: every :class:`~osfutures.Attempt`, in order, each with its error.
        errors: the error of each attempt, in order (``attempts[i].error``).
    """

    def __init__(self, operation: str, attempts: Sequence[Attempt]) -> None:
        self.operation = operation
        self.attempts = list(attempts)
        self.errors = [a.error for a in self.attempts if a.error is not None]
        last = self.errors[-1] if self.errors else None
        detail = f": last error {type(last).__name__}: {last}" if last else ""
        super().__init__(f"{operation}: all {len(self.attempts)} attempts failed{detail}")


class UnitFailed(OsFuturesError):
    """Parts of a unit of work (:func:`~osfutures.combine`) failed.

    Attributes:
        operation: the unit's name.
        futures: every part, in order: ask each for its result or error (a part
            that succeeded may have left something to clean up).
        errors: the error of each failed part, by its index in ``futures``; a
            cancelled part's is a :class:`concurrent.futures.CancelledError`.

    The first failed part's error is ``__cause__``.
    """

    def __init__(
        self, operation: str, futures: Sequence[Any], errors: Mapping[int, BaseException]
    ) -> None:
        self.operation = operation
        self.futures = list(futures)
        self.errors = dict(sorted(errors.items()))
        listed = "; ".join(f"[{i}] {type(e).__name__}: {e}" for i, e in self.errors.items())
        super().__init__(
            f"{operation}: {len(self.errors)} of {len(self.futures)} parts failed: {listed}"
        )
        self.__cause__ = next(iter(self.errors.values()), None)


class MonitorShutdown(OsFuturesError, RuntimeError):
    """Work was submitted to a monitor after :meth:`~osfutures.Monitor.shutdown`."""


class MonitorCrashed(OsFuturesError, RuntimeError):
    """The monitor thread died; every operation it was watching fails with this.

    The error that killed the thread is ``__cause__``. Work submitted to a crashed
    monitor raises this at once rather than waiting forever.
    """
