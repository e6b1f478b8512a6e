"""Request counts and state-transition timestamps, readable as plain dicts.

The HTTP layer records every request under its route template (``GET
/compute/v2.1/servers/{server_id}``), so a test can assert how many requests a waiter
made. A handler that renders resource records (a show, a list page) notes how many with
:func:`count_records` while it builds the body, so that the cost of an answer is known
in records as well as in bytes, without parsing it again. Resource stores record the
moment each resource reached each state, in scenario time and wall time, so a benchmark
can measure how late a client noticed a change.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

from .clock import ScenarioClock

#: Where a handler leaves the number of resource records its answer carries: a key of
#: the request's WSGI environ, read by the HTTP layer when it counts the request.
RECORDS_KEY = "fakecloud.records"


def count_records(environ: dict[str, Any], records: int) -> None:
    """Note that the answer to this request carries ``records`` resource records.

    A show answers one record, a list page one per resource on it. Called by the
    handler while it renders the body (``count_records(call.request.environ, n)``);
    the HTTP layer adds the total to the route's count when the answer goes out.
    """
    environ[RECORDS_KEY] = environ.get(RECORDS_KEY, 0) + records


class Accounting:
    """Counters of one FakeCloud; every method is thread safe.

    Args:
        clock: converts transition times to wall time.
    """

    def __init__(self, clock: ScenarioClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: defaultdict[str, Counter[int]] = defaultdict(Counter)
        self._bytes: Counter[str] = Counter()
        self._records: Counter[str] = Counter()
        self._transitions: defaultdict[str, dict[str, list[tuple[str, float]]]] = defaultdict(dict)

    def record_request(self, route: str, status: int, nbytes: int, records: int = 0) -> None:
        """Count one answered request.

        Args:
            route: ``"METHOD template"``.
            status: the HTTP status code sent (0 for a dropped connection).
            nbytes: the response body size.
            records: the resource records in the body (see :func:`count_records`).
        """
        with self._lock:
            self._requests[route] += 1
            self._statuses[route][status] += 1
            self._bytes[route] += nbytes
            if records:
                self._records[route] += records

    def record_transition(self, kind: str, resource_id: str, state: str, at: float) -> None:
        """Note that a resource reached ``state`` at scenario time ``at``."""
        with self._lock:
            self._transitions[kind].setdefault(resource_id, []).append((state, at))

    def requests(self, route: str | None = None) -> int:
        """Return how many requests were answered, in all or on one route."""
        with self._lock:
            return self._requests[route] if route else sum(self._requests.values())

    def reset(self, transitions: bool = False) -> None:
        """Zero the request counters, and the transition history if asked."""
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._bytes.clear()
            self._records.clear()
            if transitions:
                self._transitions.clear()

    def snapshot(self) -> dict[str, Any]:
        """Return everything recorded as plain, JSON-ready dicts.

        Keys: ``requests`` (count by route), ``statuses`` (by route, then status code),
        ``bytes`` (by route), ``records`` (resource records answered, by route; routes
        that answered none are left out), ``by_method``, ``by_status``,
        ``total_requests``, ``total_bytes``, ``total_records`` and ``transitions``: by
        resource kind, then id, a list of ``{"state", "at", "wall"}`` in order.
        """
        with self._lock:
            by_method: Counter[str] = Counter()
            by_status: Counter[str] = Counter()
            for route, count in self._requests.items():
                by_method[route.split(" ", 1)[0]] += count
            for counts in self._statuses.values():
                for status, count in counts.items():
                    by_status[str(status)] += count
            return {
                "requests": dict(self._requests),
                "statuses": {
                    route: {str(code): n for code, n in counts.items()}
                    for route, counts in self._statuses.items()
                },
                "bytes": dict(self._bytes),
                "records": dict(self._records),
                "by_method": dict(by_method),
                "by_status": dict(by_status),
                "total_requests": sum(self._requests.values()),
                "total_bytes": sum(self._bytes.values()),
                "total_records": sum(self._records.values()),
                "transitions": {
                    kind: {
                        rid: [
                            {"state": s, "at": at, "wall": self._clock.wall(at).isoformat()}
                            for s, at in history
                        ]
                        for rid, history in resources.items()
                    }
                    for kind, resources in self._transitions.items()
                },
            }
