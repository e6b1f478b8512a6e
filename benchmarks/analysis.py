"""Turning FakeCloud's accounting and the client's records into the reported figures."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .workload import KINDS

#: A GET that names a resource collection learns state; other GETs are discovery.
_STATUS_GET = re.compile(r"^GET .*/(servers|volumes|images)(/|$)")


def route_class(route: str) -> str:
    """``status`` (GETs that learn state), ``auth`` (keystone), ``write`` (POST, PUT,
    DELETE) or ``discovery`` (version documents)."""
    method, path = route.split(" ", 1)
    if path.startswith("/identity"):
        return "auth"
    if method != "GET":
        return "write"
    return "status" if _STATUS_GET.match(route) else "discovery"


def request_counts(stats: dict[str, Any]) -> dict[str, Any]:
    """Requests and response bytes by class, the resource records of the status
    answers (None if ``stats`` has no ``records``), and the status routes one by one."""
    counts = dict.fromkeys(("status", "write", "auth", "discovery"), 0)
    nbytes = dict.fromkeys(counts, 0)
    for route, n in stats["requests"].items():
        cls = route_class(route)
        counts[cls] += n
        nbytes[cls] += stats["bytes"].get(route, 0)
    status_routes = {
        route: n for route, n in stats["requests"].items() if route_class(route) == "status"
    }
    records = route_records = None
    if "records" in stats:
        route_records = {route: stats["records"].get(route, 0) for route in status_routes}
        records = sum(route_records.values())
    return {
        "requests": counts,
        "bytes": nbytes,
        "records": records,
        "total_bytes": stats["total_bytes"],
        "status_routes": dict(sorted(status_routes.items(), key=lambda kv: -kv[1])),
        "status_route_records": route_records,
    }


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p99 and max (nearest rank), ``None`` when there are no values."""
    if not values:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return {"p50": rank(0.50), "p99": rank(0.99), "max": ordered[-1]}


def _reached(history: Iterable[dict[str, Any]], states: frozenset[str]) -> float | None:
    return next((step["at"] for step in history if step["state"] in states), None)


def outcomes(
    records: Sequence[dict[str, Any]],
    transitions: dict[str, Any],
    origin: float,
    operations: int,
    time_key: str = "at",
) -> dict[str, Any]:
    """Classify every operation against what FakeCloud says happened.

    ``origin`` is the client's monotonic time of scenario time 0 (one clock for both
    processes: CLOCK_MONOTONIC is system wide); ``operations`` how many resources the
    run made, each with a ``ready`` and a ``gone`` outcome due. ``time_key`` is the
    record's time to compare with the transitions': ``at`` (monotonic, FakeCloud) or
    ``wall`` (a real cloud's timestamps, with origin 0).

    * succeeded: the client reported success and the cloud reached that state;
    * lost: the client reported success the cloud never reached, or no outcome at all;
    * hung: still pending when the harness stopped waiting;
    * failed spuriously: the client reported failure though the cloud reached the state;
    * failed: the client reported failure and the cloud failed too.
    """
    tally = dict.fromkeys(("succeeded", "lost", "hung", "failed_spuriously", "failed"), 0)
    latencies: list[float] = []
    by_stage: dict[str, list[float]] = {"ready": [], "gone": []}
    errors: dict[str, int] = {}
    seen: set[tuple[str | None, str]] = set()
    for record in records:
        seen.add((record["id"], record["stage"]))
        kind = KINDS[record["kind"]]
        history = transitions.get(kind.name, {}).get(record["id"], [])
        states = kind.ready if record["stage"] == "ready" else frozenset({kind.gone})
        reached = _reached(history, states)
        if record.get("hung"):
            tally["hung"] += 1
        elif record["ok"] and reached is None:
            tally["lost"] += 1
        elif record["ok"]:
            tally["succeeded"] += 1
            latencies.append(record[time_key] - origin - reached)
            by_stage[record["stage"]].append(latencies[-1])
        else:
            tally["failed_spuriously" if reached is not None else "failed"] += 1
            name = record["error"].split(":", 1)[0]
            errors[name] = errors.get(name, 0) + 1
    for stage in ("ready", "gone"):
        tally["lost"] += max(0, operations - sum(1 for _, s in seen if s == stage))
    return {
        "operations": tally,
        "latency_s": percentiles(latencies),
        "latency_by_stage_s": {stage: percentiles(values) for stage, values in by_stage.items()},
        "errors": errors,
    }
