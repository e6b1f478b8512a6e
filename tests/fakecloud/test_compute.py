"""Nova through unmodified openstacksdk, and Nova's wire format checked raw."""

from __future__ import annotations

import pytest
from openstack import connection, exceptions

from osfutures.testing import FakeCloud, ManualClock, Scenario, Timing
from osfutures.testing.fakecloud.registry import SERVICES

from .conftest import Raw, boot

FAST = Scenario.fast(seed=3, duration=0.1)
pytestmark = pytest.mark.fake_cloud(seed=3, scenario=FAST)


def _create(conn: connection.Connection, cloud: FakeCloud, name: str = "vm") -> object:
    image_id = cloud.backend("image").default_image_id
    return conn.compute.create_server(name=name, image_id=image_id, flavor_id="1", networks="auto")


def _wait(conn: connection.Connection, server: object, status: str = "ACTIVE") -> object:
    return conn.compute.wait_for_server(server, status=status, interval=0.02, wait=5)


def test_server_builds_to_active_with_addresses_and_progress_0(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    server = _create(fake_conn, fake_cloud)
    assert fake_conn.compute.get_server(server).status == "BUILD"
    active = _wait(fake_conn, server)
    assert active.vm_state == "active"
    assert active.task_state is None
    # Nova's progress stays 0 through a build and at ACTIVE (libvirt reports none).
    assert active.progress == 0
    assert active.addresses["private"][0]["version"] == 4
    assert active.launched_at is not None


def test_failing_name_ends_in_error_with_nova_fault(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    server = _create(fake_conn, fake_cloud, name="will-fail")
    with pytest.raises(exceptions.ResourceFailure):
        _wait(fake_conn, server)
    failed = fake_conn.compute.get_server(server)
    assert failed.status == "ERROR"
    assert failed.fault["code"] == 500
    assert failed.fault["message"] == (
        "No valid host was found. There are not enough hosts available."
    )
    assert failed.fault["created"].endswith("Z")


ACTIONS = {
    "reboot": (lambda c, s: c.compute.reboot_server(s, "SOFT"), "REBOOT", "ACTIVE"),
    "hard_reboot": (lambda c, s: c.compute.reboot_server(s, "HARD"), "HARD_REBOOT", "ACTIVE"),
    "resize": (lambda c, s: c.compute.resize_server(s, "2"), "RESIZE", "VERIFY_RESIZE"),
    "migrate": (lambda c, s: c.compute.migrate_server(s), "RESIZE", "VERIFY_RESIZE"),
    "rebuild": (
        lambda c, s: c.compute.rebuild_server(s, image=s.image["id"]),
        "REBUILD",
        "ACTIVE",
    ),
    "live_migrate": (
        lambda c, s: c.compute.live_migrate_server(s, block_migration="auto"),
        "MIGRATING",
        "ACTIVE",
    ),
    # Stopping keeps status ACTIVE with task_state powering-off, as Nova shows it.
    "stop": (lambda c, s: c.compute.stop_server(s), "ACTIVE", "SHUTOFF"),
}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_action_passes_through_transient_status(
    fake_cloud: FakeCloud, fake_conn: connection.Connection, name: str
) -> None:
    action, transient, final = ACTIONS[name]
    server = _wait(fake_conn, _create(fake_conn, fake_cloud))
    action(fake_conn, server)
    during = fake_conn.compute.get_server(server)
    assert (during.status, during.task_state is not None) == (transient, True)
    assert _wait(fake_conn, server, final).status == final


def test_confirm_and_revert_resize(fake_cloud: FakeCloud, fake_conn: connection.Connection) -> None:
    first = _wait(fake_conn, _create(fake_conn, fake_cloud, "a"))
    second = _wait(fake_conn, _create(fake_conn, fake_cloud, "b"))
    for server in (first, second):
        fake_conn.compute.resize_server(server, "3")
        _wait(fake_conn, server, "VERIFY_RESIZE")
    fake_conn.compute.confirm_server_resize(first)
    fake_conn.compute.revert_server_resize(second)
    assert fake_conn.compute.get_server(second).status == "REVERT_RESIZE"
    assert _wait(fake_conn, first).flavor["original_name"] == "m1.medium"
    assert _wait(fake_conn, second).flavor["original_name"] == "m1.tiny"


def test_stop_then_start(fake_cloud: FakeCloud, fake_conn: connection.Connection) -> None:
    server = _wait(fake_conn, _create(fake_conn, fake_cloud))
    fake_conn.compute.stop_server(server)
    assert _wait(fake_conn, server, "SHUTOFF").power_state == 4
    fake_conn.compute.start_server(server)
    assert _wait(fake_conn, server).power_state == 1


def test_delete_goes_through_deleting_then_404(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    server = _wait(fake_conn, _create(fake_conn, fake_cloud))
    fake_conn.compute.delete_server(server)
    deleting = fake_conn.compute.get_server(server)
    assert (deleting.status, deleting.task_state) == ("ACTIVE", "deleting")
    fake_conn.compute.wait_for_delete(server, interval=0.02, wait=5)
    with pytest.raises(exceptions.NotFoundException):
        fake_conn.compute.get_server(server)


def test_changes_since_lists_updated_servers_including_deleted(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    _wait(fake_conn, _create(fake_conn, fake_cloud, "old"))
    gone = _wait(fake_conn, _create(fake_conn, fake_cloud, "gone"))
    since = fake_cloud.clock.wall(fake_cloud.clock.now())
    _create(fake_conn, fake_cloud, "fresh")
    fake_conn.compute.delete_server(gone)
    fake_conn.compute.wait_for_delete(gone, interval=0.02, wait=5)
    stamp = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    changed = {s.name: s.status for s in fake_conn.compute.servers(changes_since=stamp)}
    assert changed.keys() == {"fresh", "gone"}
    assert changed["gone"] == "DELETED"
    assert {s.name for s in fake_conn.compute.servers()} == {"old", "fresh"}


@pytest.mark.fake_cloud(seed=3, clock=ManualClock, scenario=FAST)
def test_changes_since_is_inclusive_and_tracks_lazy_transitions(
    fake_cloud: FakeCloud, raw: Raw
) -> None:
    server = boot(raw)
    wall = fake_cloud.clock.wall
    since = wall(0.1).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    path = f"/compute/v2.1/servers/detail?changes-since={since}"
    # Still a build request: Nova lists it whatever changes-since says, updated "now".
    (request,) = raw("GET", path, "2.100").json()["servers"]
    assert request["OS-EXT-STS:task_state"] == "scheduling"
    assert request["updated"] == wall(0).strftime("%Y-%m-%dT%H:%M:%SZ")
    fake_cloud.advance(0.05)
    assert raw("GET", path, "2.100").json()["servers"] == []
    fake_cloud.advance(1)
    (body,) = raw("GET", path, "2.100").json()["servers"]
    assert (body["id"], body["status"]) == (server["id"], "ACTIVE")
    assert body["updated"] == wall(0.1).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.fake_cloud(seed=3, clock=ManualClock, scenario=FAST)
def test_paging_follows_servers_links(fake_cloud: FakeCloud, raw: Raw) -> None:
    ids = []
    for i in range(5):
        ids.append(boot(raw, f"vm{i}")["id"])
        fake_cloud.advance(0.01)
    first = raw("GET", "/compute/v2.1/servers?limit=2", "2.100").json()
    assert [s["id"] for s in first["servers"]] == ids[::-1][:2]
    (link,) = first["servers_links"]
    assert link == {
        "rel": "next",
        "href": f"{fake_cloud.base_url}/compute/v2.1/servers?limit=2&marker={ids[3]}",
    }
    conn = fake_cloud.connect()
    assert [s.id for s in conn.compute.servers(limit=2)] == ids[::-1]
    conn.close()


def test_name_filter_is_a_regex(raw: Raw) -> None:
    boot(raw, "web-1")
    boot(raw, "db-1")
    listed = raw("GET", "/compute/v2.1/servers?name=^web", "2.100").json()["servers"]
    assert [s["name"] for s in listed] == ["web-1"]


def test_error_shapes_match_nova(raw: Raw) -> None:
    server = boot(raw)
    missing = raw("GET", "/compute/v2.1/servers/nope", "2.100")
    assert missing.status_code == 404
    assert missing.json() == {
        "itemNotFound": {"code": 404, "message": "Instance nope could not be found."}
    }
    action_path = f"/compute/v2.1/servers/{server['id']}/action"
    conflict = raw("POST", action_path, "2.100", json={"reboot": {"type": "SOFT"}})
    assert conflict.status_code == 409
    message = f"Cannot 'reboot' instance {server['id']} while it is in vm_state building"
    assert conflict.json() == {"conflictingRequest": {"code": 409, "message": message}}
    spec = {"imageRef": "x", "flavorRef": "1", "networks": "none"}
    no_name = raw("POST", "/compute/v2.1/servers", "2.100", json={"server": spec})
    assert no_name.status_code == 400
    assert no_name.json()["badRequest"]["message"] == (
        f"Invalid input for field/attribute server. Value: {spec}. 'name' is a required property"
    )
    bad_flavor = {"server": {**spec, "name": "x", "flavorRef": "99"}}
    flavor = raw("POST", "/compute/v2.1/servers", "2.100", json=bad_flavor)
    assert flavor.json() == {
        "badRequest": {"code": 400, "message": "Flavor 99 could not be found."}
    }
    marker = raw("GET", "/compute/v2.1/servers/detail?marker=abc", "2.100")
    assert marker.json() == {"badRequest": {"code": 400, "message": "marker [abc] not found"}}
    since = raw("GET", "/compute/v2.1/servers?changes-since=yesterday", "2.100")
    assert since.json()["badRequest"]["message"] == (
        "Invalid input for query parameters changes-since. Value: yesterday. "
        "'yesterday' is not a 'date-time'"
    )
    unknown = raw("POST", action_path, "2.100", json={"fooBar": None})
    assert unknown.json()["badRequest"]["message"] == "There is no such action: fooBar"
    assert raw("GET", "/compute/v2.1/servers?status=FOO").json() == {
        "badRequest": {"code": 400, "message": "Invalid status value"}
    }


def test_microversion_is_negotiated_and_echoed(raw: Raw) -> None:
    response = raw("GET", "/compute/v2.1/servers", "2.50")
    assert response.headers["OpenStack-API-Version"] == "compute 2.50"
    assert response.headers["X-OpenStack-Nova-API-Version"] == "2.50"
    assert response.headers["Vary"] == "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
    legacy = raw("GET", "/compute/v2.1/servers", headers={"X-OpenStack-Nova-API-Version": "2.5"})
    assert legacy.headers["OpenStack-API-Version"] == "compute 2.5"
    too_new = raw("GET", "/compute/v2.1/servers", "2.200")
    assert too_new.status_code == 406
    assert too_new.json() == {
        "computeFault": {
            "code": 406,
            "message": "Version 2.200 is not supported by the API. "
            "Minimum is 2.1 and maximum is 2.100.",
        }
    }
    root = raw("GET", "/compute/")
    assert [v["id"] for v in root.json()["versions"]] == ["v2.0", "v2.1"]
    assert "OpenStack-API-Version" not in root.headers


def test_server_body_follows_microversion(raw: Raw) -> None:
    server = boot(raw, version="2.1", networks="auto")
    path = f"/compute/v2.1/servers/{server['id']}"
    old = raw("GET", path, "2.1").json()["server"]
    new = raw("GET", path, "2.100").json()["server"]
    assert set(old["flavor"]) == {"id", "links"}
    assert new["flavor"]["original_name"] == "m1.tiny"
    assert "locked" not in old
    assert new["locked"] is False
    assert {"description", "tags", "server_groups", "scheduler_hints"} <= set(new)
    assert server["adminPass"]
    assert server["OS-DCF:diskConfig"] == "MANUAL"


def test_create_without_networks_is_400_from_2_37(raw: Raw) -> None:
    spec = {"name": "x", "imageRef": "x", "flavorRef": "1"}
    response = raw("POST", "/compute/v2.1/servers", "2.37", json={"server": spec})
    assert response.status_code == 400
    assert "'networks' is a required property" in response.json()["badRequest"]["message"]


@pytest.mark.fake_cloud(
    seed=3,
    scenario=Scenario(seed=3, default=Timing(0.1), timings={"server.snapshot": Timing(0.3)}),
)
def test_create_image_snapshot_reaches_active_in_glance(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    server = _wait(fake_conn, _create(fake_conn, fake_cloud))
    image = fake_conn.compute.create_server_image(server, "snap", wait=False)
    assert fake_conn.compute.get_server(server).task_state == "image_snapshot_pending"
    assert fake_conn.image.get_image(image).status == "queued"
    done = fake_conn.image.wait_for_status(image, "active", interval=0.02, wait=5)
    assert done.properties["image_type"] == "snapshot"
    assert fake_conn.compute.get_server(server).task_state is None


@pytest.mark.fake_cloud(seed=3, clock=ManualClock, scenario=FAST)
def test_create_image_answers_location_before_2_45_and_body_after(
    fake_cloud: FakeCloud, raw: Raw
) -> None:
    server = boot(raw)
    fake_cloud.advance(1)
    path = f"/compute/v2.1/servers/{server['id']}/action"
    old = raw("POST", path, "2.44", json={"createImage": {"name": "one"}})
    assert old.status_code == 202
    # Nova's glance.generate_image_url: the image endpoint, unversioned, and /images/.
    assert old.headers["Location"].startswith(f"{fake_cloud.base_url}/image/images/")
    busy = raw("POST", path, "2.45", json={"createImage": {"name": "two"}})
    assert busy.status_code == 409
    fake_cloud.advance(1)
    new = raw("POST", path, "2.45", json={"createImage": {"name": "two"}})
    assert set(new.json()) == {"image_id"}


#: A cloud without block storage, where compute attaches any volume id.
NO_CINDER = tuple(spec for spec in SERVICES if spec.service_type != "block-storage")


@pytest.mark.fake_cloud(seed=3, clock=ManualClock, scenario=FAST, services=NO_CINDER)
def test_volume_attachments(
    fake_cloud: FakeCloud, fake_conn: connection.Connection, raw: Raw
) -> None:
    server = boot(raw)
    volume_id = "5f6c8f4e-8d26-4c4f-9f55-1b1b2c0c7a11"
    path = f"/compute/v2.1/servers/{server['id']}/os-volume_attachments"
    early = raw("POST", path, "2.100", json={"volumeAttachment": {"volumeId": volume_id}})
    assert early.status_code == 409
    fake_cloud.advance(1)
    attached = fake_conn.compute.create_volume_attachment(server["id"], volume_id=volume_id)
    assert attached.device == "/dev/vdb"
    listed = fake_conn.compute.volume_attachments(server["id"])
    assert [a.volume_id for a in listed] == [volume_id]
    shown = raw("GET", f"/compute/v2.1/servers/{server['id']}", "2.100").json()["server"]
    assert shown["os-extended-volumes:volumes_attached"] == [
        {"id": volume_id, "delete_on_termination": False}
    ]
    assert raw("DELETE", f"{path}/{volume_id}", "2.100").status_code == 202
    assert raw("GET", path, "2.100").json() == {"volumeAttachments": []}


@pytest.mark.fake_cloud(seed=3, clock=ManualClock, scenario=FAST)
def test_a_build_request_answers_as_nova_does_until_it_is_scheduled(
    fake_cloud: FakeCloud, raw: Raw
) -> None:
    server = boot(raw)
    path = f"/compute/v2.1/servers/{server['id']}"
    stop = raw("POST", f"{path}/action", "2.100", json={"os-stop": None})
    assert (stop.status_code, stop.json()["itemNotFound"]["message"]) == (
        404,
        f"Instance {server['id']} could not be found.",
    )
    reboot = raw("POST", f"{path}/action", "2.100", json={"reboot": {"type": "SOFT"}})
    assert reboot.status_code == 409
    shown = raw("GET", path, "2.100").json()["server"]
    assert shown["OS-EXT-SRV-ATTR:instance_name"] == ""
    later = "/compute/v2.1/servers?changes-since=2999-01-01T00:00:00Z"
    assert [s["id"] for s in raw("GET", later, "2.100").json()["servers"]] == [server["id"]]
    fake_cloud.advance(0.05)  # scheduled (15% of 0.1 s): an instance in a cell now
    assert raw("GET", path, "2.100").json()["server"]["OS-EXT-SRV-ATTR:instance_name"]
    assert raw("GET", later, "2.100").json()["servers"] == []
    unknown = raw("POST", "/compute/v2.1/servers/no-such/action", "2.100", json={"os-start": None})
    assert unknown.json()["itemNotFound"]["message"] == "Instance no-such has no mapping to a cell."


@pytest.mark.fake_cloud(seed=3, clock=ManualClock, scenario=FAST)
def test_a_zone_and_a_forced_host_are_read_as_nova_reads_them(
    fake_cloud: FakeCloud, raw: Raw
) -> None:
    placed = boot(raw, "placed", availability_zone="nova:compute2")
    lost = boot(raw, "lost", availability_zone="nova:nowhere")
    image_id = fake_cloud.backend("image").default_image_id
    spec = {"name": "x", "imageRef": image_id, "flavorRef": "1", "networks": "none"}
    spec["availability_zone"] = "elsewhere"
    nowhere = raw("POST", "/compute/v2.1/servers", "2.100", json={"server": spec})
    assert nowhere.json() == {
        "badRequest": {"code": 400, "message": "The requested availability zone is not available"}
    }
    fake_cloud.advance(1)
    shown = raw("GET", f"/compute/v2.1/servers/{placed['id']}", "2.100").json()["server"]
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", "compute2")
    assert shown["pinned_availability_zone"] == "nova"
    failed = raw("GET", f"/compute/v2.1/servers/{lost['id']}", "2.100").json()["server"]
    assert (failed["status"], failed["OS-EXT-SRV-ATTR:host"]) == ("ERROR", None)
    assert failed["fault"]["message"] == (
        "No valid host was found. No such host - host: nowhere node: None "
    )


@pytest.mark.fake_cloud(seed=3, clock=ManualClock, scenario=FAST)
def test_a_rebuild_answers_nova_short_view_before_2_75(fake_cloud: FakeCloud, raw: Raw) -> None:
    server = boot(raw)
    fake_cloud.advance(1)
    image_id = fake_cloud.backend("image").default_image_id
    path = f"/compute/v2.1/servers/{server['id']}/action"
    old = raw("POST", path, "2.1", json={"rebuild": {"imageRef": image_id}})
    assert old.status_code == 202
    assert old.headers["Location"].endswith(f"/compute/v2.1/servers/{server['id']}")
    assert not [k for k in old.json()["server"] if k.startswith(("OS-EXT-", "OS-SRV-USG"))]
    fake_cloud.advance(1)
    new = raw("POST", path, "2.100", json={"rebuild": {"imageRef": image_id}}).json()["server"]
    assert new["OS-EXT-STS:task_state"] == "rebuilding"
    assert "user_data" in new and "OS-EXT-SRV-ATTR:user_data" not in new
    bad = raw("POST", path, "2.100", json={"resize": {"flavorRef": "no-such"}})
    assert bad.status_code == 409  # still rebuilding: the state is checked first
    fake_cloud.advance(1)
    bad = raw("POST", path, "2.100", json={"resize": {"flavorRef": "no-such"}})
    assert (bad.status_code, bad.json()["badRequest"]["message"]) == (
        400,
        "Flavor no-such could not be found.",
    )
