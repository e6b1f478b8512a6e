"""HTTP fault injection: latency, 500/503 rates, 429 bursts, dropped connections, expiry.

Faults hit requests before they reach a service, and are answered in that service's
error style. Rates draw from a generator seeded by the cloud's seed, so the same seed and
the same request sequence give the same faults. One-shot faults (:meth:`Faults.inject`)
are for tests that need a fault on exactly the next matching request.
"""

from __future__ import annotations

import enum
import random
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..._checks import require_instance
from . import checks
from .scenario import Duration


class FaultKind(str, enum.Enum):
    """What a fault does to a request."""

    #: 500 in the service's error style.
    ERROR = "error"
    #: 503 with Retry-After.
    UNAVAILABLE = "unavailable"
    #: 429 with Retry-After (and Nova's ``retryAfter`` in the body).
    THROTTLE = "throttle"
    #: 413 with Retry-After, as older Nova rate limiting answered.
    OVERLIMIT = "overlimit"
    #: The socket is closed without any response.
    DROP = "drop"
    #: The request's token expires just before it is checked: 401, then re-auth.
    EXPIRE_TOKEN = "expire_token"


#: The status each answering fault sends.
FAULT_STATUS = {
    FaultKind.ERROR: 500,
    FaultKind.UNAVAILABLE: 503,
    FaultKind.THROTTLE: 429,
    FaultKind.OVERLIMIT: 413,
}


@dataclass(frozen=True)
class Fault:
    """One fault to apply to one request."""

    kind: FaultKind
    retry_after: float = 1.0


@dataclass(frozen=True)
class FaultConfig:
    """Standing fault rates.

    Attributes:
        latency: seconds added to every matching request: fixed or ``(low, high)``.
        error_rate: chance of a 500.
        unavailable_rate: chance of a 503.
        drop_rate: chance the connection is closed without a response.
        throttle_rate: chance a request starts a burst of 429s.
        throttle_burst: how many requests a 429 burst covers.
        retry_after: the ``Retry-After`` seconds of 429, 413 and 503 answers.
        route: a regular expression the ``"METHOD /template"`` key must match
            (``search``); every route when None.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if a time is negative (or ``low > high``), a rate is outside 0-1
            or the rates add up to more than 1, ``throttle_burst`` is under 1, or ``route``
            does not compile.
    """

    latency: Duration = 0.0
    error_rate: float = 0.0
    unavailable_rate: float = 0.0
    drop_rate: float = 0.0
    throttle_rate: float = 0.0
    throttle_burst: int = 3
    retry_after: float = 1.0
    route: str | None = None

    def __post_init__(self) -> None:
        checks.duration("latency", self.latency)
        rates = ("error_rate", "unavailable_rate", "drop_rate", "throttle_rate")
        for name in rates:
            checks.PROBABILITY.check(name, getattr(self, name))
        checks.rates_sum(rates, tuple(getattr(self, name) for name in rates))
        checks.AT_LEAST_ONE.check("throttle_burst", self.throttle_burst)
        checks.SECONDS.check("retry_after", self.retry_after)
        checks.regex("route", self.route)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        """Build from JSON (a latency range comes as a two-element list).

        Raises:
            TypeError: on an unknown field, or one of the wrong type.
            ValueError: on a value out of range.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise TypeError(f"unknown fault settings: {sorted(unknown)}")
        latency = data.get("latency")
        if isinstance(latency, list):
            data = {**data, "latency": tuple(latency)}
        return cls(**data)


@dataclass
class _Pending:
    fault: Fault
    remaining: int
    route: re.Pattern[str] | None


class Faults:
    """The fault settings of one cloud; thread safe.

    Args:
        seed: the seed of the fault draws.
        config: the initial standing rates.
        expire_tokens: expires every token (the identity backend's ``expire``).
    """

    def __init__(
        self,
        seed: int = 0,
        config: FaultConfig | None = None,
        expire_tokens: Callable[[], None] | None = None,
    ) -> None:
        self._rng = random.Random(f"{seed}/faults")
        self._config = config or FaultConfig()
        self._route = self._compile(self._config.route)
        self._expire_tokens = expire_tokens
        self._pending: deque[_Pending] = deque()
        self._lock = threading.Lock()

    @property
    def config(self) -> FaultConfig:
        """The standing rates in effect."""
        return self._config

    def set(self, **changes: Any) -> FaultConfig:
        """Change standing rates, e.g. ``faults.set(unavailable_rate=0.1)``; return them.

        Raises:
            TypeError: on an unknown setting, or one of the wrong type.
            ValueError: on a value out of range (see :class:`FaultConfig`); the
                rates in effect are then left as they were.
        """
        with self._lock:
            self._config = replace(self._config, **changes)
            self._route = self._compile(self._config.route)
            return self._config

    def inject(
        self,
        kind: FaultKind | str,
        count: int = 1,
        *,
        route: str | None = None,
        retry_after: float = 1.0,
    ) -> None:
        """Apply a fault to the next ``count`` requests whose route key matches ``route``.

        Args:
            kind: a :class:`FaultKind` or its value.
            count: how many requests it hits, at least 1.
            route: a regular expression searched in ``"METHOD /template"``; every
                route when None.
            retry_after: the ``Retry-After`` seconds of a 429, 413 or 503.

        Raises:
            TypeError: if an argument has the wrong type.
            ValueError: on an unknown kind, a count under 1, a negative
                ``retry_after`` or a ``route`` that does not compile.
        """
        require_instance("kind", kind, (FaultKind, str), what="a FaultKind or its value")
        kinds = {k.value for k in FaultKind}
        if kind not in kinds:
            raise ValueError(f"kind: need one of {', '.join(sorted(kinds))}, got {kind!r}")
        checks.AT_LEAST_ONE.check("count", count)
        checks.SECONDS.check("retry_after", retry_after)
        checks.regex("route", route)
        fault = Fault(FaultKind(kind), retry_after)
        with self._lock:
            self._pending.append(_Pending(fault, count, self._compile(route)))

    def expire_tokens(self) -> None:
        """Expire every issued token now: each client's next request gets a 401."""
        if self._expire_tokens is not None:
            self._expire_tokens()

    def clear(self) -> None:
        """Remove pending one-shot faults and zero every rate."""
        with self._lock:
            self._pending.clear()
            self._config = FaultConfig()
            self._route = None

    def decide(self, route_key: str) -> tuple[float, Fault | None]:
        """Return the latency and the fault (if any) for one request.

        One-shot faults come first, in the order injected; then the standing rates.
        """
        with self._lock:
            for pending in self._pending:
                if pending.route is None or pending.route.search(route_key):
                    pending.remaining -= 1
                    if pending.remaining <= 0:
                        self._pending.remove(pending)
                    return 0.0, pending.fault
            config = self._config
            if self._route is not None and not self._route.search(route_key):
                return 0.0, None
            latency = config.latency
            delay = self._rng.uniform(*latency) if isinstance(latency, tuple) else latency
            draw = self._rng.random()
            for kind, rate in (
                (FaultKind.ERROR, config.error_rate),
                (FaultKind.UNAVAILABLE, config.unavailable_rate),
                (FaultKind.DROP, config.drop_rate),
                (FaultKind.THROTTLE, config.throttle_rate),
            ):
                if draw < rate:
                    fault = Fault(kind, config.retry_after)
                    if kind is FaultKind.THROTTLE and config.throttle_burst > 1:
                        # The rest of the burst hits the next requests on these routes.
                        self._pending.append(
                            _Pending(fault, config.throttle_burst - 1, self._route)
                        )
                    return delay, fault
                draw -= rate
            return delay, None

    def snapshot(self) -> dict[str, Any]:
        """Return the settings and pending one-shot faults as plain dicts."""
        with self._lock:
            return {
                "config": asdict(self._config),
                "pending": [
                    {
                        "kind": p.fault.kind.value,
                        "remaining": p.remaining,
                        "route": p.route.pattern if p.route else None,
                    }
                    for p in self._pending
                ],
            }

    @staticmethod
    def _compile(route: str | None) -> re.Pattern[str] | None:
        return re.compile(route) if route else None
