"""Polling cadence, the request-rate cap, and which errors are worth another try.

Three settings that other tools blur are kept apart here: how often an operation is
polled (:class:`PollInterval`), how many probe requests a monitor may make per second
(:class:`RateLimiter`), and which errors a retry can fix (:func:`is_transient`,
:func:`is_retryable`, used as tenacity ``retry`` policies). The operation's own
timeout is the caller's, never derived from these.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from osfutures._checks import check_number, check_timeout
from osfutures.errors import OperationFailed, OperationTimeout

__all__ = [
    "PollInterval",
    "RateLimiter",
    "is_retryable",
    "is_transient",
    "retry_after",
]

#: HTTP statuses after which the same request may well succeed later.
TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class PollInterval:
    """How long to wait between two polls of one operation.

    The n-th wait since the operation's status last changed is
    ``min(initial * factor**n, maximum)``, randomised by ``+-jitter`` (a fraction),
    so that many operations started together do not poll in lockstep forever. A
    change of status starts the sequence again: a resource that is moving is worth
    watching closely.

    Args:
        initial: the first wait, in seconds (> 0).
        factor: growth per poll (>= 1; 1 means a fixed interval).
        maximum: the longest wait (>= initial).
        jitter: fraction of randomisation, 0 <= jitter < 1.

    Raises:
        ValueError: an argument is out of range (the message names it).
    """

    initial: float = 1.0
    factor: float = 1.25
    maximum: float = 10.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        check_timeout("PollInterval(initial)", self.initial, allow_none=False, allow_inf=False)
        check_number("PollInterval(factor)", self.factor)
        check_number("PollInterval(maximum)", self.maximum)
        check_number("PollInterval(jitter)", self.jitter)
        if not (math.isfinite(self.factor) and self.factor >= 1):
            raise ValueError(
                f"PollInterval(factor): need a finite number >= 1, got {self.factor!r}"
            )
        if not (math.isfinite(self.maximum) and self.maximum >= self.initial):
            raise ValueError(
                f"PollInterval(maximum): need a finite number >= initial ({self.initial}),"
                f" got {self.maximum!r}"
            )
        if not (0 <= self.jitter < 1):
            raise ValueError(f"PollInterval(jitter): need 0 <= jitter < 1, got {self.jitter!r}")

    @classmethod
    def coerce(
        cls, value: PollInterval | float | None, default: PollInterval, *, name: str = "interval"
    ) -> PollInterval:
        """``None`` -> ``default``; a number -> a fixed interval; else ``value``.

        Args:
            value: what the caller passed.
            default: the interval for ``None``.
            name: the argument's name, for messages.

        Raises:
            TypeError: ``value`` is neither.
            ValueError: a number that is not > 0 and finite.
        """
        if value is None:
            return default
        if isinstance(value, PollInterval):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(
                f"{name}: expected seconds or a PollInterval, got {type(value).__name__} {value!r}"
            )
        check_timeout(name, value, allow_none=False, allow_inf=False)
        return _fixed(float(value))

    def delay(self, polls: int, rng: random.Random) -> float:
        """The wait before the next poll, after ``polls`` polls without a change."""
        try:
            base = min(self.initial * self.factor ** min(polls, 64), self.maximum)
        except OverflowError:  # a huge factor: the maximum was reached long ago
            base = self.maximum
        if self.jitter:
            base *= 1 + rng.uniform(-self.jitter, self.jitter)
        return base


@functools.lru_cache(maxsize=256)
def _fixed(seconds: float) -> PollInterval:
    # Thousands of operations polled every N seconds share one (frozen) interval.
    return PollInterval(initial=seconds, factor=1.0, maximum=seconds, jitter=0.0)


class RateLimiter:
    """A token bucket: at most ``rate`` probe requests per second, bursts of ``burst``.

    Used only by the monitor thread, against the monitor's clock.

    Raises:
        ValueError: ``rate`` or ``burst`` is not > 0.
    """

    def __init__(self, rate: float, burst: float | None = None, *, now: float = 0.0) -> None:
        check_number("max_probes_per_second", rate)
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"max_probes_per_second: need a number > 0, got {rate!r}")
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1.0, rate))
        if self.burst < 1:
            raise ValueError(f"burst: need at least 1, got {burst!r}")
        self._tokens = self.burst
        self._stamp = now

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def full(self, now: float) -> bool:
        """Whether the budget is whole again at ``now`` (a new limiter would be the
        same)."""
        return self._tokens + (now - self._stamp) * self.rate >= self.burst

    def take(self, now: float) -> float:
        """Take one token: 0.0 if granted, else the seconds until one is available."""
        self._refill(now)
        # With a little slack: a refill that falls short of a whole token by a
        # rounding error would otherwise answer "wait 1e-16 s" at the very time it
        # named, over and over.
        if self._tokens >= 1 - 1e-9:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate


def _status_code(error: BaseException) -> int | None:
    # openstacksdk says status_code, keystoneauth http_status, requests has a response.
    for code in (
        getattr(error, "status_code", None),
        getattr(error, "http_status", None),
        getattr(getattr(error, "response", None), "status_code", None),
    ):
        if isinstance(code, int):
            return code
    return None


def is_transient(error: BaseException) -> bool:
    """Whether a failed request may succeed if simply made again later.

    True for errors that say when to ask again (a ``Retry-After``, as Nova's 413
    OverLimit has), for connection errors and timeouts of the transport (``OSError``,
    which includes ``requests``' connection errors), and for errors carrying an HTTP
    status (``error.status_code`` or ``error.response.status_code``) of 408, 425, 429
    or 5xx.
    A 400, 401, 403 or 404 is not transient: asking again gives the same answer.
    """
    if retry_after(error) is not None:  # the server said when to ask again (413 OverLimit)
        return True
    code = _status_code(error)
    if code is not None:  # an answer (requests' HTTPError is an OSError too)
        return code in TRANSIENT_HTTP_STATUSES or 500 <= code < 600
    return isinstance(error, (OSError, TimeoutError))


def is_retryable(error: BaseException) -> bool:
    """The default retry decision of :func:`osfutures.retrying`.

    An operation that failed in the cloud (an ERROR state, a disappearance) or ran
    out of time is worth relaunching; so is a transient request error. A request
    the cloud rejected (400 bad request, 403, quota exceeded) is not: a relaunch
    would be rejected the same way.
    """
    return isinstance(error, (OperationFailed, OperationTimeout)) or is_transient(error)


def retry_after(error: BaseException) -> float | None:
    """Seconds the server asked us to wait (``Retry-After``), if the error says.

    Looks at ``error.retry_after`` and then the ``Retry-After`` header of
    ``error.response`` (seconds or an HTTP date). Returns ``None`` if absent or
    unreadable.
    """
    value: Any = getattr(error, "retry_after", None)
    if value is None:
        headers = getattr(getattr(error, "response", None), "headers", None)
        if headers is not None:
            value = headers.get("Retry-After")
    return seconds_to_wait(value)


def seconds_to_wait(value: Any) -> float | None:
    """A ``Retry-After`` value (seconds, or an HTTP date) as seconds >= 0 from now;
    ``None`` if absent or unreadable. What :func:`retry_after` reads an error with,
    for callers that hold the value itself (a successful answer's header)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        try:
            when = parsedate_to_datetime(str(value))
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT even when they do not say so
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None
