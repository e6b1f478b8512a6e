"""Manila through unmodified openstacksdk, and manila's wire format checked raw."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack import connection, exceptions

from osfutures.testing import FakeCloud, ManualClock, Scenario

from .conftest import Raw

pytestmark = pytest.mark.fake_cloud(scenario=Scenario.fast(duration=0.1))
MANUAL = pytest.mark.fake_cloud(clock=ManualClock, scenario=Scenario.fast(duration=1))


@pytest.fixture
def manila(fake_cloud: FakeCloud) -> Iterator[connection.Connection]:
    """A connection that asks for 2.7, where ``extend`` and ``shrink`` are named so."""
    conn = fake_cloud.connect(shared_file_system_default_microversion="2.7")
    yield conn
    conn.close()


def _shares(raw: Raw, suffix: str = "") -> str:
    principal = raw.cloud.backend("identity").principal(raw.cloud.credentials.username)
    return f"/share/v2/{principal.project_id}/shares{suffix}"


def _wait(conn: connection.Connection, share: Any, status: str = "available") -> Any:
    return conn.shared_file_system.wait_for_status(
        share, status=status, failures=["error"], interval=0.02, wait=5
    )


def test_share_creates_resizes_and_deletes(manila: connection.Connection) -> None:
    sfs = manila.shared_file_system
    share = sfs.create_share(name="data", size=1, share_proto="NFS")
    assert share.status == "creating"
    share = _wait(manila, share)
    sfs.resize_share(share.id, 3)
    # wait_for_status returns at once if the object it is given already shows the status.
    extending = sfs.get_share(share.id)
    assert extending.status == "extending"
    assert _wait(manila, extending).size == 3
    sfs.resize_share(share.id, 2)
    shrinking = sfs.get_share(share.id)
    assert shrinking.status == "shrinking"
    assert _wait(manila, shrinking).size == 2
    assert [s.name for s in sfs.shares()] == ["data"]
    sfs.delete_share(share)
    assert sfs.get_share(share.id).status == "deleting"
    sfs.wait_for_delete(share, interval=0.02, wait=5)
    assert list(sfs.shares()) == []


def test_failing_name_ends_in_error(fake_conn: connection.Connection) -> None:
    share = fake_conn.shared_file_system.create_share(name="fail", size=1, share_proto="CIFS")
    with pytest.raises(exceptions.ResourceFailure):
        _wait(fake_conn, share)
    fake_conn.shared_file_system.delete_share(share)
    fake_conn.shared_file_system.wait_for_delete(share, interval=0.02, wait=5)


@MANUAL
def test_busy_share_refuses_delete_and_extend(fake_cloud: FakeCloud, raw: Raw) -> None:
    created = raw("POST", _shares(raw), json={"share": {"size": 1, "share_proto": "nfs"}})
    assert created.status_code == 200
    assert created.headers["X-OpenStack-Manila-API-Version"] == "2.0"
    share = created.json()["share"]
    assert (share["status"], share["share_proto"], share["export_locations"]) == (
        "creating",
        "NFS",
        [],
    )
    path = _shares(raw, f"/{share['id']}")
    refused = raw("DELETE", path)
    assert refused.status_code == 403
    assert refused.json() == {
        "forbidden": {
            "code": 403,
            "message": "Invalid share: Share status must be one of "
            "('available', 'error', 'inactive').",
        }
    }
    extend = raw("POST", f"{path}/action", json={"os-extend": {"new_size": 2}})
    assert extend.status_code == 400
    assert extend.json()["badRequest"]["message"] == (
        f"Invalid share: Share {share['id']} status must be 'available' to extend, but "
        "current status is: creating.."
    )
    fake_cloud.advance(1)
    too_small = raw("POST", f"{path}/action", json={"os-extend": {"new_size": 1}})
    assert too_small.json()["badRequest"]["message"] == (
        "Invalid input received: New size for extend must be greater than current size. "
        "(current: 1, extended: 1).."
    )
    # Before 2.7 the action is os-extend; "extend" exists only from 2.7 on.
    assert raw("POST", f"{path}/action", json={"extend": {"new_size": 2}}).status_code == 404
    assert raw("DELETE", path).status_code == 202
    fake_cloud.advance(1)
    missing = raw("GET", path)
    assert missing.status_code == 404
    assert missing.json() == {
        "itemNotFound": {"code": 404, "message": "The resource could not be found."}
    }


def test_microversions_and_versions(raw: Raw) -> None:
    root = raw("GET", "/share/")
    assert root.status_code == 300
    (v2,) = root.json()["versions"]
    assert (v2["id"], v2["min_version"], v2["version"]) == ("v2.0", "2.0", "2.99")
    assert raw("GET", "/share/v2/").status_code == 200
    body = {"share": {"size": 1, "share_proto": "NFS", "name": "x"}}
    latest = raw(
        "POST", _shares(raw), json=body, headers={"X-OpenStack-Manila-API-Version": "2.99"}
    )
    share = latest.json()["share"]
    assert latest.headers["X-OpenStack-Manila-API-Version"] == "2.99"
    assert "export_locations" not in share
    assert share["progress"] == "0%"
    too_new = raw("GET", _shares(raw), headers={"X-OpenStack-Manila-API-Version": "3.0"})
    assert too_new.status_code == 406
    bad = raw("GET", _shares(raw), headers={"X-OpenStack-Manila-API-Version": "two"})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("share", "message"),
    [
        (
            {"size": 0, "share_proto": "NFS"},
            "Invalid input received: Share size '0' must be an integer and greater than 0.",
        ),
        (
            {"size": 1, "share_proto": "AFP"},
            "Invalid input received: Invalid share protocol provided: AFP. It is either "
            "disabled or unsupported. Available protocols: ['NFS', 'CIFS'].",
        ),
    ],
)
def test_invalid_create_is_400(raw: Raw, share: dict[str, Any], message: str) -> None:
    response = raw("POST", _shares(raw), json={"share": share})
    assert response.status_code == 400
    assert response.json() == {"badRequest": {"code": 400, "message": message}}
