"""Nova's instance actions, through unmodified openstacksdk, and the REVERT outcome.

The cloud runs on a manual clock, every operation takes one second, so a test reads an
action mid-way or after its end exactly, without waiting. The first user is a
non-admin, as the user whose answers from real Nova 34 these tests follow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack import connection, exceptions

from osfutures.testing import Credentials, FakeCloud, ManualClock, NameRule, Outcome, Scenario
from osfutures.testing.fakecloud.compute.models import NO_VALID_HOST, OPERATIONS
from osfutures.testing.fakecloud.scenario import REVERTIBLE_SERVER_ACTIONS

FAST = Scenario.fast(seed=5, duration=1.0)
DEMO = Credentials("demo", "secret", "demo", roles=("member", "reader"))
ADMIN = Credentials()
pytestmark = pytest.mark.fake_cloud(seed=5, scenario=FAST, clock=ManualClock, users=[DEMO, ADMIN])
ACTIONS = "/servers/{}/os-instance-actions"
UNKNOWN = "req-00000000-0000-0000-0000-000000000000"


def _stamp(cloud: FakeCloud, at: float) -> str:
    """An instance action time as Nova writes it: naive, with microseconds."""
    return cloud.clock.wall(at).replace(tzinfo=None).isoformat(timespec="microseconds")


def _create(conn: connection.Connection, cloud: FakeCloud, name: str = "vm") -> Any:
    """Ask for a server; its build has just begun."""
    image_id = cloud.backend("image").default_image_id
    return conn.compute.create_server(name=name, image_id=image_id, flavor_id="1", networks="none")


def _boot(conn: connection.Connection, cloud: FakeCloud, name: str = "vm") -> Any:
    """Create a server and let its build end (it started at 0: it is 2 now)."""
    server = _create(conn, cloud, name)
    cloud.advance(2)
    return server


def _act(conn: connection.Connection, server: Any, body: dict[str, Any]) -> str:
    """POST a server action; return the request id of its 202."""
    response = conn.compute.post(f"/servers/{server.id}/action", json=body, microversion="2.84")
    assert response.status_code == 202, response.text
    request_id: str = response.headers["x-openstack-request-id"]
    assert response.headers["x-compute-request-id"] == request_id
    return request_id


def _stop(conn: connection.Connection, cloud: FakeCloud, name: str = "vm") -> tuple[Any, str]:
    """Boot a server, stop it (from 2 to 3) and let the stop end; return the server and
    the stop's request id."""
    server = _boot(conn, cloud, name)
    request_id = _act(conn, server, {"os-stop": None})
    cloud.advance(2)
    return server, request_id


def _get(conn: connection.Connection, path: str, version: str) -> Any:
    response = conn.compute.get(path, microversion=version)
    assert response.status_code == 200, response.text
    return response.json()


def _host_id(conn: connection.Connection, server: Any) -> str:
    host_id: str = conn.compute.get_server(server).host_id
    assert host_id
    return host_id


@pytest.fixture
def admin_conn(fake_cloud: FakeCloud) -> Iterator[connection.Connection]:
    """A connection of the cloud's admin, who sees events' hosts, tracebacks, details."""
    conn = fake_cloud.connect(
        username=ADMIN.username, password=ADMIN.password, project_name="admin"
    )
    yield conn
    conn.close()


def test_a_stop_records_its_action_under_the_request_id_of_its_202(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    server, request_id = _stop(fake_conn, fake_cloud)
    action = fake_conn.compute.get_server_action(request_id, server)
    assert (action.action, action.request_id, action.message) == ("stop", request_id, None)
    assert (action.user_id, action.project_id) == (
        fake_conn.current_user_id,
        fake_conn.current_project_id,
    )
    (event,) = action.events
    assert (event.event, event.result) == ("compute_stop_instance", "Success")
    assert event.finish_time == _stamp(fake_cloud, 3.0)
    assert fake_conn.compute.get_server(server).status == "SHUTOFF"


def test_an_action_asked_for_midway_shows_its_event_open(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    server = _boot(fake_conn, fake_cloud)
    request_id = _act(fake_conn, server, {"reboot": {"type": "SOFT"}})
    fake_cloud.advance(0.5)
    action = _get(fake_conn, ACTIONS.format(server.id) + "/" + request_id, "2.84")
    started = _stamp(fake_cloud, 2.0)
    assert action["instanceAction"]["message"] is None
    assert action["instanceAction"]["updated_at"] == started
    assert action["instanceAction"]["events"] == [
        {
            "event": "compute_reboot_instance",
            "start_time": started,
            "finish_time": None,
            "result": None,
            "hostId": _host_id(fake_conn, server),
        }
    ]
    fake_cloud.advance(1)
    (event,) = fake_conn.compute.get_server_action(request_id, server).events
    assert (event.result, event.finish_time) == ("Success", _stamp(fake_cloud, 3.0))


def test_a_reverted_stop_leaves_the_server_as_it_was_but_for_the_action(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    server = _boot(fake_conn, fake_cloud, "revert-vm")
    request_id = _act(fake_conn, server, {"os-stop": None})
    stopping = fake_conn.compute.get_server(server)
    assert (stopping.status, stopping.task_state) == ("ACTIVE", "powering-off")
    fake_cloud.advance(2)
    body = _get(fake_conn, f"/servers/{server.id}", "2.84")["server"]
    assert body["status"] == "ACTIVE"
    assert body["OS-EXT-STS:task_state"] is None
    assert body["OS-EXT-STS:vm_state"] == "active"
    assert body["OS-EXT-STS:power_state"] == 1
    assert body["progress"] == 0
    assert "fault" not in body
    action = fake_conn.compute.get_server_action(request_id, server)
    assert action.message == "Error"
    assert [(e.event, e.result) for e in action.events] == [("compute_stop_instance", "Error")]


def test_a_reverted_resize_keeps_flavor_host_and_progress(
    fake_cloud: FakeCloud, fake_conn: connection.Connection, admin_conn: connection.Connection
) -> None:
    server = _boot(fake_conn, fake_cloud, "revert-vm")
    before = admin_conn.compute.get_server(server)
    request_id = _act(fake_conn, server, {"resize": {"flavorRef": "2"}})
    fake_cloud.advance(0.5)
    assert fake_conn.compute.get_server(server).status == "RESIZE"
    fake_cloud.advance(2)
    after = admin_conn.compute.get_server(server)
    assert (after.status, after.task_state, after.progress) == ("ACTIVE", None, 0)
    assert after.flavor["original_name"] == before.flavor["original_name"] == "m1.tiny"
    assert after.compute_host == before.compute_host
    action = fake_conn.compute.get_server_action(request_id, server)
    assert action.message == "Error"
    assert [e.result for e in action.events] == [
        "Error",
        "Success",
        "Success",
        "Success",
        "Success",
    ]


@pytest.mark.fake_cloud(
    seed=5,
    scenario=Scenario.fast(
        seed=5, duration=1.0, rules=(NameRule("fail", Outcome.ERROR, frozenset({"stop"})),)
    ),
    clock=ManualClock,
    users=[DEMO, ADMIN],
)
def test_an_action_ending_in_error_fails_the_server_and_the_action(
    fake_cloud: FakeCloud, fake_conn: connection.Connection, admin_conn: connection.Connection
) -> None:
    server, request_id = _stop(fake_conn, fake_cloud, "fail-at-stop")
    failed = fake_conn.compute.get_server(server)
    assert (failed.status, failed.fault["message"]) == ("ERROR", "Failed to stop the instance")
    assert fake_conn.compute.get_server_action(request_id, server).message == "Error"
    (event,) = admin_conn.compute.get_server_action(request_id, server).events
    assert (event.result, event.details) == ("Error", "Failed to stop the instance")
    assert event.traceback.startswith("Traceback (most recent call last):")


def test_create_is_recorded_once_scheduled_under_the_request_id_of_its_202(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    image_id = fake_cloud.backend("image").default_image_id
    spec = {"name": "vm", "imageRef": image_id, "flavorRef": "1", "networks": "none"}
    response = fake_conn.compute.post("/servers", json={"server": spec}, microversion="2.84")
    request_id = response.headers["x-openstack-request-id"]
    server_id = response.json()["server"]["id"]
    # nova-conductor records the action when the server is scheduled (15% in, when it
    # stops being a build request).
    assert _get(fake_conn, ACTIONS.format(server_id), "2.84") == {"instanceActions": []}
    fake_cloud.advance(0.5)
    action = fake_conn.compute.get_server_action(request_id, server_id)
    assert (action.action, action.start_time) == ("create", _stamp(fake_cloud, 0.0))
    (event,) = action.events
    assert (event.event, event.start_time) == (
        "compute__do_build_and_run_instance",
        _stamp(fake_cloud, 0.15),
    )
    assert event.result is None
    fake_cloud.advance(1)
    (event,) = fake_conn.compute.get_server_action(request_id, server_id).events
    assert event.result == "Success"


def test_a_build_no_host_takes_is_recorded_by_the_conductor_when_it_fails(
    fake_cloud: FakeCloud, fake_conn: connection.Connection, admin_conn: connection.Connection
) -> None:
    server = _boot(fake_conn, fake_cloud, "fail-to-build")
    (action,) = fake_conn.compute.server_actions(server)
    assert (action.action, action.message) == ("create", "Error")
    (event,) = admin_conn.compute.get_server_action(action.request_id, server).events
    assert (event.event, event.result, event.host) == (
        "conductor_schedule_and_build_instances",
        "Error",
        "controller",
    )
    assert event.details == NO_VALID_HOST
    assert event.start_time == event.finish_time == _stamp(fake_cloud, 1.0)


# The fields of one action at each microversion, for the server's own (non-admin) user:
# events from 2.51, updated_at from 2.58, hostId from 2.62; details never (admins only).
SHAPES = {
    "2.1": ({"updated_at": False}, None),
    "2.51": ({"updated_at": False}, ["event", "start_time", "finish_time", "result"]),
    "2.58": ({"updated_at": True}, ["event", "start_time", "finish_time", "result"]),
    "2.84": ({"updated_at": True}, ["event", "start_time", "finish_time", "result", "hostId"]),
}


@pytest.mark.parametrize("version", sorted(SHAPES))
def test_a_failed_action_at_each_microversion_as_nova_shows_it_to_its_owner(
    fake_cloud: FakeCloud, fake_conn: connection.Connection, version: str
) -> None:
    server, request_id = _stop(fake_conn, fake_cloud, "revert-vm")
    action = _get(fake_conn, ACTIONS.format(server.id) + "/" + request_id, version)
    flags, event_keys = SHAPES[version]
    expected: dict[str, Any] = {
        "action": "stop",
        "instance_uuid": server.id,
        "request_id": request_id,
        "user_id": fake_conn.current_user_id,
        "project_id": fake_conn.current_project_id,
        "start_time": _stamp(fake_cloud, 2.0),
        "message": "Error",
    }
    if flags["updated_at"]:
        expected["updated_at"] = _stamp(fake_cloud, 3.0)
    if event_keys is not None:
        event = {
            "event": "compute_stop_instance",
            "start_time": _stamp(fake_cloud, 2.0),
            "finish_time": _stamp(fake_cloud, 3.0),
            "result": "Error",
            "hostId": _host_id(fake_conn, server),
        }
        expected["events"] = [{key: event[key] for key in event_keys}]
    assert action == {"instanceAction": expected}
    assert list(action["instanceAction"]) == list(expected)


def test_admins_see_every_event_field_and_events_before_2_51(
    fake_cloud: FakeCloud, fake_conn: connection.Connection, admin_conn: connection.Connection
) -> None:
    server, request_id = _stop(fake_conn, fake_cloud)
    path = ACTIONS.format(server.id) + "/" + request_id
    (old,) = _get(admin_conn, path, "2.1")["instanceAction"]["events"]
    assert list(old) == ["event", "start_time", "finish_time", "result", "traceback"]
    (new,) = _get(admin_conn, path, "2.84")["instanceAction"]["events"]
    assert new["traceback"] is None and new["details"] is None
    assert new["host"] in ("compute1", "compute2")
    assert list(new) == [
        "event",
        "start_time",
        "finish_time",
        "result",
        "traceback",
        "host",
        "hostId",
        "details",
    ]


# Action body, then the instance action Nova records and its newest event (the one that
# fails a failed action, but for a live migration: compute_live_migration holds the
# newer pre_ and post_live_migration_at_destination, as on real Nova 34).
RECORDS = {
    "hard reboot": ({"reboot": {"type": "HARD"}}, "reboot", "compute_reboot_instance"),
    "migrate": ({"migrate": None}, "migrate", "compute_finish_resize"),
    "live migrate": (
        {"os-migrateLive": {"host": None, "block_migration": "auto"}},
        "live-migration",
        "compute_post_live_migration_at_destination",
    ),
    "snapshot": ({"createImage": {"name": "snap"}}, "createImage", "compute_snapshot_instance"),
    "rebuild": ({"rebuild": {"imageRef": "IMAGE"}}, "rebuild", "compute_rebuild_instance"),
}


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_each_action_is_recorded_under_nova_name_and_events(
    fake_cloud: FakeCloud, fake_conn: connection.Connection, kind: str
) -> None:
    body, name, last_event = RECORDS[kind]
    if "rebuild" in body:
        body = {"rebuild": {"imageRef": fake_cloud.backend("image").default_image_id}}
    server = _boot(fake_conn, fake_cloud)
    request_id = _act(fake_conn, server, body)
    fake_cloud.advance(2)
    action = fake_conn.compute.get_server_action(request_id, server)
    assert (action.action, action.message) == (name, None)
    assert action.events[0].event == last_event
    assert {e.result for e in action.events} == {"Success"}


def test_a_resize_records_nova_events_newest_first_on_their_hosts(
    fake_cloud: FakeCloud, fake_conn: connection.Connection, admin_conn: connection.Connection
) -> None:
    server = _boot(fake_conn, fake_cloud)
    source = admin_conn.compute.get_server(server).compute_host
    request_id = _act(fake_conn, server, {"resize": {"flavorRef": "2"}})
    fake_cloud.advance(2)
    action = admin_conn.compute.get_server_action(request_id, server)
    destination = admin_conn.compute.get_server(server).compute_host
    assert destination != source
    assert [(e.event, e.host, e.result) for e in action.events] == [
        ("compute_finish_resize", destination, "Success"),
        ("compute_resize_instance", source, "Success"),
        ("compute_prep_resize", destination, "Success"),
        ("cold_migrate", "controller", "Success"),
        ("conductor_migrate_server", "controller", "Success"),
    ]


def test_the_list_is_newest_first_with_updated_at_from_2_58(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    server, stop = _stop(fake_conn, fake_cloud)
    start = _act(fake_conn, server, {"os-start": None})
    fake_cloud.advance(2)
    actions = [(a.action, a.request_id) for a in fake_conn.compute.server_actions(server)]
    assert actions[:2] == [("start", start), ("stop", stop)]
    assert actions[2][0] == "create"
    old = _get(fake_conn, ACTIONS.format(server.id), "2.57")["instanceActions"]
    assert "updated_at" not in old[0]
    new = _get(fake_conn, ACTIONS.format(server.id), "2.58")["instanceActions"]
    assert new[0]["updated_at"] == _stamp(fake_cloud, 5.0)


def test_the_list_pages_and_filters_from_2_58(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    server, stop = _stop(fake_conn, fake_cloud)
    path = ACTIONS.format(server.id)
    first = _get(fake_conn, path + "?limit=1", "2.58")
    assert [a["request_id"] for a in first["instanceActions"]] == [stop]
    (link,) = first["links"]
    assert link == {
        "rel": "next",
        "href": f"{fake_cloud.base_url}/compute/v2.1/{path.lstrip('/')}?limit=1&marker={stop}",
    }
    rest = _get(fake_conn, f"{path}?limit=1&marker={stop}", "2.58")
    assert [a["action"] for a in rest["instanceActions"]] == ["create"]
    since = _stamp(fake_cloud, 2.5)
    recent = _get(fake_conn, f"{path}?changes-since={since}", "2.58")["instanceActions"]
    assert [a["request_id"] for a in recent] == [stop]
    assert _get(fake_conn, f"{path}?limit=0&marker=nope", "2.58") == {"instanceActions": []}


@pytest.mark.parametrize(
    ("query", "version", "message"),
    [
        ("marker=nope", "2.58", "Marker None could not be found."),
        (
            "changes-before=2020-01-01T00:00:00Z",
            "2.65",
            "Additional properties are not allowed ('changes-before' was unexpected)",
        ),
        (
            "sort=1&a=2",
            "2.58",
            "Additional properties are not allowed ('a', 'sort' were unexpected)",
        ),
        (
            "limit=x",
            "2.58",
            "Invalid input for query parameters limit. Value: x. 'x' does not match '^[0-9]*$'",
        ),
    ],
)
def test_the_list_refuses_bad_parameters_as_nova(
    fake_cloud: FakeCloud,
    fake_conn: connection.Connection,
    query: str,
    version: str,
    message: str,
) -> None:
    server = _boot(fake_conn, fake_cloud)
    response = fake_conn.compute.get(f"{ACTIONS.format(server.id)}?{query}", microversion=version)
    assert response.status_code == 400
    assert response.json() == {"badRequest": {"code": 400, "message": message}}
    # Before 2.58 the list takes no parameters and ignores what it is given.
    assert fake_conn.compute.get(f"{ACTIONS.format(server.id)}?{query}", microversion="2.57").ok


def test_unknown_servers_and_request_ids_are_404_as_nova_words_them(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    server = _boot(fake_conn, fake_cloud)
    for path in (ACTIONS.format("nope"), ACTIONS.format("nope") + "/" + UNKNOWN):
        response = fake_conn.compute.get(path, microversion="2.84")
        assert response.status_code == 404
        message = "Instance nope could not be found."
        assert response.json() == {"itemNotFound": {"code": 404, "message": message}}
    response = fake_conn.compute.get(ACTIONS.format(server.id) + "/" + UNKNOWN, microversion="2.84")
    assert response.status_code == 404
    message = f"Action {UNKNOWN} not found"
    assert response.json() == {"itemNotFound": {"code": 404, "message": message}}
    with pytest.raises(exceptions.NotFoundException):
        fake_conn.compute.get_server_action(UNKNOWN, server, ignore_missing=False)


def test_a_deleted_server_keeps_its_actions_from_2_21(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    server = _boot(fake_conn, fake_cloud)
    response = fake_conn.compute.delete(f"/servers/{server.id}", microversion="2.84")
    request_id = response.headers["x-openstack-request-id"]
    fake_cloud.advance(2)
    path = ACTIONS.format(server.id) + "/" + request_id
    assert _get(fake_conn, path, "2.21")["instanceAction"]["action"] == "delete"
    (event,) = _get(fake_conn, path, "2.51")["instanceAction"]["events"]
    assert (event["event"], event["result"]) == ("compute_terminate_instance", "Success")
    gone = fake_conn.compute.get(ACTIONS.format(server.id), microversion="2.20")
    assert gone.status_code == 404


def test_a_server_deleted_while_a_build_request_is_gone_with_its_actions(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    # As on real Nova 34: the API deletes the build request, so no instance was ever
    # made; the server and its actions answer 404 at once, and no listing shows it.
    server = _create(fake_conn, fake_cloud)
    fake_conn.compute.delete_server(server)
    gone = fake_conn.compute.get(ACTIONS.format(server.id), microversion="2.84")
    assert gone.status_code == 404
    assert fake_conn.compute.get(f"/servers/{server.id}").status_code == 404
    fake_cloud.advance(2)
    changed = fake_conn.compute.get("/servers?changes-since=2000-01-01T00:00:00Z").json()
    assert changed == {"servers": []}


def test_every_compute_answer_carries_both_request_id_headers(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    for response in (
        fake_conn.compute.get("/servers", microversion="2.84"),
        fake_conn.compute.get("/servers/nope", microversion="2.84"),
        fake_conn.compute.get("/no-such-path", microversion="2.84"),
    ):
        request_id = response.headers["x-openstack-request-id"]
        assert request_id.startswith("req-")
        assert response.headers["x-compute-request-id"] == request_id
    other = fake_conn.identity.get("/v3/auth/tokens", headers={"X-Subject-Token": "x"})
    assert other.headers["x-openstack-request-id"].startswith("req-")
    assert "x-compute-request-id" not in other.headers


def test_revert_is_forced_on_server_actions_only_and_is_an_error_elsewhere() -> None:
    assert REVERTIBLE_SERVER_ACTIONS.issubset(OPERATIONS)
    assert not REVERTIBLE_SERVER_ACTIONS & {"build", "delete", "snapshot"}
    scenario = Scenario()
    for operation in sorted(REVERTIBLE_SERVER_ACTIONS):
        plan = scenario.plan("server", operation, "revert-me", "k", revertible=True)
        assert plan.outcome is Outcome.REVERT
    assert scenario.plan("server", "build", "revert-me", "k").outcome is Outcome.OK
    # Nova's own word for undoing a resize is not the marker.
    named = scenario.plan("server", "resize", "revert_server_resize", "k", revertible=True)
    assert named.outcome is Outcome.OK
    forced = Scenario(rules=(NameRule("revert", Outcome.REVERT),))
    assert forced.plan("volume", "create", "revert-me", "k").outcome is Outcome.ERROR
