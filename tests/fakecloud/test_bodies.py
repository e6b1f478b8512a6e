"""Odd requests answered as the real services answer them.

Bodies that are not JSON, too large, too deeply nested or of another Content-Type, and
methods no route takes. The expected answers come from the services' source (nova,
cinder, manila, glance, heat, octavia, keystone, oslo.middleware, webob, WSME, pecan);
Nova's were also checked against real Nova 34 over HTTP.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Raw

BROKEN = b'{"server": {"name": '
#: The parser's message for BROKEN, which heat repeats.
PARSER_MESSAGE = "Expecting value: line 1 column 21 (char 20)"
#: webob's explanation of a 4xx, which heat shows.
CLIENT_ERROR = (
    "The server could not comply with the request since it is either malformed or "
    "otherwise incorrect."
)


def _project(raw: Raw) -> str:
    token = raw("GET", "/identity/v3/auth/tokens", headers={"X-Subject-Token": raw.token})
    project_id: str = token.json()["token"]["project"]["id"]
    return project_id


def _post(raw: Raw, path: str, data: bytes = BROKEN, **headers: str) -> Any:
    headers = {"Content-Type": "application/json", "Accept": "application/json", **headers}
    return raw("POST", path.format(project=_project(raw)), data=data, headers=headers)


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
    # WSME's json.parse, which octavia's wsexpose calls.
    assert octavia.json() == {
        "faultcode": "Client",
        "faultstring": "Request is not in valid JSON format",
        "debuginfo": None,
    }
    glance = _post(raw, "/image/v2/images")
    assert glance.status_code == 400
    assert glance.json()["message"].startswith("Malformed JSON in request body.")
    keystone = raw.session.post(f"{raw.cloud.auth_url}/v3/auth/tokens", data=BROKEN)
    assert keystone.status_code == 400
    assert keystone.json()["error"]["message"].startswith(
        "Expecting to find valid JSON in request body."
    )


def test_a_body_that_is_not_utf8_is_malformed_too(raw: Raw) -> None:
    response = raw("POST", "/compute/v2.1/servers", data=b"\xff\xfe\xfa", headers={})
    assert response.status_code == 400
    assert json.loads(response.text)["badRequest"]["message"] == "Malformed request body"


# -- too large ---------------------------------------------------------------------------

#: oslo.middleware's default max_request_body_size.
LIMIT = 114688
#: What its sizelimit filter answers, exactly as real Nova 34 sent it for a 16 MiB body
#: with ``Accept: application/json``: webob's own body, the %s of the explanation left
#: unfilled, no microversion headers.
TOO_LARGE = {
    "message": "Request is too large. Larger than max_request_body_size (%s).<br /><br />\n\n\n",
    "code": "413 Request Entity Too Large",
    "title": "Request Entity Too Large",
}
HUGE = b'{"server": {"name": "' + b"x" * (16 * 1024 * 1024) + b'"}}'


@pytest.mark.parametrize(
    "path",
    [
        "/compute/v2.1/servers",
        "/volume/v3/{project}/volumes",
        "/share/v2/{project}/shares",
        "/load-balancer/v2/lbaas/loadbalancers",
        "/identity/v3/auth/tokens",
        "/compute/v2.1/no-such-path",
    ],
    ids=["compute", "block-storage", "shared-file-system", "load-balancer", "identity", "unrouted"],
)
def test_a_body_over_the_size_limit_is_refused_unread_before_the_token_is_checked(
    raw: Raw, path: str
) -> None:
    url = raw.cloud.base_url + path.format(project=_project(raw))
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    response = raw.session.post(url, data=HUGE, headers=headers)  # no token
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert int(response.headers["Content-Length"]) == len(response.content) < 200
    assert "OpenStack-API-Version" not in response.headers
    assert raw("GET", "/compute/v2.1/flavors").status_code == 200


def test_the_size_limit_is_oslos_default_to_the_byte(raw: Raw) -> None:
    at_limit = _post(raw, "/compute/v2.1/servers", b" " * (LIMIT - 2) + b"{}")
    # Real Nova 34's answer to the same 114688 bytes.
    assert at_limit.status_code == 400
    assert at_limit.json() == {
        "badRequest": {"code": 400, "message": "'server' is a required property"}
    }
    assert _post(raw, "/compute/v2.1/servers", b" " * (LIMIT + 1)).status_code == 413


def test_a_browser_gets_webobs_page_for_a_body_too_large(raw: Raw) -> None:
    response = _post(raw, "/compute/v2.1/servers", HUGE, Accept="text/html")
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == (
        "<html>\n <head>\n  <title>413 Request Entity Too Large</title>\n </head>\n <body>\n"
        "  <h1>413 Request Entity Too Large</h1>\n"
        "  Request is too large. Larger than max_request_body_size (%s).<br /><br />\n\n\n\n"
        " </body>\n</html>"
    )


def test_glance_has_no_size_limit_for_image_data(raw: Raw) -> None:
    created = _post(raw, "/image/v2/images", b'{"name": "big"}')
    assert created.status_code == 201
    data = b"\0" * (4 * LIMIT)
    path = f"/image/v2/images/{created.json()['id']}/file"
    uploaded = raw("PUT", path, data=data, headers={"Content-Type": "application/octet-stream"})
    assert uploaded.status_code == 204


def test_heat_refuses_json_over_its_own_limit_in_its_fault_body(raw: Raw) -> None:
    data = b'{"stack_name": "s", "pad": "' + b"x" * 1048576 + b'"}'
    response = _post(raw, "/heat-api/v1/{project}/stacks", data)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": f"Request limit exceeded: JSON body size ({len(data)} bytes) exceeds "
        "maximum allowed size (1048576 bytes).",
        "traceback": None,
        "type": "RequestLimitExceeded",
    }


# -- nested deeper than the parser goes ----------------------------------------------------

DEEP = b"[" * 100000
#: Real Nova 34's answer: json.loads raises RecursionError, which is no ValueError, so it
#: is not "Malformed request body" but an unexpected error for the fault wrapper.
SERVER_ERROR = "The server has either erred or is incapable of performing the requested operation."


@pytest.mark.parametrize(
    ("path", "headers", "echo"),
    [
        (
            "/compute/v2.1/servers",
            {"OpenStack-API-Version": "compute 2.100"},
            ("OpenStack-API-Version", "compute 2.100"),
        ),
        (
            "/volume/v3/{project}/volumes",
            {"OpenStack-API-Version": "volume 3.71"},
            ("OpenStack-API-Version", "volume 3.71"),
        ),
        ("/share/v2/{project}/shares", {}, ("X-OpenStack-Manila-API-Version", "2.0")),
    ],
    ids=["compute", "block-storage", "shared-file-system"],
)
def test_nova_style_services_fail_a_too_deep_body_as_an_unexpected_error(
    raw: Raw, path: str, headers: dict[str, str], echo: tuple[str, str]
) -> None:
    response = _post(raw, path, DEEP, **headers)
    assert response.status_code == 500
    assert response.json() == {"computeFault": {"code": 500, "message": SERVER_ERROR}}
    assert response.headers[echo[0]] == echo[1]


def test_glance_octavia_and_heat_fail_a_too_deep_body_their_way(raw: Raw) -> None:
    glance = _post(raw, "/image/v2/images", DEEP)
    assert glance.status_code == 500
    assert glance.json()["message"] == f"{SERVER_ERROR}<br /><br />\n\n\n"
    octavia = _post(raw, "/load-balancer/v2/lbaas/loadbalancers", DEEP)
    assert octavia.status_code == 500
    assert octavia.json()["faultcode"] == "Server"
    assert octavia.json()["faultstring"].startswith("maximum recursion depth exceeded")
    # Heat reads only a body that starts with "{", and keeps an unexpected error's text.
    heat = _post(raw, "/heat-api/v1/{project}/stacks", b'{"stack_name": ' + DEEP)
    assert heat.status_code == 500
    assert heat.json() == {
        "explanation": SERVER_ERROR,
        "code": 500,
        "error": {"traceback": None, "type": "RecursionError"},
        "title": "Internal Server Error",
    }
    ignored = _post(raw, "/heat-api/v1/{project}/stacks", DEEP)
    assert ignored.status_code == 400
    assert ignored.json()["error"]["message"] == CLIENT_ERROR


# -- Content-Type ------------------------------------------------------------------------

XML = b'<server name="vm"/>'
#: Real Nova 34's answer to a body of a Content-Type it does not read.
BAD_MEDIA_TYPE = {"badMediaType": {"code": 415, "message": "Unsupported Content-Type"}}


def test_nova_refuses_other_content_types_with_415_whatever_the_method(raw: Raw) -> None:
    response = _post(
        raw,
        "/compute/v2.1/servers",
        XML,
        **{"Content-Type": "application/xml", "OpenStack-API-Version": "compute 2.100"},
    )
    assert response.status_code == 415
    assert response.json() == BAD_MEDIA_TYPE
    assert response.headers["OpenStack-API-Version"] == "compute 2.100"
    listing = raw("GET", "/compute/v2.1/servers", headers={"Content-Type": "application/xml"})
    assert listing.status_code == 415
    # text/plain is what some WSGI servers default to: Nova reads the body anyway.
    plain = _post(raw, "/compute/v2.1/servers", b"{}", **{"Content-Type": "text/plain"})
    assert plain.status_code == 400
    charset = {"Content-Type": "application/json; charset=UTF-8"}
    assert _post(raw, "/compute/v2.1/servers", b"{}", **charset).status_code == 400


def test_cinder_refuses_another_content_type_and_ignores_a_body_without_one(raw: Raw) -> None:
    path = "/volume/v3/{project}/volumes"
    volume = b'{"volume": {"size": 1}}'
    for media_type in ("application/xml", "text/plain"):
        response = _post(raw, path, volume, **{"Content-Type": media_type})
        assert response.status_code == 415
        assert response.json() == BAD_MEDIA_TYPE
    url = raw.cloud.base_url + path.format(project=_project(raw))
    untyped = raw.session.post(url, data=volume, headers={"X-Auth-Token": raw.token})
    assert untyped.status_code == 400
    assert untyped.json() == {
        "badRequest": {"code": 400, "message": "'volume' is a required property"}
    }


def test_manila_ignores_a_body_of_another_content_type(raw: Raw) -> None:
    share = b'{"share": {"share_proto": "NFS", "size": 1}}'
    response = _post(raw, "/share/v2/{project}/shares", share, **{"Content-Type": "text/xml"})
    assert response.status_code == 422
    assert _post(raw, "/share/v2/{project}/shares", share).status_code == 200


def test_octavia_keystone_and_heat_refuse_xml_their_way(raw: Raw) -> None:
    xml = {"Content-Type": "application/xml"}
    octavia = _post(raw, "/load-balancer/v2/lbaas/loadbalancers", XML, **xml)
    assert octavia.status_code == 415
    assert octavia.json() == {
        "faultcode": "Client",
        "faultstring": "Unknown mimetype: application/xml",
        "debuginfo": None,
    }
    keystone = raw.session.post(f"{raw.cloud.auth_url}/v3/auth/tokens", data=XML, headers=xml)
    assert keystone.status_code == 400
    assert keystone.json()["error"]["message"].startswith(
        "Expecting to find application/json in Content-Type header."
    )
    heat = _post(raw, "/heat-api/v1/{project}/stacks", b'{"stack_name": "s"}', **xml)
    assert heat.status_code == 400
    assert heat.json()["error"] == {
        "message": CLIENT_ERROR,
        "traceback": None,
        "type": "HTTPBadRequest",
    }


# -- methods and paths no route takes -------------------------------------------------

#: Real Nova 34's answer to PATCH /v2.1/servers and to GET /v2.1/no-such-path: its URL
#: router matches method and path together, so both are webob's bare 404.
NOT_FOUND = {
    "message": "The resource could not be found.<br /><br />\n\n\n",
    "code": "404 Not Found",
    "title": "Not Found",
}
METHOD_NOT_ALLOWED = {
    "message": "The method PATCH is not allowed for this resource. <br /><br />\n",
    "code": "405 Method Not Allowed",
    "title": "Method Not Allowed",
}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/compute/v2.1/servers"),
        ("PUT", "/compute/v2.1/flavors"),
        ("GET", "/compute/v2.1/no-such-path"),
        ("PATCH", "/volume/v3/{project}/volumes"),
        ("PATCH", "/share/v2/{project}/shares"),
        ("GET", "/heat-api/v1/{project}/no-such-path"),
    ],
)
def test_routes_mapper_services_answer_webobs_404_to_what_no_route_takes(
    raw: Raw, method: str, path: str
) -> None:
    url = path.format(project=_project(raw))
    response = raw(method, url, json={}, headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert "OpenStack-API-Version" not in response.headers


def test_glance_and_octavia_answer_405_with_allow(raw: Raw) -> None:
    for path in ("/image/v2/images", "/load-balancer/v2/lbaas/loadbalancers"):
        response = raw("PATCH", path, json={}, headers={"Accept": "application/json"})
        assert response.status_code == 405
        assert response.json() == METHOD_NOT_ALLOWED
        assert response.headers["Allow"] == "GET, POST"


def test_heat_answers_405_in_its_fault_body_and_options_with_allow(raw: Raw) -> None:
    path = f"/heat-api/v1/{_project(raw)}/stacks"
    response = raw("PATCH", path, json={})
    assert response.status_code == 405
    assert response.json() == {
        "explanation": CLIENT_ERROR,
        "code": 405,
        "error": {"message": CLIENT_ERROR, "traceback": None, "type": "HTTPMethodNotAllowed"},
        "title": "Method Not Allowed",
    }
    options = raw("OPTIONS", path)
    assert options.status_code == 204
    assert options.headers["Allow"] == "GET,POST"
