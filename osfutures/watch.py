"""What the monitor knows of one watched operation, and how it judges an observation.

A :class:`Watch` is pure bookkeeping: the probe (how to fetch the object), the tests
(ready? failed?), the deadline and the polling state. :meth:`Watch.judge` turns one
observation into a verdict without touching threads or the clock, which keeps the
monitor's loop about scheduling only.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from osfutures.errors import OperationFailed, PollingFailed, ResourceGone
from osfutures.future import OperationFuture
from osfutures.policy import PollInterval

__all__ = ["GONE", "Batch", "States", "Verdict", "Watch", "attribute_getter"]


class _Gone:
    __slots__ = ()

    def __repr__(self) -> str:
        return "GONE"


#: What a probe returns (or a ``fetch_many`` maps an item to) for an object that no
#: longer exists. A ``fetch`` may also return ``None`` for that.
GONE: Final = _Gone()

Getter = Callable[[Any], Any]


_MISSING = object()


def attribute_getter(name: str) -> Getter:
    """A getter reading ``obj.<name>``, or ``obj[name]`` for mappings; None if absent."""

    def get(obj: Any) -> Any:
        if type(obj) is dict:  # the common case first: no ABC check per poll
            return obj.get(name)
        value = getattr(obj, name, _MISSING)
        if value is _MISSING:
            return obj.get(name) if isinstance(obj, Mapping) else None
        return value

    get.__name__ = f"get_{name}"
    return get


def _status_text(value: Any) -> str | None:
    return None if value is None else str(value)


class Verdict(enum.Enum):
    """What a state means for the operation."""

    READY = "ready"
    FAILED = "failed"
    UNEXPECTED = "unexpected"


@dataclass(frozen=True)
class States:
    """Target, pending and failure state sets (Terraform's StateChangeConf).

    States compare case-insensitively (Nova says ``ACTIVE``, Cinder ``available``).
    With a non-empty ``pending`` set, a state in none of the three sets is
    unexpected, which fails the operation; with an empty one, unknown states are
    waited through. Build with :meth:`of`, which checks and normalises.
    """

    target: frozenset[str]
    pending: frozenset[str] = frozenset()
    failure: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        target: Collection[str],
        pending: Collection[str] = (),
        failure: Collection[str] = (),
        *,
        allow_no_target: bool = False,
    ) -> States:
        """Checked, lowercased state sets.

        Raises:
            ValueError: ``target`` is empty (unless allowed: an operation whose
                success is a disappearance), or a state is in two sets.
            TypeError: a set is a plain string (a common slip for ``{"ACTIVE"}``).
        """
        sets = {}
        for name, states in (("target", target), ("pending", pending), ("failure", failure)):
            if isinstance(states, (str, bytes)):
                raise TypeError(
                    f"{name}: expected a collection of states, got the string {states!r}"
                )
            sets[name] = frozenset(str(s).lower() for s in states)
        if not sets["target"] and not allow_no_target:
            raise ValueError("target: need at least one target state, got an empty collection")
        for a, b in (("target", "pending"), ("target", "failure"), ("pending", "failure")):
            if common := sets[a] & sets[b]:
                raise ValueError(f"{a} and {b} share states {sorted(common)}: give each one role")
        return _interned(cls(sets["target"], sets["pending"], sets["failure"]))

    def verdict(self, status: str | None) -> Verdict | None:
        """What ``status`` means: ready, failed, unexpected, or None (keep waiting)."""
        state = "" if status is None else status.lower()
        if state in self.target:
            return Verdict.READY
        if state in self.failure:
            return Verdict.FAILED
        if self.pending and state not in self.pending and status is not None:
            return Verdict.UNEXPECTED
        return None


@functools.lru_cache(maxsize=1024)
def _interned(states: States) -> States:
    # Thousands of operations with the same sets share one object.
    return states


@dataclass(frozen=True)
class Batch:
    """Lets many operations of one kind be polled with one request.

    Operations whose batch has the same ``key`` are polled together: one call of
    ``fetch_many(items)`` per poll cycle, with the ``batch_item`` of every watched
    operation of that key. It returns a mapping from item to the fetched object (or
    :data:`GONE`). An item it leaves out is fetched on its own with that
    operation's ``fetch``, which settles whether it is gone or was merely not listed.

    Attributes:
        key: anything hashable naming the group, e.g. ``("servers", cloud, project)``.
        fetch_many: fetches many items in as few requests as it can.
    """

    key: Hashable
    fetch_many: Callable[[Sequence[Hashable]], Mapping[Hashable, Any]]


class Watch:
    """One watched operation, owned by the monitor thread once submitted."""

    __slots__ = (
        "batch",
        "batch_errors",
        "deadline",
        "failed",
        "fault_of",
        "fetch",
        "final_look",
        "future",
        "gone_after",
        "gone_ok",
        "gone_seen",
        "inflight",
        "interval",
        "is_fatal",
        "item",
        "last",
        "last_error",
        "next_poll",
        "polls",
        "progress_of",
        "ready",
        "seen_at",
        "settled",
        "solo",
        "started",
        "states",
        "status_of",
        "timeout",
    )

    def __init__(
        self,
        future: OperationFuture[Any],
        fetch: Callable[[], Any],
        *,
        ready: Callable[[Any], bool] | None,
        failed: Callable[[Any], bool] | None,
        states: States | None,
        settled: Callable[[Any], bool] | None,
        status_of: Getter,
        progress_of: Getter,
        fault_of: Getter | None,
        gone_ok: bool,
        gone_after: int,
        is_fatal: Callable[[BaseException], bool],
        interval: PollInterval,
        timeout: float,
        batch: Batch | None,
        item: Hashable,
    ) -> None:
        self.future = future
        self.fetch = fetch
        self.ready = ready
        self.failed = failed
        self.states = states
        self.settled = settled
        self.status_of = status_of
        self.progress_of = progress_of
        self.fault_of = fault_of
        self.gone_ok = gone_ok
        self.gone_after = gone_after
        self.is_fatal = is_fatal
        self.interval = interval
        self.timeout = timeout
        self.batch = batch
        self.item = item
        # Set by the monitor when it takes the watch in.
        self.started = 0.0
        self.deadline = 0.0
        self.next_poll = 0.0
        self.polls = 0
        self.gone_seen = 0
        self.last: Any = None
        self.last_error: BaseException | None = None
        self.inflight = False
        # Left out of its batch's answer, or its batch's listing keeps being refused:
        # the next poll fetches it on its own.
        self.solo = False
        # Failed listings of its batch in a row.
        self.batch_errors = 0
        # When it was last observed (None: never).
        self.seen_at: float | None = None
        # Granted one more look at its deadline, its polls having been held back by
        # this ("cap" or "threads").
        self.final_look: str | None = None

    def judge(self, value: Any, error: BaseException | None, now: float) -> BaseException | None:
        """Take in one observation and resolve the future if it is final.

        ``value`` is the fetched object (or :data:`GONE` / ``None``); ``error`` what
        the probe raised instead. Returns the error to remember when polling should
        go on after a transient error, else ``None``. Resolves or fails the future
        when the observation is final. Never raises.
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
            if value is None or value is GONE:
                self._judge_gone(elapsed)
                return None
            self.gone_seen = 0
            self.last = value
            self.seen_at = now
            status = _status_text(self.status_of(value))
            if status != future.status:
                self.polls = 0
            future._observe(status, self.progress_of(value))
            verdict = self._verdict(value, status)
            if verdict is Verdict.READY:
                future._set_result_if_pending(value)
            elif verdict is not None:
                fault = self.fault_of(value) if self.fault_of else None
                if verdict is Verdict.UNEXPECTED and not fault:
                    fault = f"unexpected state {status}"
                future._set_exception_if_pending(
                    OperationFailed(
                        self.describe(), resource=value, status=status, fault=fault, elapsed=elapsed
                    )
                )
        except Exception as problem:  # a user's test or getter raised: fail this one only
            future._set_exception_if_pending(problem)
        return None

    def _verdict(self, value: Any, status: str | None) -> Verdict | None:
        if self.states is None:
            if self.failed is not None and self.failed(value):
                return Verdict.FAILED
            return Verdict.READY if self.ready is not None and self.ready(value) else None
        verdict = self.states.verdict(status)
        # A state counts once nothing is in progress on the object: right after an
        # action (or a deletion of an ERROR server) it may still show the old one.
        if verdict is not None and self.settled is not None and not self.settled(value):
            return None
        return verdict

    def _judge_gone(self, elapsed: float) -> None:
        future = self.future
        if self.gone_ok:
            future._observe("DELETED", future.progress)
            future._set_result_if_pending(self.last)
            return
        self.gone_seen += 1
        if self.gone_seen >= self.gone_after:
            future._set_exception_if_pending(
                ResourceGone(
                    f"{self.describe()} disappeared",
                    resource=self.last,
                    status=future.status,
                    elapsed=elapsed,
                )
            )

    def batch_failed(self, error: BaseException) -> bool:
        """Take in a failed listing of this watch's batch; True to fetch it on its own.

        A listing's error is no verdict on its members: a transient one is polled
        through in the batch (falling back to a request per member would multiply
        the load on a struggling cloud); one polling again cannot fix is believed
        only after it happens twice in a row, and then each member asks for
        itself, which settles it.
        """
        self.batch_errors += 1
        try:
            fatal = self.is_fatal(error)
        except Exception:
            fatal = True  # the member's own fetch will judge it, this time for real
        return fatal and self.batch_errors >= 2

    def describe(self) -> str:
        """The operation's name, with its resource id when known."""
        future = self.future
        rid = future.resource_id
        return f"{future.name} ({rid})" if rid and rid not in future.name else future.name
