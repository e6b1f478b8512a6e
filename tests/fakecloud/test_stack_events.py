"""Heat's stack events and resources through unmodified openstacksdk, and their wire
format checked with the proxy's raw requests."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openstack import connection

from osfutures.testing import FakeCloud, ManualClock, Scenario
from osfutures.testing.fakecloud.scenario import Timing

# Three resources over 3 s: each takes one second, so a manual clock steps through them.
pytestmark = pytest.mark.fake_cloud(clock=ManualClock, scenario=Scenario.fast(duration=3))

TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2021-04-16",
    "resources": {
        "net": {"type": "OS::Neutron::Net"},
        "port": {
            "type": "OS::Neutron::Port",
            "properties": {"network": {"get_resource": "net"}, "name": "web-port"},
        },
        "server": {"type": "OS::Nova::Server", "properties": {"flavor": "m1.small"}},
    },
}
SERVER_FAILURE = (
    'ResourceInError: resources.server: Went to status ERROR due to "Message: Unknown, '
    'Code: Unknown"'
)
#: The keys of an event in heat's lists (its events.summary_keys, formatted).
SUMMARY_KEYS = {
    "event_time",
    "id",
    "links",
    "logical_resource_id",
    "physical_resource_id",
    "resource_name",
    "resource_status",
    "resource_status_reason",
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _create(conn: connection.Connection, name: str, template: dict[str, Any] = TEMPLATE) -> Any:
    return conn.orchestration.create_stack(name=name, template=template)


def _created(
    cloud: FakeCloud, conn: connection.Connection, name: str, template: dict[str, Any] = TEMPLATE
) -> Any:
    """Create a stack and let its create run to its end (3 s)."""
    stack = _create(conn, name, template)
    cloud.advance(3)
    return stack


def _states(events: Any) -> list[tuple[str, str]]:
    return [(e.resource_name, e.resource_status) for e in events]


def _get(conn: connection.Connection, path: str) -> Any:
    """GET a path under heat's endpoint; return the status and the JSON body."""
    response = conn.orchestration.get(path)
    return response.status_code, response.json()


def _events(conn: connection.Connection, stack: Any, query: str = "") -> list[dict[str, Any]]:
    status, body = _get(conn, f"/stacks/{stack.name}/{stack.id}/events{query}")
    assert status == 200, body
    events: list[dict[str, Any]] = body["events"]
    return events


def _listed(conn: connection.Connection, stack: Any, query: str) -> list[tuple[str, str]]:
    """The resource names and states of a raw event list with ``query``."""
    return [(e["resource_name"], e["resource_status"]) for e in _events(conn, stack, query)]


CREATED = [
    ("web", "CREATE_IN_PROGRESS"),
    ("net", "CREATE_IN_PROGRESS"),
    ("net", "CREATE_COMPLETE"),
    ("port", "CREATE_IN_PROGRESS"),
    ("port", "CREATE_COMPLETE"),
    ("server", "CREATE_IN_PROGRESS"),
    ("server", "CREATE_COMPLETE"),
    ("web", "CREATE_COMPLETE"),
]


def test_create_records_the_stack_and_each_resource_in_order(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _created(fake_cloud, fake_conn, "web")
    # Heat lists newest first unless told otherwise.
    newest_first = list(fake_conn.orchestration.stack_events(stack))
    assert _states(newest_first) == CREATED[::-1]
    oldest_first = list(fake_conn.orchestration.stack_events(stack, sort_dir="asc"))
    assert _states(oldest_first) == CREATED
    reasons = [e.resource_status_reason for e in oldest_first]
    assert reasons[0] == "Stack CREATE started"
    assert set(reasons[1:-1]) == {"state changed"}
    assert reasons[-1] == "Stack CREATE completed successfully"
    times = [e.event_time for e in oldest_first]
    assert times == sorted(times) and all(re.fullmatch(r"[0-9T:-]{19}Z", t) for t in times)
    # The stack's own events carry its id; a resource shows the name heat gives it until
    # the physical resource exists, then its id.
    assert {e.physical_resource_id for e in oldest_first if e.resource_name == "web"} == {stack.id}
    assert re.fullmatch(r"web-net-[a-z2-7]{12}", oldest_first[1].physical_resource_id)
    assert UUID.match(oldest_first[2].physical_resource_id)


def test_event_summary_has_heat_keys_and_links(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _created(fake_cloud, fake_conn, "web")
    event = _events(fake_conn, stack, "?resource_name=server&resource_status=COMPLETE")[0]
    assert set(event) == SUMMARY_KEYS
    assert (event["logical_resource_id"], event["resource_name"]) == ("server", "server")
    stack_href = fake_conn.orchestration.get_stack(stack.id).links[0]["href"]
    assert event["links"] == [
        {"href": f"{stack_href}/resources/server/events/{event['id']}", "rel": "self"},
        {"href": f"{stack_href}/resources/server", "rel": "resource"},
        {"href": stack_href, "rel": "stack"},
    ]
    nested = _events(fake_conn, stack, "?resource_name=server&nested_depth=1")[0]
    assert nested["links"][-1] == {"href": stack_href, "rel": "root_stack"}


def test_events_show_only_once_their_time_has_come(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _create(fake_conn, "web")
    seen = _states(fake_conn.orchestration.stack_events(stack, sort_dir="asc"))
    assert seen == CREATED[:2]
    fake_cloud.advance(0.5)
    assert _states(fake_conn.orchestration.stack_events(stack, sort_dir="asc")) == CREATED[:2]
    fake_cloud.advance(0.5)
    assert _states(fake_conn.orchestration.stack_events(stack, sort_dir="asc")) == CREATED[:4]
    fake_cloud.advance(2)
    assert _states(fake_conn.orchestration.stack_events(stack, sort_dir="asc")) == CREATED


def test_failed_stack_names_the_failed_resource(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _created(fake_cloud, fake_conn, "will-fail")
    shown = fake_conn.orchestration.get_stack(stack.id)
    assert shown.status == "CREATE_FAILED"
    assert shown.status_reason == f"Resource CREATE failed: {SERVER_FAILURE}"
    failed = list(fake_conn.orchestration.stack_events(stack, resource_status="FAILED"))
    # The stack's own FAILED event comes last, so newest; the resource's just before.
    assert _states(failed) == [("will-fail", "CREATE_FAILED"), ("server", "CREATE_FAILED")]
    assert failed[0].resource_status_reason == shown.status_reason
    assert failed[1].resource_status_reason == SERVER_FAILURE
    assert failed[1].physical_resource_id.startswith("will-fail-server-")


def test_resource_named_fail_fails_and_later_ones_never_start(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    template = {
        **TEMPLATE,
        "resources": {
            "net": {"type": "OS::Neutron::Net"},
            "port-fail": {"type": "OS::Neutron::Port"},
            "server": {"type": "OS::Nova::Server"},
        },
    }
    stack = _created(fake_cloud, fake_conn, "fail-app", template)
    reason = 'ResourceInError: resources.port-fail: Went to status ERROR due to "Unknown"'
    assert fake_conn.orchestration.get_stack(stack.id).status_reason == (
        f"Resource CREATE failed: {reason}"
    )
    events = list(fake_conn.orchestration.stack_events(stack, sort_dir="asc"))
    assert "server" not in {e.resource_name for e in events}
    assert (events[-2].resource_name, events[-2].resource_status_reason) == ("port-fail", reason)
    resources = {r.name: r for r in fake_conn.orchestration.resources(stack)}
    assert {name: r.status for name, r in resources.items()} == {
        "net": "CREATE_COMPLETE",
        "port-fail": "CREATE_FAILED",
        "server": "INIT_COMPLETE",
    }
    assert resources["port-fail"].status_reason == reason


@pytest.mark.fake_cloud(
    clock=ManualClock,
    scenario=Scenario(default=Timing(3, fault_message="No valid host was found.")),
)
def test_fault_message_is_what_the_failed_server_quotes(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _created(fake_cloud, fake_conn, "will-fail")
    assert fake_conn.orchestration.get_stack(stack.id).status_reason == (
        "Resource CREATE failed: ResourceInError: resources.server: Went to status ERROR "
        'due to "Message: No valid host was found., Code: 500"'
    )


def test_template_without_resources_fails_with_stack_events_only(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _create(fake_conn, "will-fail", {"heat_template_version": "2021-04-16"})
    fake_cloud.advance(3)
    assert fake_conn.orchestration.get_stack(stack.id).status_reason == (
        f"Resource CREATE failed: {SERVER_FAILURE}"
    )
    events = fake_conn.orchestration.stack_events(stack, sort_dir="asc")
    assert _states(events) == [("will-fail", "CREATE_IN_PROGRESS"), ("will-fail", "CREATE_FAILED")]
    assert list(fake_conn.orchestration.resources(stack)) == []


def test_filters_match_heat_columns(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _created(fake_cloud, fake_conn, "will-fail")
    # Heat keeps the status and the action apart: CREATE_FAILED matches nothing.
    assert _listed(fake_conn, stack, "?resource_status=CREATE_FAILED") == []
    assert len(_listed(fake_conn, stack, "?resource_status=FAILED")) == 2
    assert _listed(fake_conn, stack, "?resource_status=FAILED&resource_type=OS::Nova::Server") == [
        ("server", "CREATE_FAILED")
    ]
    assert len(_listed(fake_conn, stack, "?resource_action=CREATE")) == 8
    assert _listed(fake_conn, stack, "?resource_action=DELETE") == []
    both = _listed(
        fake_conn, stack, "?resource_name=net&resource_name=port&resource_status=COMPLETE"
    )
    assert both == [("port", "CREATE_COMPLETE"), ("net", "CREATE_COMPLETE")]
    # An empty filter is dropped, as heat drops it.
    assert len(_listed(fake_conn, stack, "?resource_status=")) == 8


def test_sort_keys_sort_dir_limit_and_marker(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _created(fake_cloud, fake_conn, "web")
    # A sort key sorts ascending unless told; an unknown one is dropped, as heat does.
    assert _listed(fake_conn, stack, "?sort_keys=event_time") == CREATED
    assert _listed(fake_conn, stack, "?sort_keys=event_time&sort_dir=desc") == CREATED[::-1]
    assert _listed(fake_conn, stack, "?sort_keys=nonsense") == CREATED[::-1]
    assert _listed(fake_conn, stack, "?sort_keys=event_time&limit=2") == CREATED[:2]
    assert _listed(fake_conn, stack, "?limit=0") == []
    by_type = _listed(fake_conn, stack, "?sort_keys=resource_type&sort_keys=event_time")
    assert by_type[:2] == [("web", "CREATE_IN_PROGRESS"), ("web", "CREATE_COMPLETE")]
    marker = _events(fake_conn, stack, "?sort_keys=event_time&limit=3")[-1]["id"]
    assert (
        _listed(fake_conn, stack, f"?sort_keys=event_time&marker={marker}&limit=2") == CREATED[3:5]
    )
    # openstacksdk pages with limit and marker until a short page.
    paged = fake_conn.orchestration.stack_events(stack, sort_dir="asc", limit=3)
    assert _states(paged) == CREATED


def test_one_resource_events_and_one_event_in_full(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _created(fake_cloud, fake_conn, "web")
    port = list(fake_conn.orchestration.stack_events(stack, resource_name="port"))
    assert _states(port) == [("port", "CREATE_COMPLETE"), ("port", "CREATE_IN_PROGRESS")]
    status, body = _get(fake_conn, f"/stacks/web/{stack.id}/resources/port/events/{port[0].id}")
    assert status == 200
    event = body["event"]
    assert set(event) == SUMMARY_KEYS | {"resource_type", "resource_properties"}
    assert event["resource_type"] == "OS::Neutron::Port"
    # Intrinsic functions are not evaluated: no resources exist to resolve them.
    assert event["resource_properties"] == {"network": None, "name": "web-port"}


def test_resources_move_from_init_to_complete(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _create(fake_conn, "web")
    fake_cloud.advance(1.5)
    resources = list(fake_conn.orchestration.resources(stack))
    assert [(r.name, r.status) for r in resources] == [
        ("net", "CREATE_COMPLETE"),
        ("port", "CREATE_IN_PROGRESS"),
        ("server", "INIT_COMPLETE"),
    ]
    # Heat's resource list shows no physical id before the physical resource exists.
    assert [bool(r.physical_resource_id) for r in resources] == [True, False, False]
    status, body = _get(fake_conn, f"/stacks/web/{stack.id}/resources?type=Neutron&status=COMPLETE")
    assert status == 200
    (net,) = body["resources"]
    assert set(net) == {
        "creation_time",
        "links",
        "logical_resource_id",
        "physical_resource_id",
        "required_by",
        "resource_name",
        "resource_status",
        "resource_status_reason",
        "resource_type",
        "updated_time",
    }
    assert (net["resource_name"], net["resource_type"]) == ("net", "OS::Neutron::Net")
    assert net["links"][1]["rel"] == "stack"


def test_update_and_delete_record_their_events(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _created(fake_cloud, fake_conn, "web")
    template = {
        **TEMPLATE,
        "resources": {**TEMPLATE["resources"], "volume": {"type": "OS::Cinder::Volume"}},
    }
    del template["resources"]["port"]
    fake_conn.orchestration.update_stack(stack, template=template)
    fake_cloud.advance(3)
    # An update updates what stays, creates what it adds and deletes what it drops.
    update = fake_conn.orchestration.stack_events(stack, sort_dir="asc", resource_action="UPDATE")
    assert [e.resource_name for e in update] == ["web", "net", "net", "server", "server", "web"]
    assert _states(fake_conn.orchestration.stack_events(stack, resource_name="volume")) == [
        ("volume", "CREATE_COMPLETE"),
        ("volume", "CREATE_IN_PROGRESS"),
    ]
    dropped = fake_conn.orchestration.stack_events(stack, resource_name="port", sort_dir="asc")
    assert [e.resource_status for e in dropped][-2:] == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    assert [r.name for r in fake_conn.orchestration.resources(stack)] == ["net", "server", "volume"]
    fake_conn.orchestration.delete_stack(stack)
    fake_cloud.advance(3)
    # A delete goes in reverse (after the update's own delete of the port); the deleted
    # stack's events stay readable by id.
    deleted = fake_conn.orchestration.stack_events(stack, sort_dir="asc", resource_action="DELETE")
    assert [e.resource_name for e in deleted if e.resource_status == "DELETE_COMPLETE"] == [
        "port",
        "volume",
        "server",
        "net",
        "web",
    ]
    assert list(fake_conn.orchestration.resources(stack)) == []


def test_delete_during_create_aborts_the_resource_in_progress(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _create(fake_conn, "web")
    fake_cloud.advance(1.5)
    fake_conn.orchestration.delete_stack(stack)
    fake_cloud.advance(3)
    events = list(fake_conn.orchestration.stack_events(stack, sort_dir="asc"))
    port = [e for e in events if e.resource_name == "port"]
    assert [(e.resource_status, e.resource_status_reason) for e in port][:2] == [
        ("CREATE_IN_PROGRESS", "state changed"),
        ("CREATE_FAILED", "CREATE aborted"),
    ]
    # What the create had still to do never happens; the server, never reached, is
    # not deleted either.
    assert "server" not in {e.resource_name for e in events}
    assert _states(events)[-2:] == [("net", "DELETE_COMPLETE"), ("web", "DELETE_COMPLETE")]


def test_stuck_stack_leaves_its_last_resource_in_progress(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    stack = _create(fake_conn, "stuck-app")
    fake_cloud.advance(1000)
    resources = fake_conn.orchestration.resources(stack)
    assert [(r.name, r.status) for r in resources] == [
        ("net", "CREATE_COMPLETE"),
        ("port", "CREATE_COMPLETE"),
        ("server", "CREATE_IN_PROGRESS"),
    ]
    newest = next(iter(fake_conn.orchestration.stack_events(stack)))
    assert (newest.resource_name, newest.resource_status) == ("server", "CREATE_IN_PROGRESS")


def test_bare_name_subpaths_redirect_to_the_canonical_url(
    fake_conn: connection.Connection,
) -> None:
    stack = _create(fake_conn, "web")
    for path in ("events", "resources"):
        response = fake_conn.orchestration.get(f"/stacks/web/{path}?limit=1", redirect=False)
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/stacks/web/{stack.id}/{path}?limit=1")
    events = fake_conn.orchestration.get("/stacks/web/events").json()["events"]
    assert [e["resource_name"] for e in events] == ["net", "web"]


@pytest.mark.parametrize(
    ("path", "status", "kind", "message"),
    [
        (
            "/stacks/web/{other}/events",
            404,
            "EntityNotFound",
            "The Stack (web) could not be found.",
        ),
        ("/stacks/app/{id}/events", 404, "EntityNotFound", "The Stack (app) could not be found."),
        (
            "/stacks/app/{id}/resources",
            404,
            "EntityNotFound",
            "The Stack (app) could not be found.",
        ),
        ("/stacks/nope/events", 404, "EntityNotFound", "The Stack (nope) could not be found."),
        (
            "/stacks/web/{id}/resources/no/events",
            404,
            "HTTPNotFound",
            "No events found for resource no",
        ),
        (
            "/stacks/web/{id}/resources/net/events/{other}",
            404,
            "HTTPNotFound",
            "No event {other} found",
        ),
        # An event of another resource is not this one's.
        (
            "/stacks/web/{id}/resources/port/events/{event}",
            404,
            "HTTPNotFound",
            "No event {event} found",
        ),
        (
            "/stacks/web/{id}/events?limit=two",
            400,
            "HTTPBadRequest",
            "Only integer is acceptable by 'limit'.",
        ),
        (
            "/stacks/web/{id}/events?limit=-1",
            400,
            "HTTPBadRequest",
            "Value '-1' is invalid for 'limit' which only accepts non-negative integer.",
        ),
        (
            "/stacks/web/{id}/events?sort_dir=up",
            400,
            "ValueError",
            "Unknown sort direction, must be one of: asc-nullsfirst, asc-nullslast, "
            "desc-nullsfirst, desc-nullslast",
        ),
        (
            "/stacks/web/{id}/resources?colour=red",
            400,
            "HTTPBadRequest",
            "Invalid filter parameters ['colour']",
        ),
        (
            "/stacks/web/{id}/resources?with_detail=yes",
            400,
            "HTTPBadRequest",
            'Unrecognized value "yes" for "with_detail", acceptable values are: true, false.',
        ),
    ],
)
def test_errors_are_in_heat_shape(
    fake_conn: connection.Connection, path: str, status: int, kind: str, message: str
) -> None:
    stack = _create(fake_conn, "web")
    event = next(iter(fake_conn.orchestration.stack_events(stack, resource_name="net"))).id
    ids = {"id": stack.id, "other": "0" * 8 + "-0000-4000-8000-" + "0" * 12, "event": event}
    code, body = _get(fake_conn, path.format(**ids))
    assert (code, body["code"]) == (status, status)
    assert body["title"] == {400: "Bad Request", 404: "Not Found"}[status]
    assert body["error"] == {"message": message.format(**ids), "traceback": None, "type": kind}
