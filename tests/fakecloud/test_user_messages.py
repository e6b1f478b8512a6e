"""Cinder's and manila's user messages, through unmodified openstacksdk over HTTP.

The cloud runs on a manual clock and every operation takes one second, so a test reads
the messages just before and just after a failure without waiting. The first user is a
non-admin (the user osfutures runs as); the admin owns another project.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from openstack import connection, exceptions

from osfutures.testing import (
    Credentials,
    FakeCloud,
    ManualClock,
    NameRule,
    Outcome,
    Scenario,
    Timing,
)
from osfutures.testing.fakecloud.scenario import DEFAULT_RULES

from .conftest import Raw

DEMO = Credentials("demo", "secret", "demo", roles=("member", "reader"))
ADMIN = Credentials()
#: Markers that fail one operation only, so the resource can first be made.
RULES = (
    NameRule("grow-err", Outcome.ERROR, frozenset({"extend"})),
    NameRule("shrink-err", Outcome.ERROR, frozenset({"shrink"})),
    NameRule("drop-err", Outcome.ERROR, frozenset({"delete"})),
    NameRule("restore-err", Outcome.ERROR, frozenset({"restore"})),
    *DEFAULT_RULES,
)
#: A server's delete frees its volumes half-way through another operation's second.
SCENARIO = Scenario.fast(
    seed=3, duration=1.0, rules=RULES, timings={"server.delete": Timing(duration=0.5)}
)
pytestmark = pytest.mark.fake_cloud(scenario=SCENARIO, clock=ManualClock, users=[DEMO, ADMIN])
TTL = 2592000  # both services' message_ttl
MANILA_VERSION = "X-OpenStack-Manila-API-Version"
SCHEDULE_FAILED = "schedule allocate volume:Could not find any available weighted backend."
EXTEND_FAILED = "Volume Driver failed to extend volume."
SNAP = "Snapshot failed to create."
BACKUP = "Backup driver failed to create backup."
RESTORE = "Backup driver failed to restore backup."
#: How manila's schema validation starts its complaint about a query parameter.
QUERY = "Invalid input for query parameters "
NO_POOL = (
    "allocate host: No storage could be allocated for this share request, Capacity filter "
    "didn't succeed."
)


@pytest.fixture
def conn(fake_cloud: FakeCloud) -> Iterator[connection.Connection]:
    """The demo user's connection; block storage at 3.71, where messages exist."""
    demo = fake_cloud.connect(block_storage_default_microversion="3.71")
    yield demo
    demo.close()


@pytest.fixture
def admin(fake_cloud: FakeCloud) -> Iterator[connection.Connection]:
    """The admin's connection, in its own project."""
    login = {"username": "admin", "password": "password", "project_name": "admin"}
    conn = fake_cloud.connect(block_storage_default_microversion="3.71", **login)
    yield conn
    conn.close()


def _stamp(cloud: FakeCloud, at: float) -> str:
    """A message time as both services print it: naive UTC with microseconds."""
    return cloud.clock.wall(at).replace(tzinfo=None).isoformat(timespec="microseconds")


def _links(cloud: FakeCloud, versioned: str, project: str, message_id: str) -> Any:
    """A message's self link (under ``versioned``: ``volume/v3``) and its bookmark."""
    own = f"{project}/messages/{message_id}"
    bare = versioned.split("/")[0]
    return [
        {"rel": "self", "href": f"{cloud.base_url}/{versioned}/{own}"},
        {"rel": "bookmark", "href": f"{cloud.base_url}/{bare}/{own}"},
    ]


def _appears_at_failure(cloud: FakeCloud, read: Any, failure_at: float = 1.0) -> Any:
    """Return what ``read()`` gives at ``failure_at``, having checked it empty before."""
    cloud.advance(failure_at - cloud.clock.now() - 0.001)
    assert read() == {"messages": []}
    cloud.advance(0.001)
    return read()


def _ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _started(response: requests.Response) -> tuple[str, str]:
    """Return the id of what a 202 (or manila's 200) started and the request's id."""
    assert response.status_code in (200, 202), response.text
    body = response.json()
    (item,) = body.values()
    return item["id"], response.headers["x-openstack-request-id"]


# -- cinder ------------------------------------------------------------------------------


def _volume(conn: connection.Connection, name: str) -> tuple[str, str]:
    """Ask for a volume; return its id and the create's request id."""
    body = {"volume": {"size": 1, "name": name}}
    return _started(conn.block_storage.post("/volumes", json=body, microversion="3.71"))


def _cinder(conn: connection.Connection, query: str = "", version: str = "3.5") -> Any:
    return _ok(conn.block_storage.get(f"/messages{query}", microversion=version))


def _ids(body: dict[str, Any]) -> list[str]:
    return [m["resource_uuid"] for m in body["messages"]]


def test_volume_message_appears_when_the_create_fails(
    fake_cloud: FakeCloud, conn: connection.Connection
) -> None:
    volume_id, request_id = _volume(conn, "fail-vol")
    query = f"?resource_uuid={volume_id}&sort=created_at:desc"
    (message,) = _appears_at_failure(fake_cloud, lambda: _cinder(conn, query))["messages"]
    assert conn.block_storage.get_volume(volume_id).status == "error"
    assert message == {
        "id": message["id"],
        "event_id": "VOLUME_VOLUME_001_003",
        "user_message": SCHEDULE_FAILED,
        "message_level": "ERROR",
        "created_at": _stamp(fake_cloud, 1.0),
        "guaranteed_until": _stamp(fake_cloud, 1.0 + TTL),
        "request_id": request_id,
        "links": _links(fake_cloud, "volume/v3", conn.current_project_id, message["id"]),
        "resource_type": "VOLUME",
        "resource_uuid": volume_id,
    }
    shown = _cinder(conn, f"/{message['id']}", "3.3")
    assert shown == {"message": message}


def _extend(fake_cloud: FakeCloud, conn: connection.Connection) -> tuple[str, str]:
    volume_id, _ = _volume(conn, "grow-err")
    fake_cloud.advance(1)
    body = {"os-extend": {"new_size": 2}}
    response = conn.block_storage.post(f"/volumes/{volume_id}/action", json=body)
    assert response.status_code == 202, response.text
    return volume_id, response.headers["x-openstack-request-id"]


def _snapshot(fake_cloud: FakeCloud, conn: connection.Connection) -> tuple[str, str]:
    volume_id, _ = _volume(conn, "vol")
    fake_cloud.advance(1)
    body = {"snapshot": {"volume_id": volume_id, "name": "fail-snap"}}
    return _started(conn.block_storage.post("/snapshots", json=body, microversion="3.71"))


def _backup(fake_cloud: FakeCloud, conn: connection.Connection, name: str) -> tuple[str, str]:
    volume_id, _ = _volume(conn, "vol")
    fake_cloud.advance(1)
    body = {"backup": {"volume_id": volume_id, "name": name}}
    return _started(conn.block_storage.post("/backups", json=body, microversion="3.71"))


def _failed_backup(fake_cloud: FakeCloud, conn: connection.Connection) -> tuple[str, str]:
    return _backup(fake_cloud, conn, "fail-backup")


def _restore(fake_cloud: FakeCloud, conn: connection.Connection) -> tuple[str, str]:
    backup_id, _ = _backup(fake_cloud, conn, "restore-err")
    fake_cloud.advance(1)
    response = conn.block_storage.post(f"/backups/{backup_id}/restore", json={"restore": {}})
    assert response.status_code == 202, response.text
    return backup_id, response.headers["x-openstack-request-id"]


@pytest.mark.parametrize(
    ("start", "resource_type", "event_id", "user_message"),
    [
        (_extend, "VOLUME", "VOLUME_VOLUME_007_010", "extend volume:" + EXTEND_FAILED),
        (_snapshot, "VOLUME_SNAPSHOT", "VOLUME_VOLUME_SNAPSHOT_009_013", "create snapshot:" + SNAP),
        (
            _failed_backup,
            "VOLUME_BACKUP",
            "VOLUME_VOLUME_BACKUP_013_020",
            "create backup:" + BACKUP,
        ),
        # The restore makes a volume first (1 s), then restores (1 s).
        (_restore, "VOLUME_BACKUP", "VOLUME_VOLUME_BACKUP_015_026", "restore backup:" + RESTORE),
    ],
)
def test_each_failure_says_what_cinder_says(
    fake_cloud: FakeCloud,
    conn: connection.Connection,
    start: Any,
    resource_type: str,
    event_id: str,
    user_message: str,
) -> None:
    resource_id, request_id = start(fake_cloud, conn)
    assert _cinder(conn)["messages"] == []
    fake_cloud.advance(2)
    (message,) = _cinder(conn)["messages"]
    assert message["resource_uuid"] == resource_id
    assert message["resource_type"] == resource_type
    assert message["event_id"] == event_id
    assert message["user_message"] == user_message
    assert message["request_id"] == request_id


def _two_failures(fake_cloud: FakeCloud, conn: connection.Connection) -> tuple[str, str, str]:
    """Fail volume ``a`` at 1.0 and ``b`` at 1.5; return their ids and b's request id."""
    first, _ = _volume(conn, "fail-a")
    fake_cloud.advance(0.5)
    second, request_id = _volume(conn, "fail-b")
    fake_cloud.advance(1.5)
    return first, second, request_id


def test_cinder_filters_sorts_and_pages(fake_cloud: FakeCloud, conn: connection.Connection) -> None:
    a, b, b_request = _two_failures(fake_cloud, conn)
    assert _ids(_cinder(conn)) == [b, a]
    assert _ids(_cinder(conn, "?sort=created_at:asc")) == [a, b]
    assert _ids(_cinder(conn, "?sort_key=resource_uuid&sort_dir=asc")) == sorted([a, b])
    assert _ids(_cinder(conn, f"?resource_uuid={a}")) == [a]
    assert _ids(_cinder(conn, f"?request_id={b_request}")) == [b]
    assert _ids(_cinder(conn, "?event_id=VOLUME_VOLUME_001_003&message_level=ERROR")) == [b, a]
    assert _ids(_cinder(conn, "?resource_type=VOLUME_BACKUP")) == []
    assert _ids(_cinder(conn, "?offset=1")) == [a]
    page = _cinder(conn, "?limit=1")
    assert _ids(page) == [b]
    (link,) = page["messages_links"]
    marker = page["messages"][0]["id"]
    assert link["rel"] == "next" and link["href"].endswith(f"?limit=1&marker={marker}")
    follow = conn.block_storage.get(link["href"], microversion="3.5")
    assert _ids(_ok(follow)) == [a]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "?sort=created_at:up",
            "Invalid input received: Unknown sort direction, must be 'desc' or 'asc'.",
        ),
        ("?sort=bogus", "Invalid input received: Invalid sort key"),
        (
            "?sort=id&sort_dir=asc",
            "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used "
            "with the 'sort' parameter.",
        ),
        ("?offset=-1", "offset must be >= 0"),
        ("?limit=x", "limit param must be an integer"),
    ],
)
def test_cinder_refuses_bad_paging(conn: connection.Connection, query: str, message: str) -> None:
    response = conn.block_storage.get(f"/messages{query}", microversion="3.5")
    assert response.status_code == 400
    assert response.json() == {"badRequest": {"code": 400, "message": message}}


def test_cinder_unknown_marker_is_404(conn: connection.Connection) -> None:
    response = conn.block_storage.get("/messages?marker=nope", microversion="3.5")
    assert response.json() == {
        "itemNotFound": {"code": 404, "message": "Message nope could not be found."}
    }


def test_cinder_filter_rules_follow_the_microversion(
    fake_cloud: FakeCloud, conn: connection.Connection, admin: connection.Connection
) -> None:
    a, b, _ = _two_failures(fake_cloud, conn)
    refused = conn.block_storage.get("/messages", microversion="3.2")
    assert refused.status_code == 404
    assert refused.json() == {
        "itemNotFound": {"code": 404, "message": "The resource could not be found."}
    }
    # Before 3.5 the query is not read at all.
    assert _ids(_cinder(conn, f"?resource_uuid={a}&foo=1", "3.4")) == [b, a]
    # Until 3.31 any column filters, and a key that is no column finds nothing.
    assert _ids(_cinder(conn, "?detail_id=003", "3.30")) == [b, a]
    assert _ids(_cinder(conn, "?foo=1", "3.30")) == []
    # From 3.31 a user may use resource_filters.json's keys only; all_tenants is dropped.
    for query in ("?detail_id=003", "?foo=1&detail_id=003"):
        response = conn.block_storage.get(f"/messages{query}", microversion="3.31")
        names = query[1:].replace("=003", "").replace("=1&", ",")
        expected = f"Invalid filters {names} are found in query options."
        assert response.json() == {"badRequest": {"code": 400, "message": expected}}
    assert _ids(_cinder(conn, "?all_tenants=1", "3.31")) == [b, a]
    # An admin may filter on any column, and reads every project's messages.
    assert _ids(_cinder(admin, "?detail_id=003", "3.71")) == [b, a]


def test_cinder_show_and_delete(
    fake_cloud: FakeCloud, conn: connection.Connection, admin: connection.Connection
) -> None:
    _volume(conn, "fail-mine")
    _volume(admin, "fail-admin")
    fake_cloud.advance(1)
    (mine,) = _cinder(conn)["messages"]
    theirs = [m for m in _cinder(admin)["messages"] if m["id"] != mine["id"]]
    assert len(theirs) == 1
    hidden = conn.block_storage.get(f"/messages/{theirs[0]['id']}", microversion="3.3")
    assert hidden.status_code == 404
    gone = conn.block_storage.get("/messages/nope", microversion="3.3")
    assert gone.json() == {
        "itemNotFound": {"code": 404, "message": "Message nope could not be found."}
    }
    assert conn.block_storage.get(f"/messages/{mine['id']}", microversion="3.2").status_code == 404
    deleted = conn.block_storage.delete(f"/messages/{mine['id']}", microversion="3.3")
    assert deleted.status_code == 204
    assert conn.block_storage.get(f"/messages/{mine['id']}", microversion="3.3").status_code == 404
    assert _cinder(conn)["messages"] == []


def test_failure_cut_short_by_a_server_delete_posts_nothing(
    fake_cloud: FakeCloud, conn: connection.Connection
) -> None:
    image_id = fake_cloud.backend("image").default_image_id
    server = conn.compute.create_server(
        name="vm", image_id=image_id, flavor_id="1", networks="none"
    )
    volume_id, _ = _volume(conn, "grow-err")
    fake_cloud.advance(2)
    conn.compute.create_volume_attachment(server, volume_id=volume_id)
    fake_cloud.advance(1)
    body = {"os-extend": {"new_size": 2}}
    extending = conn.block_storage.post(f"/volumes/{volume_id}/action", json=body)
    assert extending.status_code == 202, extending.text
    # The delete frees the volume at +0.5, before the extend would fail at +1.
    conn.compute.delete_server(server)
    fake_cloud.advance(2)
    assert conn.block_storage.get_volume(volume_id).status == "available"
    assert _cinder(conn) == {"messages": []}


def test_sdk_lists_cinder_messages(
    fake_cloud: FakeCloud, conn: connection.Connection, fake_conn: connection.Connection
) -> None:
    volume_id, request_id = _volume(conn, "fail-vol")
    fake_cloud.advance(1)
    (message,) = conn.block_storage.messages()
    assert message.resource_uuid == volume_id
    assert message.request_id == request_id
    assert message.user_message == SCHEDULE_FAILED
    assert message.guaranteed_until == _stamp(fake_cloud, 1.0 + TTL)
    # Without a default microversion the SDK asks for 3.0, where cinder has no messages.
    with pytest.raises(exceptions.NotFoundException):
        list(fake_conn.block_storage.messages())


# -- manila ------------------------------------------------------------------------------


def _share(conn: connection.Connection, name: str) -> tuple[str, str]:
    """Ask for a share; return its id and the create's request id."""
    body = {"share": {"size": 2, "share_proto": "NFS", "name": name}}
    return _started(conn.shared_file_system.post("/shares", json=body, microversion="2.37"))


def _manila(conn: connection.Connection, query: str = "", version: str = "2.37") -> Any:
    return _ok(conn.shared_file_system.get(f"/messages{query}", microversion=version))


def _resources(body: dict[str, Any]) -> list[str]:
    return [m["resource_id"] for m in body["messages"]]


def _action(conn: connection.Connection, share_id: str, body: dict[str, Any]) -> str:
    path = f"/shares/{share_id}/action"
    response = conn.shared_file_system.post(path, json=body, microversion="2.37")
    assert response.status_code == 202, response.text
    request_id: str = response.headers["x-openstack-request-id"]
    return request_id


def test_share_message_appears_when_the_create_fails(
    fake_cloud: FakeCloud, conn: connection.Connection
) -> None:
    share_id, request_id = _share(conn, "fail-share")
    query = f"?resource_id={share_id}&sort_key=created_at&sort_dir=desc"
    (message,) = _appears_at_failure(fake_cloud, lambda: _manila(conn, query))["messages"]
    project = conn.current_project_id
    assert message == {
        "id": message["id"],
        "project_id": project,
        "action_id": "001",
        "detail_id": "009",
        "message_level": "ERROR",
        "created_at": _stamp(fake_cloud, 1.0),
        "expires_at": _stamp(fake_cloud, 1.0 + TTL),
        "request_id": request_id,
        "links": _links(fake_cloud, "share/v2", project, message["id"]),
        "resource_type": "SHARE",
        "resource_id": share_id,
        "user_message": NO_POOL,
    }
    assert _manila(conn, f"/{message['id']}") == {"message": message}
    # openstacksdk negotiates 2.37 for user messages by itself.
    (listed,) = conn.shared_file_system.user_messages()
    assert (listed.id, listed.request_id, listed.user_message) == (
        message["id"],
        request_id,
        NO_POOL,
    )


def test_share_resize_and_delete_failures(
    fake_cloud: FakeCloud, conn: connection.Connection
) -> None:
    grow, _ = _share(conn, "grow-err")
    shrink, _ = _share(conn, "shrink-err")
    drop, _ = _share(conn, "drop-err")
    fake_cloud.advance(1)
    grown = _action(conn, grow, {"extend": {"new_size": 3}})
    _action(conn, shrink, {"shrink": {"new_size": 1}})
    dropped = conn.shared_file_system.delete(f"/shares/{drop}", microversion="2.37")
    assert dropped.status_code == 202
    fake_cloud.advance(1)
    statuses = [conn.shared_file_system.get_share(s).status for s in (grow, shrink, drop)]
    assert statuses == ["extending_error", "shrinking_error", "error_deleting"]
    delete, extend = sorted(_manila(conn)["messages"], key=lambda m: m["action_id"])
    assert (extend["resource_id"], extend["request_id"]) == (grow, grown)
    assert (extend["action_id"], extend["detail_id"]) == ("008", "015")
    assert extend["user_message"] == (
        "extend: Share Driver failed to extend share, The share status has been set to "
        "extending_error. This action cannot be re-attempted until the status has been "
        "rectified. Contact your administrator to determine the cause of this failure."
    )
    # Manila's delete message names the share instance, not the share.
    assert delete["resource_id"] not in (grow, shrink, drop)
    assert delete["request_id"] == dropped.headers["x-openstack-request-id"]
    assert delete["user_message"] == "delete: An unknown error occurred."


def test_manila_filters_sorts_and_pages(
    fake_cloud: FakeCloud, conn: connection.Connection, raw: Raw
) -> None:
    a, _ = _share(conn, "fail-a")
    fake_cloud.advance(0.5)
    b, b_request = _share(conn, "fail-b")
    fake_cloud.advance(1.5)
    assert _resources(_manila(conn)) == [b, a]
    assert _resources(_manila(conn, "?sort_dir=asc")) == [a, b]
    assert _resources(_manila(conn, "?sort_key=resource_id&sort_dir=up")) == sorted([a, b])
    assert _resources(_manila(conn, f"?resource_id={a}")) == [a]
    assert _resources(_manila(conn, f"?request_id={b_request}&action_id=001")) == [b]
    assert _resources(_manila(conn, "?detail_id=002")) == []
    assert _resources(_manila(conn, "?resource_type=SHARE&message_level=ERROR")) == [b, a]
    assert _resources(_manila(conn, "?offset=1")) == [a]
    page = _manila(conn, "?limit=1&marker=x")
    assert _resources(page) == [b]
    base = f"{fake_cloud.base_url}/share/v2/{conn.current_project_id}/messages"
    marker = page["messages"][0]["id"]
    assert page["messages_links"] == [{"rel": "next", "href": f"{base}?limit=1&marker={marker}"}]
    between = _stamp(fake_cloud, 1.25)
    assert _resources(_manila(conn, f"?created_since={between}", "2.52")) == [b]
    assert _resources(_manila(conn, f"?created_before={between}", "2.52")) == [a]
    created_a = _stamp(fake_cloud, 1.0)
    assert _resources(_manila(conn, f"?created_before={created_a}", "2.52")) == [a]
    # Before 2.52 the time filters are dropped.
    assert _resources(_manila(conn, f"?created_since={between}", "2.51")) == [b, a]
    # The URL without the project id answers too; its links leave the project out.
    unscoped = raw("GET", "/share/v2/messages", headers={MANILA_VERSION: "2.37"})
    assert _resources(_ok(unscoped)) == [b, a]
    link = _ok(unscoped)["messages"][0]["links"][0]["href"]
    assert link == f"{fake_cloud.base_url}/share/v2/messages/{_ok(unscoped)['messages'][0]['id']}"


@pytest.mark.parametrize(
    ("query", "version", "status", "message"),
    [
        ("", "2.36", 404, "The resource could not be found."),
        ("?sort_key=bogus", "2.37", 400, "Invalid input received: Invalid sort key bogus."),
        ("?limit=x", "2.37", 400, QUERY + "limit. Value: x. 'x' does not match '^[0-9]*$'"),
        ("?offset=-1", "2.37", 400, QUERY + "offset. Value: -1. '-1' does not match '^[0-9]*$'"),
        (
            "?created_since=soon",
            "2.52",
            400,
            QUERY + "created_since. Value: soon. 'soon' is not a 'date-time'",
        ),
        ("/nope", "2.37", 404, "Message nope could not be found."),
    ],
)
def test_manila_refusals(
    conn: connection.Connection, query: str, version: str, status: int, message: str
) -> None:
    response = conn.shared_file_system.get(f"/messages{query}", microversion=version)
    assert response.status_code == status
    fault = "itemNotFound" if status == 404 else "badRequest"
    assert response.json() == {fault: {"code": status, "message": message}}


def test_manila_show_delete_and_project_check(
    fake_cloud: FakeCloud, conn: connection.Connection, raw: Raw
) -> None:
    _share(conn, "fail-share")
    fake_cloud.advance(1)
    (message,) = _manila(conn)["messages"]
    path = f"/messages/{message['id']}"
    other = raw("GET", f"/share/v2/not-mine{path}", headers={MANILA_VERSION: "2.37"})
    assert other.json() == {"badRequest": {"code": 400, "message": "Malformed request url"}}
    assert conn.shared_file_system.get(path, microversion="2.36").status_code == 404
    deleted = conn.shared_file_system.delete(path, microversion="2.37")
    assert deleted.status_code == 204
    assert conn.shared_file_system.get(path, microversion="2.37").status_code == 404
    assert _manila(conn) == {"messages": []}
