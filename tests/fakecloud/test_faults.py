"""HTTP faults: dropped connections, 503, 429 bursts, forced token expiry, latency."""

from __future__ import annotations

import time

import pytest
import requests
from keystoneauth1 import exceptions as ks_exceptions
from openstack import connection, exceptions

from osfutures.testing import FakeCloud, FaultConfig

from .conftest import Raw

FLAVORS = "GET /compute/v2.1/flavors/detail"


def test_dropped_connection_closes_socket_without_response(
    fake_cloud: FakeCloud, fake_conn: connection.Connection, raw: Raw
) -> None:
    fake_cloud.faults.inject("drop", count=2, route="flavors")
    with pytest.raises(requests.ConnectionError):
        raw("GET", "/compute/v2.1/flavors/detail")
    with pytest.raises((ks_exceptions.ConnectFailure, exceptions.SDKException)):
        list(fake_conn.compute.flavors())
    assert len(list(fake_conn.compute.flavors())) == 5
    assert fake_cloud.stats()["statuses"][FLAVORS] == {"0": 2, "200": 1}


def test_503_in_service_style_with_retry_after(fake_cloud: FakeCloud, raw: Raw) -> None:
    fake_cloud.faults.inject("unavailable", retry_after=7)
    response = raw("GET", "/compute/v2.1/servers")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert response.json()["serviceUnavailable"]["code"] == 503
    assert raw("GET", "/compute/v2.1/servers").status_code == 200


def test_429_burst_has_retry_after_and_nova_body(fake_cloud: FakeCloud, raw: Raw) -> None:
    fake_cloud.faults.set(throttle_rate=1.0, throttle_burst=3, retry_after=2, route="servers")
    first = raw("GET", "/compute/v2.1/servers")
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert first.json() == {
        "overLimit": {"code": 429, "message": "This request was rate-limited.", "retryAfter": "2"}
    }
    fake_cloud.faults.set(throttle_rate=0.0)
    statuses = [raw("GET", "/compute/v2.1/servers").status_code for _ in range(3)]
    assert statuses == [429, 429, 200]


def test_sdk_sees_429_as_http_exception(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    fake_cloud.faults.inject("throttle", route="flavors")
    with pytest.raises(exceptions.HttpException) as caught:
        list(fake_conn.compute.flavors())
    assert caught.value.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"


def test_glance_faults_use_glance_error_shape(fake_cloud: FakeCloud, raw: Raw) -> None:
    fake_cloud.faults.inject("error", route="^GET /image/v2/images$")
    response = raw("GET", "/image/v2/images", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.json()["code"] == "500 Internal Server Error"


def test_forced_token_expiry_makes_sdk_reauthenticate(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    list(fake_conn.compute.flavors())
    fake_cloud.faults.expire_tokens()
    list(fake_conn.compute.flavors())
    fake_cloud.faults.inject("expire_token", route="flavors")
    list(fake_conn.compute.flavors())
    stats = fake_cloud.stats()
    assert stats["requests"]["POST /identity/v3/auth/tokens"] == 3
    assert stats["statuses"][FLAVORS] == {"200": 3, "401": 2}


def test_latency_delays_matching_requests(fake_cloud: FakeCloud, raw: Raw) -> None:
    fake_cloud.faults.set(latency=0.2, route="servers")
    start = time.monotonic()
    raw("GET", "/compute/v2.1/servers")
    assert time.monotonic() - start >= 0.2
    start = time.monotonic()
    raw("GET", "/compute/v2.1/flavors")
    assert time.monotonic() - start < 0.2


def test_faults_are_set_over_http(fake_cloud: FakeCloud, raw: Raw) -> None:
    control = f"{fake_cloud.base_url}/_fake/faults"
    answer = requests.post(control, json={"inject": [{"kind": "unavailable", "count": 2}]})
    assert answer.json()["pending"] == [{"kind": "unavailable", "remaining": 2, "route": None}]
    assert raw("GET", "/compute/v2.1/servers").status_code == 503
    assert requests.delete(control).status_code == 204
    assert raw("GET", "/compute/v2.1/servers").status_code == 200
    requests.post(control, json={"set": {"error_rate": 1.0, "route": "flavors"}})
    assert raw("GET", "/compute/v2.1/flavors").status_code == 500
    assert requests.post(control, json={"set": {"nope": 1}}).status_code == 400


def test_fault_draws_repeat_for_a_seed() -> None:
    def statuses(seed: int) -> list[int]:
        config = FaultConfig(error_rate=0.3, unavailable_rate=0.2, route="flavors")
        with FakeCloud(seed, faults=config) as cloud:
            raw = Raw(cloud)
            return [raw("GET", "/compute/v2.1/flavors").status_code for _ in range(30)]

    first = statuses(5)
    assert first == statuses(5)
    assert {500, 503, 200} == set(first)
    assert first != statuses(6)
