"""Shared helpers: a raw HTTP client for checking exact status codes, headers and bodies.

The behaviour tests drive FakeCloud through unmodified openstacksdk; this client is for
asserting the wire format itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from osfutures.testing import FakeCloud


class Raw:
    """requests with a token for one FakeCloud."""

    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud
        self.session = requests.Session()
        self.token = self.issue_token()

    def issue_token(self) -> str:
        creds = self.cloud.credentials
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": creds.username,
                            "domain": {"name": "Default"},
                            "password": creds.password,
                        }
                    },
                },
                "scope": {"project": {"name": creds.project_name, "domain": {"name": "Default"}}},
            }
        }
        response = self.session.post(f"{self.cloud.auth_url}/v3/auth/tokens", json=body)
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]

    def __call__(
        self, method: str, path: str, version: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"X-Auth-Token": self.token, **kwargs.pop("headers", {})}
        if version:
            headers["OpenStack-API-Version"] = f"compute {version}"
        return self.session.request(method, self.cloud.base_url + path, headers=headers, **kwargs)


@pytest.fixture
def raw(fake_cloud: FakeCloud) -> Iterator[Raw]:
    """A raw client of ``fake_cloud``."""
    client = Raw(fake_cloud)
    yield client
    client.session.close()


def boot(raw: Raw, name: str = "vm", version: str = "2.100", **extra: Any) -> dict[str, Any]:
    """Create a server over raw HTTP; return the create response body's server."""
    image_id = raw.cloud.backend("image").default_image_id
    spec = {"name": name, "imageRef": image_id, "flavorRef": "1", "networks": "none", **extra}
    response = raw("POST", "/compute/v2.1/servers", version, json={"server": spec})
    assert response.status_code == 202, response.text
    server: dict[str, Any] = response.json()["server"]
    return server
