"""Creates carry their operation id: a create whose answer was lost (the process
SIGKILLed while the request was in the cloud, a dropped connection) is found by it and
adopted by ``osfutures.resume``, never made twice; against FakeCloud over real HTTP,
with a SQLite and a PostgreSQL journal."""

from __future__ import annotations

import signal
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import openstack.exceptions
import pytest
from keystoneauth1 import exceptions as ks_exc

import osfutures
from osfutures.journal import Journal
from osfutures.openstack.specs import OP_KEY
from osfutures.testing import FakeCloud
from osfutures.testing.fakecloud.faults import FaultKind

from .test_resume import child_of, servers_by_name

CREATE = "POST /compute/v2.1/servers"

CHILD = textwrap.dedent(
    """
    import json, sys
    import openstack.connection
    import osfutures

    given = json.loads(sys.stdin.readline())
    conn = osfutures.wrap(
        openstack.connection.Connection(**given["auth"]),
        monitor=osfutures.Monitor(default_interval=0.1), journal=given["journal"],
    )
    conn.compute.create_server_async(name="lost-1", timeout=120, **given["boot"])
    print("answered", flush=True)  # never: killed while the create waits for its answer
    """
)


@pytest.fixture
def slow_create(cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Server creates made, and their answers held until the test ends; the event is
    set once one was made. (FakeCloud's latency fault delays a request before it is
    read, which a kill may beat: here the server exists when the answer is held.)"""
    made_one, release = threading.Event(), threading.Event()
    record = cloud.context.accounting.record_request

    def holding(route: str, *args: Any) -> None:  # after the handler, before the answer
        record(route, *args)
        if route == CREATE:
            made_one.set()
            release.wait(timeout=60)

    monkeypatch.setattr(cloud.context.accounting, "record_request", holding)
    yield made_one
    release.set()


#: The child, with a retrying create instead.
RETRYING_CHILD = CHILD.replace(
    'create_server_async(name="lost-1", timeout=120,',
    'create_server_async_r(name="lost-1", try_count=3, tout=60, timeout=120,',
)
assert RETRYING_CHILD != CHILD
#: ... which lives on after its call returned, until its later attempts are made.
WAITING_RETRYING_CHILD = RETRYING_CHILD.replace(
    'print("answered", flush=True)', "__import__('time').sleep(600)"
)
assert WAITING_RETRYING_CHILD != RETRYING_CHILD


def killed_while_creating(
    cloud: FakeCloud, target: str, arrived: threading.Event, code: str = CHILD
) -> str:
    """Run the child until its create reached the cloud, then SIGKILL it; return
    what it wrote on stderr."""
    child = child_of(code, cloud, target)
    reached = arrived.wait(timeout=60)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.stdout is not None and child.stderr is not None
    out, errors = child.stdout.read(), child.stderr.read()
    child.stdout.close()
    child.stderr.close()
    assert reached, errors
    assert child.returncode == -signal.SIGKILL and out == "", errors
    return errors


@pytest.fixture
def conn(cloud: FakeCloud, monitor: osfutures.Monitor) -> Iterator[osfutures.AsyncConnection]:
    plain = cloud.connect()
    yield osfutures.wrap(plain, monitor=monitor, journal=False)
    plain.close()


def test_a_create_killed_before_its_answer_is_adopted_not_made_twice(
    cloud: FakeCloud,
    target: str,
    slow_create: threading.Event,
    conn: osfutures.AsyncConnection,
) -> None:
    killed_while_creating(cloud, target, slow_create)
    assert servers_by_name(cloud)["lost-1"] == 1, "the cloud made it: the answer was lost"
    with Journal.open(target, batch_delay=0) as journal:
        (row,) = journal.unfinished()
        assert row["status"] == "sending" and row["resource_id"] is None
        assert row["token"] is None and row["resource_name"] == "lost-1"
        assert row["request"]["arguments"]["metadata"] == {OP_KEY: row["op_id"]}
        (server,) = [s for s in conn.compute.servers() if s.name == "lost-1"]
        assert server.metadata == {OP_KEY: row["op_id"]}, "the create carried its op id"
        posts = cloud.stats()["requests"].get(CREATE, 0)

        resumed = osfutures.resume(conn, journal)

        assert resumed.skipped == {}
        adopted = resumed.futures[row["op_id"]]
        assert adopted.result(timeout=60).id == server.id
        assert adopted.result().status == "ACTIVE"
        assert servers_by_name(cloud)["lost-1"] == 1, "adopted, not made again"
        assert cloud.stats()["requests"].get(CREATE, 0) == posts, "no create sent"
        assert journal.flush()
        done = journal.get(row["op_id"])
        assert done["outcome"] == "succeeded" and done["result_id"] == server.id
        assert done["created_at"] == row["created_at"] and len(done["resumed"]) == 1
        statuses = [s["status"] for s in done["statuses"]]
        assert statuses[0] == "sending" and statuses[-1] == "ACTIVE"
        assert done["token"], "a later resume would watch it from its token"
        assert journal.unfinished() == []


def test_a_create_whose_connection_dropped_before_the_cloud_made_it_is_skipped(
    cloud: FakeCloud, target: str, boot: dict[str, Any], conn: osfutures.AsyncConnection
) -> None:
    cloud.faults.inject(FaultKind.DROP, route=f"^{CREATE}$")  # closed: nothing made
    tracked = osfutures.wrap(conn.unwrap(), monitor=conn._monitor, journal=target)
    with pytest.raises(ks_exc.ConnectionError):
        tracked.compute.create_server_async(name="never-1", **boot)
    assert tracked.journal is not None and tracked.journal.flush()
    with Journal.open(target, batch_delay=0) as journal:
        (row,) = journal.unfinished()
        assert row["status"] == "sending", "the answer was lost: left for a resume to judge"
        resumed = osfutures.resume(conn, journal)
        assert resumed.futures == {}
        assert resumed.skipped == {
            row["op_id"]: "the create was sent but no server carries its osfutures_op tag:"
            " it was not made (or the cloud has yet to show it: a later resume looks again)"
        }
        assert servers_by_name(cloud)["never-1"] == 0, "nothing made again"
        assert journal.get(row["op_id"])["outcome"] == "pending"


def test_a_refused_create_ends_its_row_and_the_callers_own_key_is_refused_first(
    cloud: FakeCloud, journal: Journal, boot: dict[str, Any], conn: osfutures.AsyncConnection
) -> None:
    tracked = osfutures.wrap(conn.unwrap(), monitor=conn._monitor, journal=journal)
    refusal = r"^create_server\(metadata=\.\.\.\): the key 'osfutures_op' is osfutures' own"
    with pytest.raises(ValueError, match=refusal):
        tracked.compute.create_server_async(name="mine", metadata={OP_KEY: "x"}, **boot)
    with pytest.raises(ValueError, match=refusal):
        tracked.compute.create_server_async_r(name="mine", metadata={OP_KEY: "x"}, **boot)
    assert cloud.stats()["requests"].get(CREATE, 0) == 0, "nothing sent"
    assert journal.flush() and journal.list() == [], "nor written"
    with pytest.raises(openstack.exceptions.BadRequestException):
        tracked.compute.create_server_async(name="bad", **{**boot, "flavor_id": "nope"})
    assert journal.flush()
    (row,) = journal.list()
    assert row["outcome"] == "failed", "the cloud answered: nothing was made"
    assert row["error"]["type"].endswith("BadRequestException")
    own = tracked.compute.create_server_async(name="kept", metadata={"role": "db"}, **boot)
    assert own.result(timeout=60).metadata == {"role": "db", OP_KEY: journal.op_id(own)}


@pytest.mark.parametrize(
    ("service", "call", "arguments"),
    [
        ("compute", "create_server", {"flavor_id": "1", "networks": "none"}),
        ("block_storage", "create_volume", {"size": 1, "metadata": {"team": "web"}}),
        (
            "image",
            "create_image",
            {"data": b"x" * 100, "disk_format": "qcow2", "container_format": "bare"},
        ),
        (
            "orchestration",
            "create_stack",
            {"template": {"heat_template_version": "2021-04-16"}, "tags": ["mine"]},
        ),
        ("shared_file_system", "create_share", {"size": 1, "share_proto": "NFS"}),
    ],
)
def test_every_create_that_carries_its_op_id_is_found_by_it(
    cloud: FakeCloud, journal: Journal, service: str, call: str, arguments: dict[str, Any]
) -> None:
    from osfutures.openstack.connection import carrying
    from osfutures.openstack.specs import specs_for

    conn = osfutures.wrap(cloud.connect(), journal=journal)
    if service == "compute":
        arguments = {**arguments, "image_id": next(iter(conn.image.images())).id}
    twin = getattr(getattr(conn, service), f"{call}_async")
    made = twin(name="carried-1", **arguments).result(timeout=30)
    assert journal.flush()
    spec = specs_for(service)[call]
    assert spec.carries is not None
    rows = [r for r in journal.list(limit=None) if r["call"] == call]
    assert len(rows) == 1
    found = carrying(conn.unwrap(), spec, rows[0]["op_id"], "carried-1")
    assert [str(obj.id) for obj in found] == [str(made.id)], "found by the id it carries"
    mine = arguments.get("metadata") or arguments.get("tags")
    if mine:  # the caller's own are kept beside it
        carried = getattr(found[0], spec.carries.argument)
        assert all(item in carried for item in mine)


def test_a_retrying_create_killed_before_its_answer_goes_on_from_what_it_made(
    cloud: FakeCloud,
    target: str,
    slow_create: threading.Event,
    conn: osfutures.AsyncConnection,
) -> None:
    killed_while_creating(cloud, target, slow_create, RETRYING_CHILD)
    assert servers_by_name(cloud)["lost-1"] == 1, "the cloud made it: the answer was lost"
    with Journal.open(target, batch_delay=0) as journal:
        (row,) = journal.unfinished()
        assert row["status"] == "sending" and row["attempts"] == []
        posts = cloud.stats()["requests"].get(CREATE, 0)

        resumed = osfutures.resume(conn, journal)

        assert resumed.skipped == {}
        outer = resumed.futures[row["op_id"]]
        server = outer.result(timeout=60)
        assert server.status == "ACTIVE" and server.metadata == {OP_KEY: row["op_id"]}
        assert [a.outcome for a in outer.attempts] == ["succeeded"], "its first attempt"
        assert outer.attempts[0].resource_id == server.id
        assert servers_by_name(cloud)["lost-1"] == 1, "adopted, not made again"
        assert cloud.stats()["requests"].get(CREATE, 0) == posts, "no create sent"
        assert journal.flush()
        done = journal.get(row["op_id"])
        assert done["outcome"] == "succeeded" and done["created_at"] == row["created_at"]


def test_a_retrying_create_killed_during_a_later_attempt_is_not_made_twice(
    target: str, monitor: osfutures.Monitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from osfutures.testing.fakecloud.scenario import DEFAULT_RULES, NameRule, Outcome, Scenario

    failing = NameRule("lost-1", Outcome.ERROR, operations=frozenset({"build"}))
    scenario = Scenario.fast(seed=9, duration=0.3, rules=(failing, *DEFAULT_RULES))
    with FakeCloud(seed=9, scenario=scenario) as cloud:
        second_made, release = threading.Event(), threading.Event()
        record, creates = cloud.context.accounting.record_request, []

        def holding(route: str, *args: Any) -> None:  # the second create's answer, held
            record(route, *args)
            if route == CREATE:
                creates.append(route)
                if len(creates) == 2:
                    second_made.set()
                    release.wait(timeout=60)

        monkeypatch.setattr(cloud.context.accounting, "record_request", holding)
        try:
            # Attempt 1 fails and is cleaned up; attempt 2's answer never comes back.
            killed_while_creating(cloud, target, second_made, WAITING_RETRYING_CHILD)
        finally:
            release.set()
        cloud.scenario = replace(cloud.scenario, rules=DEFAULT_RULES)  # attempt 3 builds
        conn = osfutures.wrap(cloud.connect(), monitor=monitor, journal=False)
        with Journal.open(target, batch_delay=0) as journal:
            (row,) = journal.unfinished()
            assert [a["outcome"] for a in row["attempts"]] == ["failed"]

            resumed = osfutures.resume(conn, journal)

            assert resumed.skipped == {}
            outer = resumed.futures[row["op_id"]]
            assert outer.result(timeout=60).status == "ACTIVE"
            # Attempt 2's server (made ERROR) was adopted, cleaned up, then retried:
            # none is left behind, none made twice.
            assert [a.outcome for a in outer.attempts] == ["failed", "failed", "succeeded"]
            assert servers_by_name(cloud)["lost-1"] == 1
