"""Cluster mode, measured: ``python -m benchmarks.cluster [--quick] [--out FILE.json]``.

Processes whose connections share one PostgreSQL journal share the polling: per
share (endpoint, project, kind) one of them lists the servers and writes what it saw
to the journal; the others answer their futures from those rows. Three runs, each on
a fresh FakeCloud (same seed, same build durations, 2-8 s as the fleet scenario) and
a fresh journal schema, every client a real process with its own connection:

* **reference**: one process creates all the servers (1,000) and waits until ACTIVE;
* **cluster**: 8 processes x 125 servers, started together, on one journal;
* **kill**: the cluster again; the process that leads the servers' listing is killed
  with SIGKILL while the servers build. The others must still resolve all theirs; a
  new process then runs :func:`osfutures.resume` to take the dead one's operations
  over. Measured: the time from the kill to the next listing (FakeCloud's side), lost
  and twice-resolved servers, and servers created twice.

Counts are FakeCloud's own: status requests are the GETs on ``servers/detail`` and
``servers/{id}`` (the creates, keystone and discovery are kept out). Each client also
counts its own listings and GETs (a response hook) so that the report can say which
process made them, and in which role. Latency is from FakeCloud's ACTIVE transition
to the done callback of the future, both read on CLOCK_MONOTONIC.

``--quick``: 100 servers, 4 processes x 25, everything ten times faster (builds and
the monitor's poll interval). The schemas are ``osfutures_bench_*`` in the database
``OSFUTURES_BENCH_POSTGRES`` names (default ``postgresql://127.0.0.1:5432/test``),
dropped at the end.

The clients are this module too: ``python -m benchmarks.cluster --child SPEC_JSON``
(the harness starts them).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from osfutures.testing import FakeCloud

from .analysis import route_class
from .spec import RunSpec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POSTGRES = os.environ.get("OSFUTURES_BENCH_POSTGRES", "postgresql://127.0.0.1:5432/test")
SCHEMA_PREFIX = "osfutures_bench_"
LISTING = "GET /compute/v2.1/servers/detail"
SINGLE_GET = "GET /compute/v2.1/servers/{server_id}"
CREATE = "POST /compute/v2.1/servers"
#: How often a client looks at its servers' listing role (and reports a change).
ROLE_EVERY = 0.02
#: A client's requests, as its response hook names them.
_SINGLE_PATH = re.compile(r"/servers/(?!detail$)[^/]+$")


@dataclass(frozen=True)
class Plan:
    """The sizes and speed of one mode."""

    reference: int
    processes: int
    per_process: int
    kill_processes: int
    kill_per_process: int
    #: Divides every build duration and the poll interval.
    speed: float
    #: Seconds a client waits for its futures before it counts the rest as hung.
    hang: float

    @property
    def interval(self) -> float:
        """The monitor's first poll interval (osfutures' default, 1 s, over speed)."""
        return 1.0 / self.speed


FULL = Plan(
    reference=1000,
    processes=8,
    per_process=125,
    kill_processes=8,
    kill_per_process=125,
    speed=1.0,
    hang=300.0,
)
QUICK = Plan(
    reference=100,
    processes=4,
    per_process=25,
    kill_processes=4,
    kill_per_process=25,
    speed=10.0,
    hang=60.0,
)


@dataclass(frozen=True)
class ChildSpec:
    """What one client process does (it travels as JSON on its command line)."""

    index: int
    count: int
    journal: str
    interval: float
    hang: float
    #: Resume the journal's unfinished operations instead of creating servers.
    resume: bool = False
    #: Seconds between two creates (0: as fast as the cloud answers).
    pace: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ChildSpec:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


# -- the client process --------------------------------------------------------------


class Emitter:
    """JSON lines on stdout, one writer at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields})
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


class Wire:
    """This process's listings and single GETs: when, and in which role it was."""

    def __init__(self, role: Callable[[], str]) -> None:
        self._role = role
        self._lock = threading.Lock()
        self.listings: list[tuple[float, str, str]] = []
        self.gets: list[tuple[float, str, str]] = []

    def install(self, conn: Any) -> None:
        conn.session.session.hooks["response"].append(self._hook)

    def _hook(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        request = response.request
        if request.method != "GET":
            return response
        now = time.monotonic()
        path, _, query = request.path_url.partition("?")
        if path.endswith("/servers/detail"):
            with self._lock:
                self.listings.append((now, self._role(), query))
        elif _SINGLE_PATH.search(path):
            with self._lock:
                self.gets.append((now, path.rsplit("/", 1)[1], self._role()))
        return response

    def result(self) -> dict[str, Any]:
        with self._lock:
            return {
                "listings": [
                    {"at": at, "role": role, "query": query} for at, role, query in self.listings
                ],
                "gets": [{"at": at, "id": rid, "role": role} for at, rid, role in self.gets],
            }


def _servers_role(plain: Any) -> str:
    """This process's part in its servers' listing ("" before the first poll)."""
    from osfutures.openstack.connection import _listings

    listing = _listings.get(plain, {}).get("server")
    shared = None if listing is None else listing.shared
    return "no cluster" if listing is not None and shared is None else getattr(shared, "role", "")


def child(spec: ChildSpec) -> int:
    """One client: create ``spec.count`` servers (or resume), report each outcome."""
    import openstack

    import osfutures
    from osfutures.journal import Journal
    from osfutures.policy import PollInterval

    emit = Emitter()
    auth = json.loads(sys.stdin.readline())
    options = auth.pop("options")
    plain = openstack.connect(**auth)
    plain.compute.get_endpoint()  # authenticated, the catalog read: the same for all
    wire = Wire(lambda: _servers_role(plain))
    wire.install(plain)
    monitor = osfutures.Monitor(default_interval=PollInterval(initial=spec.interval))
    journal = Journal.open(spec.journal)
    conn = osfutures.wrap(plain, monitor=monitor, journal=journal)
    stop = threading.Event()

    def watch_role() -> None:
        last = None
        while not stop.wait(ROLE_EVERY):
            role = _servers_role(plain)
            if role != last:
                last = role
                emit("role", role=role, at=time.monotonic())

    emit("ready", pid=os.getpid())
    if sys.stdin.readline().strip() != "go":
        return 2
    threading.Thread(target=watch_role, name="bench-role", daemon=True).start()
    started = time.monotonic()

    def report(future: Future[Any]) -> None:
        at = time.monotonic()
        rid = getattr(future, "resource_id", None)
        if future.cancelled():
            emit("resolved", id=rid, ok=False, status=None, error="cancelled", at=at)
            return
        error = future.exception()
        status = None if error is not None else getattr(future.result(), "status", None)
        text = None if error is None else f"{type(error).__name__}: {error}"[:300]
        emit("resolved", id=rid, ok=error is None, status=status, error=text, at=at)

    futures: list[Future[Any]] = []
    if spec.resume:
        resumed = osfutures.resume(conn)
        skipped = Counter(_reason(why) for why in resumed.skipped.values())
        emit("resumed", futures=len(resumed.futures), skipped=dict(skipped), at=time.monotonic())
        for taken in resumed.futures.values():
            futures.append(taken)
            taken.add_done_callback(report)
    else:
        for i in range(spec.count):
            if spec.pace:
                time.sleep(max(0.0, started + i * spec.pace - time.monotonic()))
            future = conn.compute.create_server_async(
                name=f"bench-p{spec.index}-{i}",
                image_id=options["image_id"],
                flavor_id="1",
                networks="none",
            )
            futures.append(future)
            emit("created", id=future.resource_id, at=time.monotonic())
            future.add_done_callback(report)
        emit("created_all", at=time.monotonic())
    _, pending = wait(futures, timeout=spec.hang)
    for unresolved in pending:
        emit("hung", id=getattr(unresolved, "resource_id", None))
    stop.set()
    result = {
        "pid": os.getpid(),
        "started": started,
        "finished": time.monotonic(),
        **wire.result(),
    }
    monitor.shutdown(cancel_futures=True)
    journal.close()
    emit("result", **result)
    return 0


def _reason(why: str) -> str:
    """A skipped row's reason without its ids (to count them)."""
    if "is alive" in why:
        return "owner alive"
    return why.split(":", 1)[0][:80]


# -- the harness side ----------------------------------------------------------------


@dataclass
class Member:
    """One client process and what it told."""

    index: int
    proc: subprocess.Popen[str]
    errors: IO[str]
    created: list[str] = field(default_factory=list)
    created_all: float | None = None
    resolved: list[dict[str, Any]] = field(default_factory=list)
    hung: list[str | None] = field(default_factory=list)
    role: str = ""
    role_at: float = 0.0
    roles: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    resumed: dict[str, Any] | None = None
    killed_at: float | None = None
    exit_code: int | None = None

    def unresolved(self) -> int:
        return len(self.created) - len(self.resolved)

    def log(self, most: int = 20) -> list[str]:
        """What osfutures logged (its warnings reach stderr), first ``most`` lines."""
        if self.errors.closed:
            return []
        self.errors.seek(0)
        lines = [line.rstrip() for line in self.errors if "osfutures" in line]
        self.errors.seek(0, os.SEEK_END)
        return lines[:most]


class Members:
    """Client processes, their events on one queue (a reader thread each)."""

    def __init__(self) -> None:
        self.members: list[Member] = []
        self._events: queue.Queue[tuple[Member, dict[str, Any] | None]] = queue.Queue()
        self._open = 0

    def start(self, spec: ChildSpec, auth: dict[str, Any]) -> Member:
        # Kept open as long as the process is known: closed by stop().
        errors = tempfile.TemporaryFile("w+")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.cluster", "--child", spec.to_json()],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        member = Member(spec.index, proc, errors)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(auth) + "\n")
        proc.stdin.flush()
        self.members.append(member)
        self._open += 1
        threading.Thread(
            target=self._read, args=(member,), name=f"bench-read-{spec.index}", daemon=True
        ).start()
        return member

    def _read(self, member: Member) -> None:
        assert member.proc.stdout is not None
        for line in member.proc.stdout:
            self._events.put((member, json.loads(line)))
        self._events.put((member, None))

    def go(self, members: Iterable[Member]) -> float:
        """Tell ``members`` to start, all at (nearly) one moment; return that moment."""
        at = time.monotonic()
        for member in members:
            assert member.proc.stdin is not None
            member.proc.stdin.write("go\n")
            member.proc.stdin.close()
        return at

    def events(self, until: Callable[[], bool] = lambda: False) -> Iterable[tuple[Member, str]]:
        """Take events until every process's output ended (or ``until()`` holds);
        yield each after it is noted on its member."""
        while self._open and not until():
            try:
                member, event = self._events.get(timeout=0.5)
            except queue.Empty:
                continue
            if event is None:
                self._open -= 1
                member.exit_code = member.proc.wait()
                yield member, "exit"
                continue
            kind = event.pop("event")
            _note(member, kind, event)
            yield member, kind

    def stop(self) -> None:
        """Kill what still runs (only these processes, by their own ids)."""
        for member in self.members:
            if member.proc.poll() is None:
                member.proc.kill()
                member.proc.wait()
            member.errors.close()

    def failures(self) -> list[str]:
        """The clients that failed (not the one killed on purpose), with their stderr."""
        failed = []
        for member in self.members:
            if member.killed_at is None and (member.exit_code != 0 or member.result is None):
                member.errors.seek(0)
                tail = member.errors.read()[-2000:]
                failed.append(f"client {member.index} exited with {member.exit_code}:\n{tail}")
        return failed


def _note(member: Member, kind: str, event: dict[str, Any]) -> None:
    if kind == "created":
        member.created.append(event["id"])
    elif kind == "created_all":
        member.created_all = event["at"]
    elif kind == "resolved":
        member.resolved.append(event)
    elif kind == "hung":
        member.hung.append(event["id"])
    elif kind == "role":
        member.role, member.role_at = event["role"], event["at"]
        member.roles.append(event)
    elif kind == "resumed":
        member.resumed = event
    elif kind == "result":
        member.result = event


class ListingLog:
    """When FakeCloud answered each servers listing: ``Accounting.record_request`` of
    this cloud, wrapped (what it counts is unchanged)."""

    def __init__(self, cloud: FakeCloud) -> None:
        self.times: list[float] = []
        accounting = cloud.context.accounting
        inner = accounting.record_request

        def record(route: str, status: int, nbytes: int, records: int = 0) -> None:
            if route == LISTING:
                self.times.append(time.monotonic())
            inner(route, status, nbytes, records)

        setattr(accounting, "record_request", record)  # noqa: B010 (an instance's method)


@dataclass
class Run:
    """One run's cloud, journal schema and clients."""

    label: str
    plan: Plan
    processes: int
    per_process: int
    pace: float = 0.0
    schema: str = ""
    cloud: FakeCloud | None = None
    origin: float = 0.0
    auth: dict[str, Any] = field(default_factory=dict)
    members: Members = field(default_factory=Members)
    listings: ListingLog | None = None

    @property
    def url(self) -> str:
        return f"{POSTGRES}?schema={self.schema}"

    def __enter__(self) -> Run:
        from osfutures.journal import Journal

        self.schema = f"{SCHEMA_PREFIX}{uuid.uuid4().hex[:8]}_{self.label}"
        Journal.open(self.url).close()  # the schema and its tables, made once, here
        total = self.processes * self.per_process
        spec = RunSpec("fleet", "osfutures", {"server": total}, speed=self.plan.speed)
        self.cloud = FakeCloud(spec.seed, scenario=spec.scenario_model()).start()
        self.listings = ListingLog(self.cloud)
        self.origin = time.monotonic() - self.cloud.clock.now()
        options = {"image_id": self.cloud.backend("image").default_image_id}
        self.auth = {**self.cloud.auth_args(), "options": options}
        return self

    def __exit__(self, *exc: object) -> None:
        self.members.stop()
        if self.cloud is not None:
            self.cloud.stop()
        drop_schema(self.schema)

    def child(self, index: int, count: int, *, resume: bool = False) -> ChildSpec:
        return ChildSpec(
            index, count, self.url, self.plan.interval, self.plan.hang, resume, self.pace
        )

    def start_all(self) -> tuple[list[Member], float]:
        """Start the clients, wait until each is connected, then let them go at once."""
        started = [
            self.members.start(self.child(i, self.per_process), self.auth)
            for i in range(self.processes)
        ]
        ready: set[int] = set()
        for member, kind in self.members.events(lambda: len(ready) == len(started)):
            if kind == "ready":
                ready.add(member.index)
            elif kind == "exit":
                raise RuntimeError("\n".join(self.members.failures()))
        return started, self.members.go(started)

    def shares(self) -> list[dict[str, Any]]:
        """The journal's count of each share's listings, and its last lister."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(POSTGRES, connect_timeout=5) as conn:
            rows = conn.execute(
                sql.SQL("SELECT share, listings, lister FROM {}.shares").format(
                    sql.Identifier(self.schema)
                )
            ).fetchall()
        return [{"share": s, "listings": n, "last_lister": who} for s, n, who in rows]


def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    if not schema.startswith(SCHEMA_PREFIX):
        raise ValueError(f"not a benchmark schema: {schema!r}")
    with psycopg.connect(POSTGRES, connect_timeout=5, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# -- figures -------------------------------------------------------------------------


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and max (nearest rank); ``None`` when there are none."""
    if not values:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return {"p50": rank(0.50), "p95": rank(0.95), "max": ordered[-1]}


def request_figures(stats: dict[str, Any], listings: Sequence[float]) -> dict[str, Any]:
    """Status GETs (servers/detail and servers/{id}) and the rest, from FakeCloud;
    the time between two listing requests (a listing of two pages counts twice)."""
    requests: dict[str, int] = stats["requests"]
    status = {r: n for r, n in requests.items() if route_class(r) == "status"}
    return {
        "status": sum(status.values()),
        "listings": requests.get(LISTING, 0),
        "listing_records": stats["records"].get(LISTING, 0),
        "listing_gaps_s": percentiles([b - a for a, b in itertools.pairwise(listings)]),
        "single_gets": requests.get(SINGLE_GET, 0),
        "creates": requests.get(CREATE, 0),
        "status_routes": status,
    }


def _active_at(stats: dict[str, Any], server_id: str) -> float | None:
    history = stats["transitions"].get("server", {}).get(server_id, [])
    return next((step["at"] for step in history if step["state"] == "ACTIVE"), None)


def resolutions(
    run: Run, stats: dict[str, Any], members: Sequence[Member], go: float
) -> dict[str, Any]:
    """Latency, wall time and outcomes of ``members``' servers."""
    latencies: list[float] = []
    tally = Counter[str]()
    last = go
    for member in members:
        for event in member.resolved:
            reached = _active_at(stats, event["id"])
            if event["ok"] and event["status"] == "ACTIVE" and reached is not None:
                tally["active"] += 1
                latencies.append(event["at"] - run.origin - reached)
            else:
                tally["not_active"] += 1
            last = max(last, event["at"])
        tally["hung"] += len(member.hung)
    created = sum(len(m.created) for m in members)
    resolved_ids = {e["id"] for m in members for e in m.resolved}
    return {
        "servers": created,
        "active": tally["active"],
        "not_active": tally["not_active"],
        "hung": tally["hung"],
        "lost": sum(1 for m in members for i in m.created if i not in resolved_ids),
        "wall_s": last - go,
        "latency_s": percentiles(latencies),
    }


def client_rows(
    run: Run, stats: dict[str, Any], members: Sequence[Member], since: float
) -> list[dict[str, Any]]:
    """Each client's latency, its own listings and GETs (by its role at the time),
    and its roles."""
    rows = []
    for member in members:
        result = member.result or {}
        listings = Counter(x["role"] for x in result.get("listings", []))
        gets = Counter(x["role"] for x in result.get("gets", []))
        rows.append(
            {
                "index": member.index,
                "servers": len(member.created),
                "resolved": len(member.resolved),
                "created_all_s": None
                if member.created_all is None
                else round(member.created_all - since, 3),
                "latency_s": resolutions(run, stats, [member], since)["latency_s"],
                "listings_by_role": dict(listings),
                "single_gets_by_role": dict(gets),
                "single_gets_after_s": [round(x["at"] - since, 2) for x in result.get("gets", [])],
                "roles": [
                    {"at_s": round(x["at"] - since, 3), "role": x["role"]} for x in member.roles
                ],
                "listings_after_s": [
                    {"at_s": round(x["at"] - since, 3), "role": x["role"], "query": x["query"]}
                    for x in result.get("listings", [])
                ],
                "killed": member.killed_at is not None,
                "exit_code": member.exit_code,
                "log": member.log(),
            }
        )
    return rows


# -- the runs ------------------------------------------------------------------------


def run_fleet(
    label: str, plan: Plan, processes: int, per: int, pace: float = 0.0
) -> dict[str, Any]:
    """``processes`` clients of ``per`` servers each on one journal, to the end; each
    creates one every ``pace`` seconds (0: as fast as the cloud answers)."""
    with Run(label, plan, processes, per, pace) as run:
        started, go = run.start_all()
        for _ in run.members.events():
            pass
        failed = run.members.failures()
        if failed:
            raise RuntimeError("\n".join(failed))
        assert run.cloud is not None and run.listings is not None
        stats = run.cloud.stats()
        return {
            "label": label,
            "processes": processes,
            "per_process": per,
            "pace_s": pace,
            "requests": request_figures(stats, run.listings.times),
            **resolutions(run, stats, started, go),
            "servers_in_cloud": len(stats["transitions"].get("server", {})),
            "shares": run.shares(),
            "clients": client_rows(run, stats, started, go),
        }


def run_kill(plan: Plan) -> dict[str, Any]:
    """The cluster with its leader killed mid-run, then a resume of its operations."""
    processes, per = plan.kill_processes, plan.kill_per_process
    with Run("kill", plan, processes, per) as run:
        started, go = run.start_all()
        victim: Member | None = None
        resumer: Member | None = None
        kill_at = 0.0
        unresolved_at_kill = 0
        for _member, _kind in run.members.events():
            if victim is None and all(m.created_all is not None for m in started):
                leaders = [m for m in started if m.role == "leader" and m.exit_code is None]
                if leaders and leaders[0].proc.poll() is None:
                    victim = leaders[0]
                    unresolved_at_kill = victim.unresolved()
                    kill_at = time.monotonic()
                    os.kill(victim.proc.pid, signal.SIGKILL)
                    victim.killed_at = kill_at
                    resumer = run.members.start(run.child(processes, 0, resume=True), run.auth)
            if resumer is not None and _kind == "ready" and _member is resumer:
                run.members.go([resumer])
        failed = run.members.failures()
        if failed:
            raise RuntimeError("\n".join(failed))
        if victim is None or resumer is None:
            raise RuntimeError("no leader was seen before every server was created")
        assert run.cloud is not None and run.listings is not None
        stats = run.cloud.stats()
        survivors = [m for m in started if m is not victim]
        return {
            "label": "kill",
            "processes": processes,
            "per_process": per,
            "requests": request_figures(stats, run.listings.times),
            "killed": victim.index,
            "killed_after_s": kill_at - go,
            "victim_unresolved_at_kill": unresolved_at_kill,
            "victim_resolved_before_kill": len(victim.resolved),
            "takeover": takeover(run.listings.times, survivors, resumer, victim, kill_at),
            "survivors": resolutions(run, stats, survivors, go),
            "resume": resume_figures(run, stats, victim, resumer, kill_at),
            "left_behind": left_behind(run, victim, started, resumer),
            "duplicates": duplicates([*started, resumer]),
            "servers_created": sum(len(m.created) for m in started),
            "servers_in_cloud": len(stats["transitions"].get("server", {})),
            "shares": run.shares(),
            "clients": client_rows(run, stats, [*started, resumer], go),
        }


def takeover(
    times: Sequence[float],
    survivors: Sequence[Member],
    resumer: Member,
    victim: Member,
    kill_at: float,
) -> dict[str, Any]:
    """How long after the kill the servers were listed again, and by whom."""
    after = [t for t in times if t > kill_at]
    leaders = []
    for member in [*survivors, resumer]:
        for row in member.roles:
            if row["role"] == "leader" and row["at"] > kill_at:
                leaders.append((row["at"], member.index))
                break
    listed = []
    for member in [*survivors, resumer]:
        mine = [x["at"] for x in (member.result or {}).get("listings", []) if x["at"] > kill_at]
        if mine:
            listed.append((min(mine), member.index))
    return {
        "next_listing_s": (after[0] - kill_at) if after else None,
        "next_listing_by": min(listed)[1] if listed else None,
        "next_listing_client_side_s": (min(listed)[0] - kill_at) if listed else None,
        "new_leader": min(leaders)[1] if leaders else None,
        "new_leader_after_s": (min(leaders)[0] - kill_at) if leaders else None,
        "victim_role_reported": victim.role,
        "victim_role_age_s": kill_at - victim.role_at,
        "victim_roles": [
            {"at_s": round(r["at"] - kill_at, 3), "role": r["role"]} for r in victim.roles
        ],
    }


def resume_figures(
    run: Run, stats: dict[str, Any], victim: Member, resumer: Member, kill_at: float
) -> dict[str, Any]:
    """What the new process took over, against what the killed one left unresolved."""
    before = {e["id"] for e in victim.resolved}
    left = [i for i in victim.created if i not in before]
    taken = {e["id"]: e for e in resumer.resolved}
    latencies = []
    for event in resumer.resolved:
        reached = _active_at(stats, event["id"])
        if reached is not None:
            latencies.append(event["at"] - run.origin - reached)
    resumed = resumer.resumed or {}
    return {
        "left_unresolved": len(left),
        "resumed": resumed.get("futures"),
        "skipped": resumed.get("skipped"),
        "resumed_after_kill_s": (resumed["at"] - kill_at) if resumed else None,
        "resolved": len(resumer.resolved),
        "active": sum(1 for e in resumer.resolved if e["ok"] and e["status"] == "ACTIVE"),
        # Taken over by a running member's adopter instead: left_behind says.
        "not_taken_here": sum(1 for i in left if i not in taken),
        "not_left": sorted(i for i in taken if i not in left),
        "hung": len(resumer.hung),
        "latency_s": percentiles(latencies),
        "finished_after_kill_s": max((e["at"] for e in resumer.resolved), default=kill_at)
        - kill_at,
    }


def left_behind(
    run: Run, victim: Member, members: Sequence[Member], resumer: Member
) -> dict[str, Any]:
    """How the operations the killed process left unresolved ended, from the journal:
    who took each over (a running member's adopter or the resuming process), and
    what ended them. Any still unfinished once every client has exited (a member
    that adopted them exited first) is resumed here, as a process started later
    would, and waited for: lost is what none of them ended as ACTIVE."""
    import osfutures
    from osfutures.journal import Journal
    from osfutures.policy import PollInterval

    before = {e["id"] for e in victim.resolved}
    left = {i for i in victim.created if i not in before}
    names = {m.proc.pid: f"member {m.index}" for m in members}
    names[resumer.proc.pid] = "resuming process"
    assert run.cloud is not None
    with Journal.open(run.url) as journal:

        def rows_left() -> dict[str, dict[str, Any]]:
            every = journal.list(limit=None)
            return {r["resource_id"]: r for r in every if r["resource_id"] in left}

        rows = rows_left()
        unfinished = [i for i in left if rows[i]["outcome"] in ("pending", "running")]
        harness: dict[str, str] = {}
        if unfinished:
            monitor = osfutures.Monitor(default_interval=PollInterval(initial=run.plan.interval))
            conn = osfutures.wrap(run.cloud.connect(), monitor=monitor, journal=False)
            resumed = osfutures.resume(conn, journal)
            for future in resumed.futures.values():
                try:
                    harness[str(future.resource_id)] = future.result(timeout=run.plan.hang).status
                except Exception as error:
                    harness[str(future.resource_id)] = type(error).__name__
            monitor.shutdown(cancel_futures=True)
            journal.flush()
            rows = rows_left()
    takers: Counter[str] = Counter(
        names.get(entry.get("pid"), "this harness")
        for row in rows.values()
        for entry in row.get("resumed") or []
    )
    succeeded = sum(1 for i in left if rows[i]["outcome"] == "succeeded")
    return {
        "left_unresolved": len(left),
        "taken_over_by": dict(takers),
        "unfinished_after_all_exited": len(unfinished),
        "resumed_by_harness": harness,
        "succeeded": succeeded,
        "lost": len(left) - succeeded,
    }


def duplicates(members: Sequence[Member]) -> dict[str, Any]:
    """Server ids resolved by more than one process (or twice in one)."""
    by_id: dict[str, list[int]] = {}
    for member in members:
        for event in member.resolved:
            by_id.setdefault(event["id"], []).append(member.index)
    twice = {rid: who for rid, who in by_id.items() if len(who) > 1}
    return {"count": len(twice), "ids": dict(list(twice.items())[:20])}


# -- the report ----------------------------------------------------------------------


def compare(reference: dict[str, Any], cluster: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """Ratios of the cluster to the reference, and the targets met."""
    ref_requests = reference["requests"]["status"]
    ratio = cluster["requests"]["status"] / ref_requests if ref_requests else None
    deltas = {}
    for key in ("p50", "p95"):
        ref, got = reference["latency_s"][key], cluster["latency_s"][key]
        deltas[key] = None if ref is None or got is None else got - ref
    return {
        "status_requests_ratio": ratio,
        "status_requests_target": 1.5,
        "status_requests_met": ratio is not None and ratio <= 1.5,
        "latency_delta_s": deltas,
        "poll_interval_s": plan.interval,
        "latency_met": all(d is not None and d <= plan.interval for d in deltas.values()),
    }


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(results: dict[str, Any]) -> str:
    ref, clu, kill = results["reference"], results["cluster"], results["kill"]
    lines = [
        f"{'run':<12}{'status GETs':>12}{'listings':>10}{'GET {id}':>10}"
        f"{'gap p50':>9}{'wall s':>9}{'p50 s':>8}{'p95 s':>8}{'ACTIVE':>8}{'lost':>6}",
    ]
    paced = results["paced"]
    runs = (("1 x " + str(ref["servers"]), ref), (cluster_name(clu), clu), ("paced", paced))
    for name, run in runs:
        req = run["requests"]
        lat = run["latency_s"]
        lines.append(
            f"{name:<12}{req['status']:>12}{req['listings']:>10}{req['single_gets']:>10}"
            f"{_s(req['listing_gaps_s']['p50']):>9}{run['wall_s']:>9.1f}{_s(lat['p50']):>8}{_s(lat['p95']):>8}"
            f"{run['active']:>8}{run['lost'] + run['hung']:>6}"
        )
    for name, cmp in (
        (cluster_name(clu), results["comparison"]),
        (f"paced (one create per {paced['pace_s']:.3f} s each)", results["comparison_paced"]),
    ):
        ratio = cmp["status_requests_ratio"]
        lines.append(
            f"{name} / reference: status requests"
            f" {'-' if ratio is None else f'{ratio:.2f}x'} (target <= 1.5x:"
            f" {'met' if cmp['status_requests_met'] else 'MISSED'}); latency delta p50"
            f" {_s(cmp['latency_delta_s']['p50'])} s, p95 {_s(cmp['latency_delta_s']['p95'])}"
            f" s (target <= one poll interval, {cmp['poll_interval_s']:.2f} s:"
            f" {'met' if cmp['latency_met'] else 'MISSED'})"
        )
    take, surv, res = kill["takeover"], kill["survivors"], kill["resume"]
    behind = kill["left_behind"]
    lines += [
        f"kill: {kill['processes']} x {kill['per_process']}, client {kill['killed']} (leader)"
        f" killed {kill['killed_after_s']:.1f} s in, {kill['victim_unresolved_at_kill']}"
        " of its servers unresolved",
        f"  next listing {_s(take['next_listing_s'])} s after the kill (FakeCloud),"
        f" by client {take['next_listing_by']}; new leader {take['new_leader']}"
        f" {_s(take['new_leader_after_s'])} s after",
        f"  survivors: {surv['active']}/{surv['servers']} ACTIVE, lost {surv['lost']},"
        f" hung {surv['hung']}, p50 {_s(surv['latency_s']['p50'])} s,"
        f" p95 {_s(surv['latency_s']['p95'])} s",
        f"  left by the killed one: {behind['left_unresolved']}, taken over by"
        f" {behind['taken_over_by']}, {behind['succeeded']} succeeded, lost {behind['lost']}"
        f" ({behind['unfinished_after_all_exited']} still unfinished when all had exited)",
        f"  resuming process: {res['resumed']} resumed, {res['active']} ACTIVE, skipped"
        f" {res['skipped']}, done {_s(res['finished_after_kill_s'])} s after the kill",
        f"  resolved twice: {kill['duplicates']['count']}; servers in the cloud"
        f" {kill['servers_in_cloud']} for {kill['servers_created']} created;"
        f" status GETs {kill['requests']['status']}",
    ]
    return "\n".join(lines)


def cluster_name(run: dict[str, Any]) -> str:
    return f"{run['processes']} x {run['per_process']}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 servers, ten times faster")
    parser.add_argument("--out", type=Path, default=HERE / "cluster.json", help="the JSON report")
    parser.add_argument("--child", metavar="SPEC_JSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(ChildSpec.from_json(args.child))
    plan = QUICK if args.quick else FULL
    started = time.monotonic()
    print(f"reference: 1 x {plan.reference}", file=sys.stderr)
    reference = run_fleet("reference", plan, 1, plan.reference)
    print(f"cluster: {plan.processes} x {plan.per_process}", file=sys.stderr)
    cluster = run_fleet("cluster", plan, plan.processes, plan.per_process)
    # The same creates per second as the reference: eight processes creating at
    # once load the cloud (and the machine) eight times as much meanwhile.
    creating = reference["clients"][0]["created_all_s"] or 0.0
    pace = creating / plan.per_process
    print(f"paced: {plan.processes} x {plan.per_process}, one per {pace:.3f} s", file=sys.stderr)
    paced = run_fleet("paced", plan, plan.processes, plan.per_process, pace)
    print(f"kill: {plan.kill_processes} x {plan.kill_per_process}", file=sys.stderr)
    kill = run_kill(plan)
    results = {
        "quick": args.quick,
        "plan": asdict(plan),
        "duration_s": time.monotonic() - started,
        "reference": reference,
        "cluster": cluster,
        "comparison": compare(reference, cluster, plan),
        "paced": paced,
        "comparison_paced": compare(reference, paced, plan),
        "kill": kill,
    }
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
