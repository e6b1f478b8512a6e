"""Keystone: discovery, both ways of connecting, wrong passwords, token expiry."""

from __future__ import annotations

from pathlib import Path

import openstack
import pytest
import requests
from keystoneauth1 import exceptions as ks_exceptions
from openstack import connection

from osfutures.testing import FakeCloud, ManualClock

from .conftest import Raw


def test_connect_with_auth_arguments_lists_flavors(fake_cloud: FakeCloud) -> None:
    creds = fake_cloud.credentials
    conn = openstack.connect(
        auth_url=fake_cloud.auth_url,
        username=creds.username,
        password=creds.password,
        project_name=creds.project_name,
        user_domain_name="Default",
        project_domain_name="Default",
    )
    assert "m1.tiny" in {flavor.name for flavor in conn.compute.flavors()}
    conn.close()


def test_connect_through_written_clouds_yaml(
    fake_cloud: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = fake_cloud.write_clouds_yaml(tmp_path / "clouds.yaml", cloud_name="fake")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    conn = openstack.connect(cloud="fake")
    assert [image.name for image in conn.image.images()] == ["cirros-0.6.2-x86_64-disk"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    conn.close()


def test_version_documents_are_as_keystone_sends_them(fake_cloud: FakeCloud) -> None:
    root = requests.get(fake_cloud.auth_url)
    assert root.status_code == 300
    (version,) = root.json()["versions"]["values"]
    assert version["id"].startswith("v3.")
    assert version["links"][0]["href"] == f"{fake_cloud.auth_url}/v3/"
    assert requests.get(f"{fake_cloud.auth_url}/v3").json()["version"]["status"] == "stable"


def test_token_body_has_catalog_built_from_registry(raw: Raw) -> None:
    url = f"{raw.cloud.auth_url}/v3/auth/tokens"
    headers = {"X-Auth-Token": raw.token, "X-Subject-Token": raw.token}
    response = raw.session.get(url, headers=headers)
    assert response.status_code == 200
    token = response.json()["token"]
    types = [entry["type"] for entry in token["catalog"]]
    assert types == [
        "identity",
        "compute",
        "image",
        "block-storage",
        "orchestration",
        "load-balancer",
        "shared-file-system",
    ]
    compute = next(e for e in token["catalog"] if e["type"] == "compute")
    assert compute["endpoints"][0]["url"] == f"{raw.cloud.base_url}/compute/v2.1"
    assert token["expires_at"].endswith("Z")


def test_every_registered_service_answers_through_openstacksdk(
    fake_conn: connection.Connection,
) -> None:
    # The default cloud of the fixtures serves the whole registry.
    assert list(fake_conn.block_storage.volumes()) == []
    assert list(fake_conn.orchestration.stacks()) == []
    assert list(fake_conn.load_balancer.load_balancers()) == []
    assert list(fake_conn.shared_file_system.shares()) == []
    assert fake_conn.block_storage.get_endpoint().endswith(
        "/volume/v3/" + fake_conn.current_project_id
    )


def test_wrong_password_is_401_with_keystone_body(fake_cloud: FakeCloud) -> None:
    conn = fake_cloud.connect(password="wrong")
    with pytest.raises(ks_exceptions.Unauthorized):
        list(conn.compute.flavors())
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"name": "Default"}, "password": "wrong"}
                },
            }
        }
    }
    response = requests.post(f"{fake_cloud.auth_url}/v3/auth/tokens", json=body)
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": 401,
            "title": "Unauthorized",
            "message": "The request you have made requires authentication.",
        }
    }


def test_service_call_without_valid_token_is_401_from_middleware(fake_cloud: FakeCloud) -> None:
    response = requests.get(
        f"{fake_cloud.base_url}/compute/v2.1/servers", headers={"X-Auth-Token": "nope"}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Keystone uri=")
    assert response.json()["error"]["code"] == 401


@pytest.mark.fake_cloud(clock=ManualClock, token_ttl=600)
def test_expired_token_gets_401_and_sdk_reauthenticates(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    list(fake_conn.compute.flavors())
    fake_cloud.advance(601)
    list(fake_conn.compute.flavors())
    stats = fake_cloud.stats()
    assert stats["requests"]["POST /identity/v3/auth/tokens"] == 2
    assert stats["statuses"]["GET /compute/v2.1/flavors/detail"] == {"200": 2, "401": 1}


def test_validating_an_unknown_token_is_404(raw: Raw) -> None:
    url = f"{raw.cloud.auth_url}/v3/auth/tokens"
    response = raw.session.get(url, headers={"X-Auth-Token": raw.token, "X-Subject-Token": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["title"] == "Not Found"
