"""Glance: create, upload, import, delete, paging and error shapes."""

from __future__ import annotations

import pytest
from openstack import connection

from osfutures.testing import FakeCloud, ManualClock, Scenario

from .conftest import Raw

pytestmark = pytest.mark.fake_cloud(clock=ManualClock, scenario=Scenario.fast(duration=1.0))


def _create(raw: Raw, name: str = "img") -> str:
    body = {"name": name, "disk_format": "qcow2", "container_format": "bare", "os_distro": "x"}
    response = raw("POST", "/image/v2/images", json=body)
    assert response.status_code == 201
    image = response.json()
    assert (image["status"], image["os_distro"], image["visibility"]) == ("queued", "x", "shared")
    image_id: str = image["id"]
    return image_id


def test_upload_goes_saving_then_active(fake_cloud: FakeCloud, raw: Raw) -> None:
    image_id = _create(raw)
    path = f"/image/v2/images/{image_id}"
    upload = raw(
        "PUT",
        f"{path}/file",
        data=b"data" * 10,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert upload.status_code == 204
    assert raw("GET", path).json()["status"] == "saving"
    fake_cloud.advance(1)
    image = raw("GET", path).json()
    assert (image["status"], image["size"]) == ("active", 40)
    assert raw("GET", f"{path}/file").content == b"data" * 10
    again = raw("PUT", f"{path}/file", data=b"x")
    assert again.status_code == 409


def test_stage_and_import(fake_cloud: FakeCloud, raw: Raw) -> None:
    image_id = _create(raw)
    path = f"/image/v2/images/{image_id}"
    assert raw("PUT", f"{path}/stage", data=b"abc").status_code == 204
    assert raw("GET", path).json()["status"] == "uploading"
    body = {"method": {"name": "glance-direct"}}
    assert raw("POST", f"{path}/import", json=body).status_code == 202
    assert raw("GET", path).json()["status"] == "importing"
    fake_cloud.advance(1)
    assert raw("GET", path).json()["status"] == "active"


def test_delete_then_404_in_glance_shape(raw: Raw) -> None:
    image_id = _create(raw)
    assert raw("DELETE", f"/image/v2/images/{image_id}").status_code == 204
    missing = raw("GET", f"/image/v2/images/{image_id}", headers={"Accept": "application/json"})
    assert missing.status_code == 404
    assert missing.json() == {
        "message": f"No image found with ID {image_id}<br /><br />\n\n\n",
        "code": "404 Not Found",
        "title": "Not Found",
    }
    html = raw("GET", f"/image/v2/images/{image_id}", headers={"Accept": "text/html"})
    assert html.headers["Content-Type"].startswith("text/html")


def test_sdk_lists_all_pages(
    fake_cloud: FakeCloud, fake_conn: connection.Connection, raw: Raw
) -> None:
    for i in range(4):
        _create(raw, f"img{i}")
        fake_cloud.advance(0.01)
    page = raw("GET", "/image/v2/images?limit=2").json()
    assert page["next"].startswith("/v2/images?limit=2&marker=")
    names = [image.name for image in fake_conn.image.images(limit=2)]
    assert names == ["img3", "img2", "img1", "img0", "cirros-0.6.2-x86_64-disk"]


def test_in_operator_lists_exactly_those_ids(fake_conn: connection.Connection) -> None:
    made = [
        fake_conn.image.create_image(
            name=f"i{i}", data=b"x", disk_format="raw", container_format="bare"
        ).id
        for i in range(3)
    ]
    listed = {i.id for i in fake_conn.image.images(id="in:" + ",".join(made[:2]))}
    assert listed == set(made[:2])
