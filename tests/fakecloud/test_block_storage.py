"""Cinder through unmodified openstacksdk, and cinder's wire format checked raw."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from openstack import connection, exceptions

from osfutures.testing import Credentials, FakeCloud, ManualClock, Scenario

from .conftest import Raw, boot

FAST = Scenario.fast(seed=5, duration=0.1)
#: A manual clock: each test moves time itself, so transient states can be asserted.
MANUAL = pytest.mark.fake_cloud(clock=ManualClock, scenario=FAST)
pytestmark = pytest.mark.fake_cloud(scenario=FAST)


class Cinder:
    """Raw requests under ``/volume/v3/{project_id}`` with a volume microversion."""

    def __init__(self, raw: Raw) -> None:
        self.raw = raw
        token = raw("GET", "/identity/v3/auth/tokens", headers={"X-Subject-Token": raw.token})
        self.project_id: str = token.json()["token"]["project"]["id"]

    def __call__(
        self, method: str, path: str, version: str | None = "3.71", **kwargs: Any
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if version:
            headers["OpenStack-API-Version"] = f"volume {version}"
        url = f"/volume/v3/{self.project_id}{path}"
        return self.raw(method, url, headers=headers, **kwargs)

    def create(self, name: str = "vol", size: int = 1, **extra: Any) -> dict[str, Any]:
        response = self("POST", "/volumes", json={"volume": {"size": size, "name": name, **extra}})
        assert response.status_code == 202, response.text
        volume: dict[str, Any] = response.json()["volume"]
        return volume

    def status(self, collection: str, item_id: str) -> str:
        key = collection.rstrip("s")
        status: str = self("GET", f"/{collection}/{item_id}").json()[key]["status"]
        return status


@pytest.fixture
def cinder(raw: Raw) -> Cinder:
    """A raw cinder client of ``fake_cloud``."""
    return Cinder(raw)


def _wait(conn: connection.Connection, resource: Any, status: str = "available") -> Any:
    return conn.block_storage.wait_for_status(resource, status, interval=0.02, wait=5)


def _volume(conn: connection.Connection, name: str = "vol", size: int = 1) -> Any:
    return _wait(conn, conn.block_storage.create_volume(size=size, name=name))


def _bad_request(message: str) -> dict[str, Any]:
    return {"badRequest": {"code": 400, "message": message}}


# -- discovery and framing ---------------------------------------------------------------


def test_sdk_discovers_project_endpoint_and_top_microversion(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    endpoint = fake_conn.block_storage.get_endpoint()
    assert endpoint == f"{fake_cloud.base_url}/volume/v3/{fake_conn.current_project_id}"
    volume = fake_conn.block_storage.create_volume(size=1, name="v")
    # volume_type_id only appears from 3.63: the SDK negotiated its own maximum, 3.71.
    assert volume.volume_type_id == "5fed9d7c-401d-46e2-8e80-f30c70cb7e1d"
    assert volume.status == "creating"


def test_version_documents(fake_cloud: FakeCloud, raw: Raw) -> None:
    root = raw("GET", "/volume/")
    assert root.status_code == 300
    (v3,) = root.json()["versions"]
    assert (v3["id"], v3["version"], v3["min_version"]) == ("v3.0", "3.71", "3.0")
    assert v3["links"][-1] == {"rel": "self", "href": f"{fake_cloud.base_url}/volume/v3/"}
    assert root.headers["OpenStack-API-Version"] == "volume 3.0"
    versioned = raw("GET", "/volume/v3/")
    assert versioned.status_code == 200
    assert versioned.json() == root.json()


def test_microversion_is_echoed_and_checked(cinder: Cinder) -> None:
    echoed = cinder("GET", "/volumes", "3.50")
    assert echoed.headers["OpenStack-API-Version"] == "volume 3.50"
    assert echoed.headers["Vary"] == "OpenStack-API-Version"
    assert cinder("GET", "/volumes", None).headers["OpenStack-API-Version"] == "volume 3.0"
    latest = cinder("GET", "/volumes", "latest")
    assert latest.headers["OpenStack-API-Version"] == "volume 3.71"
    too_new = cinder("GET", "/volumes", "3.99")
    assert too_new.status_code == 406
    assert too_new.json() == {
        "computeFault": {
            "code": 406,
            "message": "Version 3.99 is not supported by the API. "
            "Minimum is 3.0 and maximum is 3.71.",
        }
    }
    assert too_new.headers["OpenStack-API-Version"] == "volume 3.99"
    malformed = cinder("GET", "/volumes", "3.x")
    assert malformed.json() == _bad_request(
        "API Version String 3.x is of invalid format. Must be of format MajorNum.MinorNum."
    )
    assert "OpenStack-API-Version" not in malformed.headers


def test_url_of_another_project_is_malformed(cinder: Cinder, raw: Raw) -> None:
    response = raw("GET", "/volume/v3/someone-else/volumes")
    assert response.json() == _bad_request("Malformed request url")


# -- volumes -----------------------------------------------------------------------------


def test_volume_creates_to_available(fake_conn: connection.Connection) -> None:
    volume = _volume(fake_conn, size=2)
    assert (volume.size, volume.volume_type, volume.is_bootable) == (2, "__DEFAULT__", False)
    assert volume.host == "fakecloud@lvmdriver-1#lvmdriver-1"
    assert volume.attachments == []
    assert volume.project_id == fake_conn.current_project_id
    assert volume.created_at < volume.updated_at


def test_failing_and_stuck_names(fake_conn: connection.Connection) -> None:
    failing = fake_conn.block_storage.create_volume(size=1, name="will-fail")
    stuck = fake_conn.block_storage.create_volume(size=1, name="stuck-1")
    with pytest.raises(exceptions.ResourceFailure):
        _wait(fake_conn, failing)
    failed = fake_conn.block_storage.get_volume(failing)
    assert (failed.status, failed.host) == ("error", None)
    assert fake_conn.block_storage.get_volume(stuck).status == "creating"
    fake_conn.block_storage.delete_volume(failed)
    fake_conn.block_storage.wait_for_delete(failed, interval=0.02, wait=5)


def test_delete_goes_through_deleting_then_404(
    fake_conn: connection.Connection, cinder: Cinder
) -> None:
    volume = _volume(fake_conn)
    fake_conn.block_storage.delete_volume(volume)
    assert fake_conn.block_storage.get_volume(volume).status == "deleting"
    fake_conn.block_storage.wait_for_delete(volume, interval=0.02, wait=5)
    gone = cinder("GET", f"/volumes/{volume.id}")
    assert gone.status_code == 404
    assert gone.json() == {
        "itemNotFound": {"code": 404, "message": f"Volume {volume.id} could not be found."}
    }
    assert list(fake_conn.block_storage.volumes()) == []


@MANUAL
def test_list_filters_and_pages(fake_cloud: FakeCloud, cinder: Cinder) -> None:
    ids = []
    for name in ("a", "b", "fail-c"):
        ids.append(cinder.create(name)["id"])
        fake_cloud.advance(0.01)
    fake_cloud.advance(1)
    first = cinder("GET", "/volumes?limit=2").json()
    assert [v["id"] for v in first["volumes"]] == ids[::-1][:2]
    assert set(first["volumes"][0]) == {"id", "name", "links"}
    (link,) = first["volumes_links"]
    base = f"{fake_cloud.base_url}/volume/v3/{cinder.project_id}"
    assert link == {"rel": "next", "href": f"{base}/volumes?limit=2&marker={ids[1]}"}
    rest = cinder("GET", f"/volumes/detail?limit=2&marker={ids[1]}").json()
    assert [v["name"] for v in rest["volumes"]] == ["a"]
    assert "volumes_links" not in rest
    errored = cinder("GET", "/volumes/detail?status=error").json()["volumes"]
    assert [v["name"] for v in errored] == ["fail-c"]
    assert [v["id"] for v in cinder("GET", "/volumes?name=b").json()["volumes"]] == [ids[1]]
    counted = cinder("GET", "/volumes?with_count=true&limit=1").json()
    assert counted["count"] == 3
    marker = cinder("GET", "/volumes?marker=nope")
    assert marker.status_code == 404
    assert cinder("GET", "/volumes?limit=x").json() == _bad_request(
        "limit param must be an integer"
    )


@MANUAL
def test_volume_body_follows_microversion_and_role(fake_cloud: FakeCloud, cinder: Cinder) -> None:
    created = cinder.create("v")
    assert created["status"] == "creating"
    assert created["updated_at"] is None
    assert "os-vol-host-attr:host" not in created
    path = f"/volumes/{created['id']}"
    old = cinder("GET", path, "3.0").json()["volume"]
    new = cinder("GET", path, "3.71").json()["volume"]
    assert not {"group_id", "volume_type_id", "consumes_quota", "shared_targets"} & set(old)
    assert new["volume_type_id"] == "5fed9d7c-401d-46e2-8e80-f30c70cb7e1d"
    assert (new["consumes_quota"], new["group_id"], new["service_uuid"]) == (True, None, None)
    assert new["os-vol-tenant-attr:tenant_id"] == cinder.project_id
    assert new["links"][1]["href"].endswith(f"/volume/{cinder.project_id}{path}")
    fake_cloud.advance(1)
    settled = cinder("GET", path).json()["volume"]
    assert settled["updated_at"] > settled["created_at"]
    assert "T" in settled["created_at"] and not settled["created_at"].endswith("Z")


@pytest.mark.fake_cloud(
    scenario=FAST,
    users=[Credentials("demo", "secret", "demo", roles=("member", "reader"))],
)
def test_non_admin_sees_less_and_may_filter_less(cinder: Cinder) -> None:
    volume = cinder.create()
    shown = cinder("GET", f"/volumes/{volume['id']}").json()["volume"]
    assert "os-vol-host-attr:host" not in shown and "migration_status" not in shown
    assert shown["os-vol-tenant-attr:tenant_id"] == cinder.project_id
    assert cinder("GET", "/volumes?host=x").json() == _bad_request(
        "Invalid filters host are found in query options."
    )
    types = {t["name"]: t for t in cinder("GET", "/types").json()["volume_types"]}
    assert types["lvmdriver-1"]["extra_specs"] == {}
    assert "qos_specs_id" not in types["lvmdriver-1"]


def test_extend_grows_through_extending(fake_conn: connection.Connection, cinder: Cinder) -> None:
    volume = _volume(fake_conn)
    fake_conn.block_storage.extend_volume(volume, 3)
    assert fake_conn.block_storage.get_volume(volume).status == "extending"
    assert _wait(fake_conn, volume).size == 3
    action = f"/volumes/{volume.id}/action"
    same = cinder("POST", action, json={"os-extend": {"new_size": 3}})
    assert same.json() == _bad_request(
        "Invalid input received: New size for extend must be greater than current size. "
        "(current: 3, extended: 3)."
    )
    fake_conn.block_storage.extend_volume(volume, 4)
    busy = cinder("POST", action, json={"os-extend": {"new_size": 5}})
    assert busy.json() == _bad_request(
        f"Invalid volume: Volume {volume.id} status must be '{{'status': 'available'}}' "
        "to extend, currently extending."
    )


def test_retype_changes_type(fake_conn: connection.Connection, cinder: Cinder) -> None:
    volume = _volume(fake_conn)
    fake_conn.block_storage.retype_volume(volume, "lvmdriver-1")
    assert fake_conn.block_storage.get_volume(volume).status == "retyping"
    assert _wait(fake_conn, volume).volume_type == "lvmdriver-1"
    action = f"/volumes/{volume.id}/action"
    same = cinder("POST", action, json={"os-retype": {"new_type": "lvmdriver-1"}})
    assert same.status_code == 400
    assert same.json()["badRequest"]["message"].startswith(
        "Invalid volume: Retype needs volume to be in available or in-use state"
    )
    unknown = cinder("POST", action, json={"os-retype": {"new_type": "gold"}})
    assert unknown.json() == {
        "itemNotFound": {"code": 404, "message": "Volume type with name gold could not be found."}
    }
    types = {t.name: t for t in fake_conn.block_storage.types()}
    assert types["lvmdriver-1"].extra_specs == {"volume_backend_name": "lvmdriver-1"}


def test_request_validation_matches_cinder(cinder: Cinder) -> None:
    assert cinder("POST", "/volumes", json={"volume": {"name": "x"}}).json() == _bad_request(
        "Invalid input received: Volume size 'None' must be an integer and greater than 0"
    )
    bad_size = cinder("POST", "/volumes", json={"volume": {"size": "big"}})
    assert bad_size.json() == _bad_request(
        "Invalid input for field/attribute size. Value: big. 'big' does not match '^[0-9]+$'"
    )
    assert cinder("POST", "/volumes", json={}).json() == _bad_request(
        "'volume' is a required property"
    )
    volume = cinder.create()
    action = f"/volumes/{volume['id']}/action"
    assert cinder("POST", action, json={"os-frobnicate": {}}).json() == _bad_request(
        "There is no such action: os-frobnicate. Verify the request body and Content-Type "
        "header and try again."
    )
    assert cinder(
        "POST", action, data=b"{", headers={"Content-Type": "application/json"}
    ).json() == (_bad_request("Malformed request body"))


# -- attachments through compute ---------------------------------------------------------


def test_attach_through_compute_makes_volume_in_use(
    fake_conn: connection.Connection, cinder: Cinder, raw: Raw
) -> None:
    server = fake_conn.compute.wait_for_server(
        fake_conn.compute.get_server(boot(raw)["id"]), interval=0.02, wait=5
    )
    volume = _volume(fake_conn)
    attached = fake_conn.compute.create_volume_attachment(server, volume_id=volume.id)
    assert fake_conn.block_storage.get_volume(volume).status in ("reserved", "attaching")
    in_use = _wait(fake_conn, volume, "in-use")
    (attachment,) = in_use.attachments
    assert (attachment["server_id"], attachment["device"]) == (server.id, attached.device)
    refused = cinder("DELETE", f"/volumes/{volume.id}")
    assert refused.json()["badRequest"]["message"].startswith(
        "Invalid volume: Volume status must be available or error or error_restoring or "
        "error_extending or error_managing and must not be migrating, attached"
    )
    other = boot(raw, "other")
    _wait_server(fake_conn, other["id"])
    path = f"/compute/v2.1/servers/{other['id']}/os-volume_attachments"
    again = raw("POST", path, "2.100", json={"volumeAttachment": {"volumeId": volume.id}})
    assert again.status_code == 400
    assert again.json()["badRequest"]["message"].startswith(
        f"Invalid input received: Invalid volume: Volume {volume.id} status must be available "
        "or downloading to reserve, but the current status is in-use. (HTTP 400)"
    )
    fake_conn.compute.delete_volume_attachment(server, volume)
    assert fake_conn.block_storage.get_volume(volume).status == "detaching"
    assert _wait(fake_conn, volume).attachments == []


def test_attach_of_unknown_volume_is_404(fake_conn: connection.Connection, raw: Raw) -> None:
    server = boot(raw)
    _wait_server(fake_conn, server["id"])
    volume_id = "5f6c8f4e-8d26-4c4f-9f55-1b1b2c0c7a11"
    path = f"/compute/v2.1/servers/{server['id']}/os-volume_attachments"
    missing = raw("POST", path, "2.100", json={"volumeAttachment": {"volumeId": volume_id}})
    assert missing.json() == {
        "itemNotFound": {"code": 404, "message": f"Volume {volume_id} could not be found."}
    }


def test_deleting_the_server_frees_its_volume(fake_conn: connection.Connection, raw: Raw) -> None:
    server = _wait_server(fake_conn, boot(raw)["id"])
    volume = _volume(fake_conn)
    fake_conn.compute.create_volume_attachment(server, volume_id=volume.id)
    _wait(fake_conn, volume, "in-use")
    fake_conn.compute.delete_server(server)
    assert fake_conn.block_storage.get_volume(volume).status == "in-use"
    assert _wait(fake_conn, volume).attachments == []


def _wait_server(conn: connection.Connection, server_id: str) -> Any:
    return conn.compute.wait_for_server(conn.compute.get_server(server_id), interval=0.02, wait=5)


# -- snapshots ---------------------------------------------------------------------------


def test_snapshot_lifecycle_and_cascade(fake_conn: connection.Connection, cinder: Cinder) -> None:
    volume = _volume(fake_conn)
    snapshot = fake_conn.block_storage.create_snapshot(volume_id=volume.id, name="snap")
    assert (snapshot.status, snapshot.size) == ("creating", 1)
    done = _wait(fake_conn, snapshot)
    assert (done.progress, done.volume_id) == ("100%", volume.id)
    assert [s.id for s in fake_conn.block_storage.snapshots(volume_id=volume.id)] == [done.id]
    refused = cinder("DELETE", f"/volumes/{volume.id}")
    assert refused.status_code == 400
    assert cinder("DELETE", f"/volumes/{volume.id}?cascade=true").status_code == 202
    assert fake_conn.block_storage.get_snapshot(done).status == "deleting"
    fake_conn.block_storage.wait_for_delete(done, interval=0.02, wait=5)
    fake_conn.block_storage.wait_for_delete(volume, interval=0.02, wait=5)


def test_snapshot_of_in_use_volume_needs_force(
    fake_conn: connection.Connection, cinder: Cinder, raw: Raw
) -> None:
    server = _wait_server(fake_conn, boot(raw)["id"])
    volume = _volume(fake_conn)
    fake_conn.compute.create_volume_attachment(server, volume_id=volume.id)
    _wait(fake_conn, volume, "in-use")
    body = {"snapshot": {"volume_id": volume.id}}
    refused = cinder("POST", "/snapshots", "3.65", json=body)
    assert refused.json() == _bad_request(
        f"Invalid volume: Volume {volume.id} status must be available, but current status "
        "is: in-use."
    )
    forced = fake_conn.block_storage.create_snapshot(volume_id=volume.id, is_forced=True)
    assert _wait(fake_conn, forced).status == "available"
    # From 3.66 an in-use volume needs no force, and force=False is refused.
    assert cinder("POST", "/snapshots", "3.66", json=body).status_code == 202
    no_force = {"snapshot": {"volume_id": volume.id, "force": False}}
    assert cinder("POST", "/snapshots", "3.66", json=no_force).status_code == 400
    busy = fake_conn.block_storage.create_snapshot(volume_id=volume.id, is_forced=True)
    gone = cinder("DELETE", f"/snapshots/{busy.id}")
    assert gone.json() == _bad_request(
        "Invalid snapshot: Snapshot status must be available or error and must not be part "
        "of a group."
    )


# -- backups -----------------------------------------------------------------------------


def test_backup_then_restore_onto_the_volume(
    fake_conn: connection.Connection, cinder: Cinder
) -> None:
    volume = _volume(fake_conn)
    backup = fake_conn.block_storage.create_backup(volume_id=volume.id, name="b1")
    assert fake_conn.block_storage.get_volume(volume).status == "backing-up"
    done = _wait(fake_conn, backup)
    assert (done.size, done.container, done.is_incremental) == (1, "volumebackups", False)
    assert done.object_count == 21
    assert _wait(fake_conn, volume).status == "available"
    restored = cinder(
        "POST", f"/backups/{backup.id}/restore", json={"restore": {"volume_id": volume.id}}
    )
    assert restored.status_code == 202
    assert restored.json() == {
        "restore": {"backup_id": backup.id, "volume_id": volume.id, "volume_name": "vol"}
    }
    assert fake_conn.block_storage.get_volume(volume).status == "restoring-backup"
    assert fake_conn.block_storage.get_backup(backup).status == "restoring"
    _wait(fake_conn, volume)
    assert _wait(fake_conn, backup).status == "available"


def test_restore_with_a_name_creates_the_volume(fake_conn: connection.Connection) -> None:
    source = _volume(fake_conn, size=2)
    backup = _wait(fake_conn, fake_conn.block_storage.create_backup(volume_id=source.id))
    restored = fake_conn.block_storage.restore_backup(backup, name="copy")
    assert restored.volume_name == "copy"
    target = fake_conn.block_storage.get_volume(restored.volume_id)
    assert (target.status, target.size) == ("creating", 2)
    assert target.description == "auto-created_from_restore_from_backup"
    assert _wait(fake_conn, target).name == "copy"


@MANUAL
def test_backup_refusals(fake_cloud: FakeCloud, cinder: Cinder) -> None:
    volume = cinder.create(size=2)
    creating = cinder("POST", "/backups", json={"backup": {"volume_id": volume["id"]}})
    assert creating.json() == _bad_request(
        "Invalid volume: Volume to be backed up must be available or in-use, but the current "
        'status is "creating".'
    )
    fake_cloud.advance(1)
    incremental = {"backup": {"volume_id": volume["id"], "incremental": True}}
    assert cinder("POST", "/backups", json=incremental).json() == _bad_request(
        "Invalid backup: No backups available to do an incremental backup."
    )
    backup = cinder("POST", "/backups", json={"backup": {"volume_id": volume["id"]}}).json()
    assert set(backup["backup"]) == {"id", "name", "links"}
    backup_id = backup["backup"]["id"]
    assert cinder("DELETE", f"/backups/{backup_id}").json() == _bad_request(
        "Invalid backup: Backup status must be available or error"
    )
    fake_cloud.advance(1)
    small = cinder.create("small", size=1)
    fake_cloud.advance(1)
    onto_small = cinder(
        "POST", f"/backups/{backup_id}/restore", json={"restore": {"volume_id": small["id"]}}
    )
    assert onto_small.json() == _bad_request(
        "Invalid volume: volume size 1 is too small to restore backup of size 2."
    )
    delta = cinder("POST", "/backups", json=incremental).json()["backup"]["id"]
    fake_cloud.advance(1)
    assert cinder("GET", f"/backups/{delta}").json()["backup"]["is_incremental"] is True
    assert cinder("DELETE", f"/backups/{backup_id}").json() == _bad_request(
        "Invalid backup: Incremental backups exist for this backup."
    )
    assert cinder("DELETE", f"/backups/{delta}").status_code == 202
    assert cinder.status("backups", delta) == "deleting"


@MANUAL
def test_failed_backup_keeps_a_reason_and_frees_the_volume(
    fake_cloud: FakeCloud, cinder: Cinder
) -> None:
    volume = cinder.create()
    fake_cloud.advance(1)
    body = {"backup": {"volume_id": volume["id"], "name": "fail-backup"}}
    backup_id = cinder("POST", "/backups", json=body).json()["backup"]["id"]
    assert cinder.status("volumes", volume["id"]) == "backing-up"
    fake_cloud.advance(1)
    failed = cinder("GET", f"/backups/{backup_id}").json()["backup"]
    assert (failed["status"], failed["fail_reason"]) == ("error", "Backup failed.")
    assert cinder.status("volumes", volume["id"]) == "available"


# -- accounting --------------------------------------------------------------------------


@MANUAL
def test_transitions_are_accounted(fake_cloud: FakeCloud, cinder: Cinder) -> None:
    volume = cinder.create()
    fake_cloud.advance(1)
    cinder("POST", f"/volumes/{volume['id']}/action", json={"os-extend": {"new_size": 2}})
    fake_cloud.advance(1)
    stats = fake_cloud.stats()
    history = stats["transitions"]["volume"][volume["id"]]
    states = [entry["state"] for entry in history]
    assert states == ["creating", "available", "extending", "available"]
    assert [entry["at"] for entry in history] == [0.0, 0.1, 1.0, 1.1]
    assert stats["requests"]["POST /volume/v3/{project_id}/volumes/{volume_id}/action"] == 1
