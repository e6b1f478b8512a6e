"""The monitor's record of one watched operation, and how it judges an observation.

A :class:`Watch` is bookkeeping: how to fetch and read the object, the tests (ready?
failed?), the deadline and the polling state. :meth:`Watch.judge` turns one
observation into a verdict without touching threads or the clock, which keeps the
monitor about scheduling only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from osfutures.errors import OperationFailed, OperationTimeout, PollingFailed, ResourceGone
from osfutures.future import OperationFuture, Unmade
from osfutures.policy import PollInterval
from osfutures.watch import (
    NOT_LISTED,
    NOT_YET,
    Batch,
    Explanation,
    Gone,
    OnGone,
    Reader,
    States,
    Verdict,
)

__all__ = ["Held", "Watch"]


@dataclass(slots=True, frozen=True)
class Held:
    """A verdict waiting for the inquiry about it: a failure (to explain) or a
    success (to confirm), with the observation it was reached on."""

    verdict: Verdict
    value: Any
    status: str | None
    fault: str | None
    details: Mapping[str, Any] | None = None


@dataclass(slots=True, eq=False)
class Watch:
    """One watched operation, owned by the monitor thread once submitted.

    ``ready`` and ``failed`` judge the object when ``states`` is None.
    """

    future: OperationFuture[Any]
    fetch: Callable[[], Any]
    states: States | None
    ready: Callable[[Any], bool] | None
    failed: Callable[[Any], bool] | None
    reader: Reader
    on_gone: OnGone
    is_fatal: Callable[[BaseException], bool]
    interval: PollInterval
    timeout: float
    batch: Batch | None
    item: Hashable
    #: What its own fetch's requests go to (the rate cap is per endpoint); None: none.
    endpoint: Hashable
    #: When the call was made: the deadline runs from here.
    started: float
    deadline: float = 0.0
    #: When its own poll is due (unbatched or solo; a batch group has its own).
    next_poll: float = 0.0
    #: Polls since the status last changed (the interval grows with it).
    polls: int = 0
    gone_seen: int = 0
    last: Any = None
    last_error: BaseException | None = None
    inflight: bool = False
    #: Left out of its batch's answer, or its batch's listing keeps being refused:
    #: out of its batch group until its own fetch has answered.
    solo: bool = False
    #: When it was last observed (None: never).
    seen_at: float | None = None
    #: Granted one more look at its deadline, its polls having been held back: by
    #: what (words for the timeout's message), else None.
    final_look: str | None = None
    #: Asks the cloud why the object settled where the operation does not go (see
    #: ``Monitor.watch(inquire=...)``); None: nothing to ask.
    inquire: Callable[[Any], Any] | None = None
    #: Its next own fetch is an inquiry.
    inquiry_due: bool = False
    #: Inquired since the object was last seen unsettled (asked once per stall).
    inquired: bool = False
    #: A target state believed only once an inquiry finds nothing wrong
    #: (``Monitor.watch(confirm=True)``).
    confirm: bool = False
    #: A verdict held back while the inquiry about it is out.
    held: Held | None = None
    #: The service asked not to be polled before this time (``Reader.retry_after``).
    not_before: float = -math.inf

    def judge(self, value: Any, error: BaseException | None, now: float) -> BaseException | None:
        """Take in one observation and resolve the future if it is final.

        ``value`` is the fetched object (or a :class:`~osfutures.Gone` / ``None``);
        ``error`` what the probe raised instead. Returns the error to remember when
        polling should go on after a transient error, else ``None``. Never raises.
        """
        future = self.future
        elapsed = now - self.started
        try:
            if error is not None:
                if self.is_fatal(error):
                    failure = PollingFailed(self.describe(), status=future.status, elapsed=elapsed)
                    failure.__cause__ = error
                    future._set_exception_if_pending(failure)
                return error
            if value is None or isinstance(value, Gone):
                recorded = value is not None and value.last is not None
                if value is not None and value.last is not None:
                    self.last = value.last  # its last record: what a deletion gives
                self._judge_gone(elapsed, recorded)
                return None
            if value is NOT_LISTED or value is NOT_YET:
                raise TypeError(
                    f"the fetch of {self.describe()} returned {value!r}, which only a"
                    " Batch's fetch_many may answer"
                )
            self.gone_seen = 0
            self.last = value
            self.seen_at = now
            reader = self.reader
            if reader.retry_after_of is not None:
                self.not_before = now + _seconds_asked(reader.retry_after_of(value))
            raw = reader.status_of(value)
            status = None if raw is None else str(raw)
            if status != future.status:
                self.polls = 0
            future._observe(status, reader.progress_of(value))
            verdict = self._verdict(value, status)
            if verdict is None:
                if self.inquire is not None:
                    self._note_stall(value)
                return None
            fault = details = None
            if verdict is not Verdict.READY:
                fault = reader.fault_of(value) if reader.fault_of else None
                if verdict is Verdict.UNEXPECTED and not fault:
                    fault = f"unexpected state {status}"
                details = _details(reader.details_of(value)) if reader.details_of else None
            if self.inquire is not None and (verdict is not Verdict.READY or self.confirm):
                # Ask the cloud first: why it failed (Cinder's user messages), or
                # whether a state the failure leaves too means success.
                self.held = Held(verdict, value, status, fault, details)
                self.inquiry_due = True
            else:
                self._conclude(verdict, value, status, fault, details, elapsed)
        except Exception as problem:  # a user's test or getter raised: fail this one only
            future._set_exception_if_pending(problem)
        return None

    def _note_stall(self, value: Any) -> None:
        """No verdict: if nothing is in progress on the object either, the operation
        stalled (a failed action the cloud undid): ask why, once per stall."""
        settled = self.reader.settled
        if settled is None or self.states is None:
            return  # no telling a stall from a wait
        if not settled(value):
            self.inquired = False
        elif not self.inquired:
            self.inquired = self.inquiry_due = True

    def take_inquiry(self, answer: Any, error: BaseException | None, now: float) -> None:
        """Take in what ``inquire`` answered: an :class:`~osfutures.Explanation` fails
        a stalled or held-back success, and joins a held-back failure. ``None``, or an
        error (an explanation is a courtesy: the cloud may forbid asking), adds
        nothing: a held verdict stands."""
        self.inquiry_due = False
        held, self.held = self.held, None
        elapsed = now - self.started
        if error is None and answer is not None and not isinstance(answer, Explanation):
            problem = TypeError(
                f"inquire of {self.describe()} must return an Explanation or None,"
                f" returned {type(answer).__name__} {answer!r}"
            )
            self.future._set_exception_if_pending(problem)
            return
        found: Explanation | None = answer if error is None else None
        if held is None:
            if found is not None:
                self._fail(self.future.status, found.fault, found.details, elapsed)
        elif found is None:
            self._conclude(held.verdict, held.value, held.status, held.fault, held.details, elapsed)
        else:
            fault = f"{held.fault}; {found.fault}" if held.fault else found.fault
            details = found.details if found.details is not None else held.details
            self._fail(held.status, fault, details, elapsed)

    def _conclude(
        self,
        verdict: Verdict,
        value: Any,
        status: str | None,
        fault: str | None,
        details: Any,
        elapsed: float,
    ) -> None:
        if verdict is Verdict.READY:
            self.future._set_result_if_pending(self._result_of(value))
        else:
            self._fail(status, fault, details, elapsed)

    def _fail(self, status: str | None, fault: str | None, details: Any, elapsed: float) -> None:
        self.future._set_exception_if_pending(
            OperationFailed(
                self.describe(),
                resource=self._handed_over(self.last),
                status=status,
                fault=fault,
                elapsed=elapsed,
                details=details,
            )
        )

    def _verdict(self, value: Any, status: str | None) -> Verdict | None:
        if self.states is None:
            if self.failed is not None and self.failed(value):
                return Verdict.FAILED
            return Verdict.READY if self.ready is not None and self.ready(value) else None
        verdict = self.states.verdict(status)
        # A state counts once nothing is in progress on the object: right after an
        # action (or a deletion of an ERROR server) it may still show the old one.
        settled = self.reader.settled
        if verdict is not None and settled is not None and not settled(value):
            return None
        return verdict

    def _judge_gone(self, elapsed: float, recorded: bool) -> None:
        """The object is gone: ``recorded`` when the cloud said so with its last
        record (Nova's ``DELETED`` row), which needs no second look: ``OnGone.after``
        tolerates a 404 right after a creation, and a ``changes_only`` batch carries
        a deletion once."""
        future = self.future
        if self.on_gone.succeed:
            future._observe("DELETED", future.progress)
            last = self.last if self.last is not None else self.on_gone.last
            future._set_result_if_pending(self._result_of(last))
            return
        self.gone_seen += 1
        if recorded or self.gone_seen >= self.on_gone.after:
            future._set_exception_if_pending(
                ResourceGone(
                    f"{self.describe()} disappeared",
                    resource=self._handed_over(self.last),
                    status=future.status,
                    elapsed=elapsed,
                )
            )

    def _handed_over(self, obj: Any) -> Any:
        """What the caller gets for a fetched object (see :class:`~osfutures.Reader`)."""
        make = self.reader.result
        return obj if make is None or obj is None else make(obj)

    def _result_of(self, obj: Any) -> Any:
        """The future's result for a fetched object: made when first read."""
        make = self.reader.result
        return obj if make is None or obj is None else Unmade(obj, make)

    def time_out(self, now: float) -> None:
        """Fail the future with :class:`~osfutures.OperationTimeout` (its deadline),
        or with the verdict held back for an inquiry still out."""
        held = self.held
        if held is not None:
            self._conclude(
                held.verdict,
                held.value,
                held.status,
                held.fault,
                held.details,
                now - self.started,
            )
            return
        error = OperationTimeout(
            self.describe(),
            status=self.future.status,
            elapsed=now - self.started,
            timeout=self.timeout,
            last_seen=None if self.seen_at is None else now - self.seen_at,
            delayed_by=self.final_look,
        )
        error.__cause__ = self.last_error
        self.future._set_exception_if_pending(error)

    def describe(self) -> str:
        """The operation's name, with its resource id when known."""
        future = self.future
        rid = future.resource_id
        return f"{future.name} ({rid})" if rid and rid not in future.name else future.name


def _seconds_asked(value: Any) -> float:
    """What a ``Reader.retry_after`` read: seconds >= 0, ``None`` for none (0).

    Raises:
        TypeError, ValueError: anything else (the getter's bug: the operation fails
            with this rather than being polled at a pace nobody asked for).
    """
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"Reader(retry_after) must give seconds or None, gave {type(value).__name__} {value!r}"
        )
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"Reader(retry_after) must give finite seconds >= 0, gave {value!r}")
    return float(value)


def _details(value: Any) -> Mapping[str, Any] | None:
    """What a ``Reader.details`` read: a mapping, or ``None``.

    Raises:
        TypeError: anything else.
    """
    if value is None or isinstance(value, Mapping):
        return value
    raise TypeError(
        f"Reader(details) must give a mapping or None, gave {type(value).__name__} {value!r}"
    )
