"""``osfutures.resume``: a process killed with SIGKILL mid-way, its operations taken
over by another, each under its own journal row; against FakeCloud over real HTTP,
with a SQLite and a PostgreSQL journal."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import osfutures
from osfutures.journal import Context, Journal
from osfutures.journal.postgres import PostgresStore
from osfutures.testing import FakeCloud
from osfutures.testing.fakecloud.scenario import DEFAULT_RULES, NameRule, Outcome, Scenario, Timing

REPO = Path(__file__).resolve().parents[2]
FLEET = 20
#: Long enough that every build is still going on when the child is killed.
BUILD = 1.2
#: The retrying create: its first attempt fails (the scenario it starts under says so).
DOOMED = NameRule("db-", Outcome.ERROR, operations=frozenset({"build"}))

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import openstack.connection
    import osfutures
    from osfutures.journal import Context, Journal

    given = json.loads(sys.stdin.readline())
    monitor = osfutures.Monitor(default_interval=0.1)
    conn = osfutures.wrap(
        openstack.connection.Connection(**given["auth"]), monitor=monitor,
        journal=given["journal"],
    )
    fleet = [
        conn.compute.create_server_async(name=f"web-{i}", timeout=120, **given["boot"])
        for i in range(given["fleet"])
    ]
    retried = conn.compute.create_server_async_r(
        name="db-1", try_count=3, tout=60, timeout=300, **given["boot"]
    )
    op_id = conn.journal.op_id(retried)
    if given["until"] == "cleaning":  # until the failed attempt's cleanup is under way
        with Journal.open(given["journal"]) as journal:
            while conn.journal.flush() and (journal.get(op_id)["cleanup"] or {}).get(
                "outcome"
            ) != "running":
                time.sleep(0.05)
    assert conn.journal.flush(timeout=30)
    print(json.dumps([conn.journal.op_id(f) for f in [*fleet, retried]]), flush=True)
    time.sleep(600)  # killed before this ends
    """
)


@pytest.fixture
def slow_cloud() -> Iterator[FakeCloud]:
    scenario = Scenario.fast(seed=5, duration=BUILD, rules=(DOOMED, *DEFAULT_RULES))
    with FakeCloud(seed=5, scenario=scenario) as cloud:
        yield cloud


def boot_of(cloud: FakeCloud) -> dict[str, Any]:
    plain = cloud.connect()
    try:
        return {
            "image_id": next(iter(plain.image.images())).id,
            "flavor_id": "1",
            "networks": "none",
        }
    finally:
        plain.close()


def child_of(code: str, cloud: FakeCloud, target: str, **more: Any) -> subprocess.Popen[str]:
    """A child process running ``code``, given (a JSON line on stdin) the cloud's
    auth, the journal ``target``, the boot arguments and ``more``."""
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert child.stdin is not None
    given = {"auth": cloud.auth_args(), "journal": target, "boot": boot_of(cloud)}
    child.stdin.write(json.dumps({**given, **more}) + "\n")
    child.stdin.close()
    return child


@contextlib.contextmanager
def watching(
    code: str, cloud: FakeCloud, target: str, **more: Any
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A child running ``code`` (see :func:`child_of`) that prints an op id and lives
    on, and that id; killed and reaped when the block ends, whatever happened."""
    child = child_of(code, cloud, target, **more)
    try:
        assert child.stdout is not None
        op_id = child.stdout.readline().strip()
        assert op_id, child.stderr.read() if child.stderr else ""
        yield child, op_id
    finally:
        child.kill()
        child.wait(timeout=30)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def killed_midway(cloud: FakeCloud, target: str, until: str = "started") -> list[str]:
    """Run the child until its operations are started (and written), then SIGKILL it;
    the op ids of its fleet, then of its retrying create."""
    child = child_of(CHILD, cloud, target, fleet=FLEET, until=until)
    assert child.stdout is not None
    line = child.stdout.readline()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)  # reaped: its pid is no longer alive
    assert child.stderr is not None
    errors = child.stderr.read()
    child.stdout.close()
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL, errors
    assert line, errors
    op_ids: list[str] = json.loads(line)
    return op_ids


def servers_by_name(cloud: FakeCloud) -> Counter[str]:
    plain = cloud.connect()
    try:
        return Counter(s.name for s in plain.compute.servers())
    finally:
        plain.close()


def test_a_killed_process_fleet_and_retrying_create_are_resumed_under_their_rows(
    slow_cloud: FakeCloud, target: str, monitor: osfutures.Monitor
) -> None:
    op_ids = killed_midway(slow_cloud, target)
    with Journal.open(target, batch_delay=0) as journal:
        before = {row["op_id"]: row for row in journal.unfinished()}
        assert set(before) == set(op_ids), "every operation was left unfinished"
        # The retrying create's next attempt is made under a scenario that lets it build.
        slow_cloud.scenario = replace(slow_cloud.scenario, rules=DEFAULT_RULES)
        conn = osfutures.wrap(slow_cloud.connect(), monitor=monitor, journal=False)
        resumed = osfutures.resume(conn, journal)
        assert resumed.skipped == {}
        assert list(resumed.futures) == op_ids, "by op id, oldest first"
        for future in resumed.futures.values():
            assert future.result(timeout=60).status == "ACTIVE"
        assert journal.flush()
        retried = resumed.futures[op_ids[-1]]
        assert [a.outcome for a in retried.attempts] == ["failed", "succeeded"]
        assert retried.attempts[0].cleanup_error is None
        # Nothing created twice, nothing left behind: the failed attempt's server is gone.
        assert servers_by_name(slow_cloud) == Counter([f"web-{i}" for i in range(FLEET)] + ["db-1"])
        rows = journal.list(limit=None)
        assert sorted(r["op_id"] for r in rows) == sorted(op_ids), "no row of its own"
        for row in rows:
            first = before[row["op_id"]]
            assert row["outcome"] == "succeeded" and row["status"] == "ACTIVE"
            assert row["created_at"] == first["created_at"]
            assert row["statuses"][: len(first["statuses"])] == first["statuses"]
            assert row["statuses"][-1]["status"] == "ACTIVE"
            assert row["request"] == first["request"], "what was asked, kept"
            assert [r["pid"] for r in row["resumed"]] == [os.getpid()]
            assert row["pid"] == os.getpid() != first["pid"]
        db = journal.get(op_ids[-1])
        assert [a["outcome"] for a in db["attempts"]] == ["failed", "succeeded"]
        assert db["attempts"][0]["error"]["type"] == "osfutures.errors.OperationFailed"
        assert db["cleanup"] == {
            "attempt": 1,
            "resource_id": db["attempts"][0]["resource_id"],
            "outcome": "succeeded",
        }
        assert db["resource_id"] == db["result_id"] == db["attempts"][1]["resource_id"]


def test_a_cleanup_under_way_at_the_kill_is_finished_then_the_retries_go_on(
    tmp_path: Path, monitor: osfutures.Monitor
) -> None:
    # The first attempt fails fast; its server takes long to delete.
    scenario = Scenario.fast(
        seed=5, duration=0.2, rules=(DOOMED, *DEFAULT_RULES), timings={"server.delete": Timing(2.0)}
    )
    target = str(tmp_path / "ops.db")
    with FakeCloud(seed=5, scenario=scenario) as cloud:
        *_, op_id = killed_midway(cloud, target, until="cleaning")
        with Journal.open(target, batch_delay=0) as journal:
            row = journal.get(op_id)
            doomed = row["attempts"][0]["resource_id"]
            assert row["cleanup"] == {"attempt": 1, "resource_id": doomed, "outcome": "running"}
            cloud.scenario = replace(cloud.scenario, rules=DEFAULT_RULES)
            conn = osfutures.wrap(cloud.connect(), monitor=monitor, journal=False)
            resumed = osfutures.resume(conn, journal)
            server = resumed.futures[op_id].result(timeout=60)
            assert server.name == "db-1" and server.id != doomed
            assert [a.outcome for a in resumed.futures[op_id].attempts] == ["failed", "succeeded"]
            assert servers_by_name(cloud)["db-1"] == 1, "the failed attempt's server is gone"
            assert journal.flush()
            done = journal.get(op_id)
            assert done["outcome"] == "succeeded" and done["cleanup"]["outcome"] == "succeeded"


def test_rows_it_cannot_resume_are_reported_and_bad_input_refused(
    cloud: FakeCloud,
    journal: Journal,
    monitor: osfutures.Monitor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn = osfutures.wrap(cloud.connect(), monitor=monitor, journal=False)
    with pytest.raises(TypeError, match=r"^conn: expected an osfutures AsyncConnection"):
        osfutures.resume(conn.unwrap(), journal)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^journal: this connection keeps none"):
        osfutures.resume(conn)
    with pytest.raises(TypeError, match=r"^journal: expected a Journal"):
        osfutures.resume(conn, journal=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^interval:"):
        osfutures.resume(conn, journal, interval=-1)
    elsewhere = osfutures.OperationFuture[Any](name="create_server far")
    no_token = osfutures.OperationFuture[Any](name="create_server here")
    far = journal.track(elsewhere, context=Context(cloud="elsewhere"))
    here = journal.track(no_token, context=Context(cloud="defaults"))
    assert journal.flush()
    resumed = osfutures.resume(conn, journal)
    assert resumed.futures == {}
    assert resumed.skipped[far] == "another cloud: 'elsewhere' (this connection's: 'defaults')"
    assert resumed.skipped[here].startswith("no continuation token")
    # Said once per process, though every look of a cluster member finds it again.
    told = [r for r in caplog.records if here in r.getMessage()]
    assert len(told) == 1 and told[0].levelno == logging.WARNING
    assert osfutures.resume(conn, journal).skipped == resumed.skipped
    assert len([r for r in caplog.records if here in r.getMessage()]) == 1
    with pytest.raises(ValueError, match=r"^op_id: operation .* is tracked here by another"):
        journal.track(osfutures.OperationFuture[Any](), op_id=here)
    elsewhere.cancel()
    assert journal.flush()
    with pytest.raises(ValueError, match=r"^op_id: operation .* has ended \(cancelled\)"):
        journal.track(osfutures.OperationFuture[Any](), op_id=far)


ELSEWHERE = textwrap.dedent(
    """
    import json, os, sys, time
    import openstack.connection
    import osfutures
    from osfutures.journal import postgres, tracking

    # As if on another machine: the rows and the owner lock name another host.
    tracking._HOST = "another-machine"
    postgres._owner = lambda: ("another-machine", os.getpid(), tracking.PROCESS)
    given = json.loads(sys.stdin.readline())
    conn = osfutures.wrap(
        openstack.connection.Connection(**given["auth"]), journal=given["journal"]
    )
    future = conn.compute.create_server_async(name="far-1", timeout=120, **given["boot"])
    assert conn.journal.flush(timeout=30)
    print(conn.journal.op_id(future), flush=True)
    time.sleep(600)  # killed before this ends
    """
)


def test_a_process_on_another_machine_is_left_alone_while_it_lives(
    slow_cloud: FakeCloud, pg_url: str, monitor: osfutures.Monitor
) -> None:
    with (
        watching(ELSEWHERE, slow_cloud, pg_url) as (child, op_id),
        Journal.open(pg_url, batch_delay=0) as journal,
    ):
        conn = osfutures.wrap(slow_cloud.connect(), monitor=monitor, journal=False)
        alive = osfutures.resume(conn, journal)
        assert alive.futures == {}
        assert "another-machine is alive" in alive.skipped[op_id], "its owner lock is held"
        theirs = journal.get(op_id)["process"]  # before the row is taken over
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        for _ in range(50):  # the server ends the session once it reads the closed socket
            taken = osfutures.resume(conn, journal)
            if taken.futures:
                break
        assert list(taken.futures) == [op_id]
        assert taken.futures[op_id].result(timeout=60).status == "ACTIVE"
        # Its rows taken over are written under this process: the dead owner's
        # lock goes back, for whoever resumes its rows of another cloud or region.
        other = PostgresStore(pg_url)
        try:
            assert other.owner_gone("another-machine", child.pid, theirs)
        finally:
            other.close()


SAME_HOST_AND_PID = textwrap.dedent(
    """
    import json, os, sys, time
    given = json.loads(sys.stdin.readline())
    os.getpid = lambda: given["pid"]  # a container sharing our host name and our pid
    import openstack.connection
    import osfutures
    from osfutures.journal import tracking
    tracking._HOST = given["host"]
    conn = osfutures.wrap(
        openstack.connection.Connection(**given["auth"]), journal=given["journal"]
    )
    future = conn.compute.create_server_async(name="twin-1", timeout=120, **given["boot"])
    assert conn.journal.flush(timeout=30)
    print(conn.journal.op_id(future), flush=True)
    time.sleep(600)  # killed before this ends
    """
)


def test_a_process_with_our_host_name_and_pid_is_not_taken_for_this_one(
    slow_cloud: FakeCloud,
    pg_url: str,
    monitor: osfutures.Monitor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket

    caplog.set_level(logging.INFO, logger="osfutures")
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    with (
        watching(SAME_HOST_AND_PID, slow_cloud, pg_url, **me) as (_, op_id),
        Journal.open(pg_url, batch_delay=0) as journal,
    ):
        conn = osfutures.wrap(slow_cloud.connect(), monitor=monitor, journal=False)
        resumed = osfutures.resume(conn, journal)
        assert resumed.futures == {}, "its rows are another live process's"
        assert "is alive and watching it" in resumed.skipped[op_id]
    # Another live process's operations are no trouble: one line for all, no warning.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("left to the live processes" in r.getMessage() for r in caplog.records)


def test_rows_read_before_another_took_them_over_are_not_taken_again(
    slow_cloud: FakeCloud, pg_url: str
) -> None:
    """Y adopts a dead process's operations and gives its claim back; Z read the
    same rows before that: claiming them now, it sees they are Y's and leaves them."""
    from osfutures.openstack import resuming

    op_ids = killed_midway(slow_cloud, pg_url)
    monitors = [osfutures.Monitor(default_interval=0.1) for _ in range(2)]
    journals = [Journal.open(pg_url, batch_delay=0) for _ in range(2)]
    try:
        y, z = (osfutures.wrap(slow_cloud.connect(), monitor=m, journal=False) for m in monitors)
        stale = journals[1].unfinished()  # Z reads first ...
        with resuming.TAKING:  # ... Y adopts, as its adopter does
            taken = resuming.take_over(y, journals[0], resuming.orphans(y, journals[0]))
        assert sorted(taken.futures) == sorted(op_ids)
        again = resuming.take_over(z, journals[1], stale)  # ... then Z goes on
        assert again.futures == {}
        # Y's by now, or over already (Y's futures may end first on a busy machine).
        assert all(
            "taken over meanwhile" in why or "ended meanwhile" in why
            for why in again.skipped.values()
        ), again.skipped
        done, _ = concurrent.futures.wait(list(taken.futures.values()), timeout=60)
        assert len(done) == len(op_ids)
        assert journals[0].flush()
        assert all(len(journals[0].get(i)["resumed"]) == 1 for i in op_ids)
        assert journals[0].store.claimed() == set(), "the claim went back"
    finally:
        for monitor in monitors:
            monitor.shutdown(cancel_futures=True)
        for journal in journals:
            journal.close()
