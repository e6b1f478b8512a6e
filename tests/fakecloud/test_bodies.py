"""Request bodies that are not JSON: every service answers its own 400, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Raw

BROKEN = b'{"server": {"name": '
#: The parser's message for BROKEN, which heat and octavia repeat.
PARSER_MESSAGE = "Expecting value: line 1 column 21 (char 20)"


def _project(raw: Raw) -> str:
    token = raw("GET", "/identity/v3/auth/tokens", headers={"X-Subject-Token": raw.token})
    project_id: str = token.json()["token"]["project"]["id"]
    return project_id


def _post(raw: Raw, path: str, **headers: str) -> Any:
    headers = {"Content-Type": "application/json", **headers}
    return raw("POST", path.format(project=_project(raw)), data=BROKEN, headers=headers)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/compute/v2.1/servers", {"OpenStack-API-Version": "compute 2.100"}),
        ("/volume/v3/{project}/volumes", {"OpenStack-API-Version": "volume 3.71"}),
        ("/volume/v3/{project}/volumes/x/action", {}),
        ("/share/v2/{project}/shares", {"X-OpenStack-Manila-API-Version": "2.7"}),
    ],
    ids=["compute", "block-storage", "block-storage-action", "shared-file-system"],
)
def test_nova_style_services_answer_malformed_request_body(
    raw: Raw, path: str, headers: dict[str, str]
) -> None:
    response = _post(raw, path, **headers)
    assert response.status_code == 400, response.text
    assert response.json() == {"badRequest": {"code": 400, "message": "Malformed request body"}}


def test_heat_repeats_the_parser_message(raw: Raw) -> None:
    response = _post(raw, "/heat-api/v1/{project}/stacks")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == {
        "message": PARSER_MESSAGE,
        "traceback": None,
        "type": "HTTPBadRequest",
    }
    assert body["title"] == "Bad Request"


def test_octavia_glance_and_keystone_word_it_their_way(raw: Raw) -> None:
    octavia = _post(raw, "/load-balancer/v2/lbaas/loadbalancers")
    assert octavia.status_code == 400
    assert octavia.json() == {
        "faultcode": "Client",
        "faultstring": f"Invalid JSON: {PARSER_MESSAGE}",
        "debuginfo": None,
    }
    glance = _post(raw, "/image/v2/images")
    assert glance.status_code == 400
    assert glance.json()["message"].startswith("Malformed JSON in request body.")
    keystone = raw.session.post(f"{raw.cloud.auth_url}/v3/auth/tokens", data=BROKEN)
    assert keystone.status_code == 400
    assert keystone.json()["error"]["code"] == 400


def test_a_body_that_is_not_utf8_is_malformed_too(raw: Raw) -> None:
    response = raw("POST", "/compute/v2.1/servers", data=b"\xff\xfe\xfa", headers={})
    assert response.status_code == 400
    assert json.loads(response.text)["badRequest"]["message"] == "Malformed request body"
