"""The _async / _async_r twins, against FakeCloud over real HTTP."""

from __future__ import annotations

import json
import threading
from typing import Any

import openstack
import pytest
from openstack import exceptions as os_exc

import osfutures
from osfutures.testing import FakeCloud

from .conftest import requests

SERVER_GET = "GET /compute/v2.1/servers/{server_id}"
SERVERS_DETAIL = "GET /compute/v2.1/servers/detail"
SERVER_DELETE = "DELETE /compute/v2.1/servers/{server_id}"


def test_create_server_async_gives_sync_res_then_the_active_server(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    seen: list[tuple[str | None, Any]] = []
    fut = conn.compute.create_server_async(name="web-1", timeout=30, **boot)
    fut.add_progress_callback(lambda f: seen.append((f.status, f.progress)))
    assert isinstance(fut, osfutures.OperationFuture)
    assert fut.sync_res.id == fut.resource_id
    server = fut.result(timeout=30)
    assert isinstance(server, openstack.compute.v2.server.Server)
    assert server.status == "ACTIVE" and server.id == fut.sync_res.id
    # Callbacks of one future run in order: once a done callback has run, every
    # progress callback before it has too.
    callbacks_ran = threading.Event()
    fut.add_done_callback(lambda f: callbacks_ran.set())
    assert callbacks_ran.wait(5)
    assert seen[-1] == ("ACTIVE", 0)  # Nova's progress stays 0 through a build


def test_many_servers_are_polled_with_list_requests_not_gets(
    cloud: FakeCloud, conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    futures = [conn.compute.create_server_async(name=f"vm-{i}", **boot) for i in range(60)]
    assert all(f.result(timeout=60).status == "ACTIVE" for f in futures)
    assert requests(cloud, SERVER_GET) == 0
    # One list request per 0.1 s poll cycle while the 0.3 s builds run: a handful,
    # where one GET per server per cycle would be hundreds.
    assert 1 <= requests(cloud, SERVERS_DETAIL) <= 25


def test_error_state_fails_with_novas_fault(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    fut = conn.compute.create_server_async(name="fail-db", **boot)
    error = fut.exception(timeout=30)
    assert isinstance(error, osfutures.OperationFailed)
    assert error.status == "ERROR"
    assert error.fault is not None and "No valid host" in error.fault
    assert isinstance(error.resource, openstack.compute.v2.server.Server)
    assert error.resource.id == fut.resource_id
    # Named by what the caller gave it, with the id to find it by.
    assert fut.name == "create_server fail-db" and "'create_server fail-db'" in repr(fut)
    assert str(error).startswith(f"create_server fail-db ({fut.resource_id})")
    assert fut.record()["name"] == "create_server fail-db"


def test_delete_server_async_resolves_once_the_server_is_gone(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    server = conn.compute.create_server_async(name="tmp", **boot).result(timeout=30)
    fut = conn.compute.delete_server_async(server)
    last = fut.result(timeout=30)
    assert isinstance(last, openstack.compute.v2.server.Server) and last.id == server.id
    assert fut.status == "DELETED"
    with pytest.raises(os_exc.NotFoundException):
        conn.compute.get_server(server.id)


def test_actions_wait_for_their_own_outcome(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    server = conn.compute.create_server_async(name="act", **boot).result(timeout=30)
    stop = conn.compute.stop_server_async(server)
    assert stop.result(timeout=30).status == "SHUTOFF"
    assert stop.name == "stop_server act", "the name of the server it was given"
    by_id = conn.compute.start_server_async(server.id)
    assert by_id.name == f"start_server {server.id}", "an id is all it knows"
    assert by_id.result(timeout=30).status == "ACTIVE"
    assert conn.compute.stop_server_async(server).result(timeout=30).status == "SHUTOFF"
    assert conn.compute.start_server_async(server).result(timeout=30).status == "ACTIVE"
    assert conn.compute.reboot_server_async(server, "HARD").result(timeout=30).status == "ACTIVE"
    other_flavor = next(f.id for f in conn.compute.flavors() if f.id != boot["flavor_id"])
    resized = conn.compute.resize_server_async(server, other_flavor).result(timeout=30)
    assert resized.status == "VERIFY_RESIZE"
    assert conn.compute.confirm_server_resize_async(server).result(timeout=30).status == "ACTIVE"


def test_rejected_request_raises_at_the_call(
    cloud: FakeCloud, conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    bad = {**boot, "flavor_id": "no-such-flavor"}
    with pytest.raises(os_exc.BadRequestException):
        conn.compute.create_server_async(name="x", **bad)
    with pytest.raises(os_exc.BadRequestException):
        conn.compute.create_server_async_r(name="x", try_count=3, **bad)
    assert requests(cloud, "POST /compute/v2.1/servers") == 2, "a 400 is not retried"


def test_exhausted_retries_delete_every_broken_server_before_relaunching(
    cloud: FakeCloud, conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    fut = conn.compute.create_server_async_r(name="fail-always", try_count=2, tout=30, **boot)
    error = fut.exception(timeout=60)
    assert isinstance(error, osfutures.RetriesExhausted)
    assert [type(e) for e in error.errors] == [osfutures.OperationFailed] * 2
    assert all("No valid host" in (e.fault or "") for e in error.errors)
    first, second = (a.resource_id for a in fut.attempts)
    assert first != second
    assert requests(cloud, SERVER_DELETE) == 2
    assert list(conn.compute.servers()) == [], "nothing broken is left behind"
    # The first broken server was gone before the second attempt was made.
    servers = cloud.stats()["transitions"]["server"]
    first_gone = max(step["at"] for step in servers[first])
    second_born = min(step["at"] for step in servers[second])
    assert first_gone <= second_born


def test_unknown_twin_names_the_known_ones_nearby(conn: osfutures.AsyncConnection) -> None:
    with pytest.raises(AttributeError, match="create_server_async"):
        conn.compute.create_servr_async  # noqa: B018
    assert "create_server_async_r" in dir(conn.compute)


def test_plain_calls_and_attributes_pass_through(conn: osfutures.AsyncConnection) -> None:
    assert conn.compute.get_endpoint()
    assert conn.current_project_id == conn.unwrap().current_project_id
    assert list(conn.compute.servers()) == []


def test_request_record_holds_no_secret(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    fut = conn.compute.create_server_async(
        name="s", admin_password="hunter2", user_data="cGFzc3dvcmQ=", **boot
    )
    record = json.dumps(fut.record())
    assert "hunter2" not in record and "cGFzc3dvcmQ=" not in record
    assert fut.record()["request"]["arguments"]["name"] == "s"
    fut.result(timeout=30)


def test_a_resource_passed_is_recorded_as_its_id(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    server = conn.compute.create_server_async(name="s", **boot).result(timeout=30)
    deletion = conn.compute.delete_server_async(server)
    assert deletion.record()["request"]["arguments"] == {"server": {"id": server.id}}
    deletion.result(timeout=30)


def test_connect_takes_openstack_connect_arguments(cloud: FakeCloud) -> None:
    conn = osfutures.connect(**cloud.auth_args())
    assert isinstance(conn.unwrap(), openstack.connection.Connection)
    assert "create_server_async" in dir(conn.compute)


def test_wrap_rejects_what_is_not_a_connection() -> None:
    with pytest.raises(TypeError, match="conn"):
        osfutures.wrap(object())


def test_each_project_is_polled_through_its_own_connection(
    monitor: osfutures.Monitor,
) -> None:
    from osfutures.testing import Credentials, Scenario

    users = [Credentials("alice", "a-pass", "alpha"), Credentials("bob", "b-pass", "beta")]
    with FakeCloud(seed=2, users=users, scenario=Scenario.fast(duration=0.3)) as cloud:
        conns = [
            osfutures.wrap(
                cloud.connect(
                    username=u.username, password=u.password, project_name=u.project_name
                ),
                monitor=monitor,
            )
            for u in users
        ]
        image = next(iter(conns[0].image.images())).id
        futures = [
            conn.compute.create_server_async(
                name=f"{i}", flavor_id="1", image_id=image, networks="none"
            )
            for conn in conns
            for i in range(10)
        ]
        assert all(f.result(timeout=30).status == "ACTIVE" for f in futures)
        # A project's listing shows only its own servers: had both shared one batch,
        # the other project's servers would have needed a GET each.
        assert requests(cloud, SERVER_GET) == 0
