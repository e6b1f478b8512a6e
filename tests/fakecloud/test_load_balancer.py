"""Octavia through unmodified openstacksdk, and octavia's wire format checked raw."""

from __future__ import annotations

from typing import Any

import pytest
from openstack import connection, exceptions

from osfutures.testing import FakeCloud, ManualClock, Scenario

from .conftest import Raw

SUBNET = "6b4a2d5e-2a8f-4f4f-9c1b-2d7c1e0e7a10"
pytestmark = pytest.mark.fake_cloud(scenario=Scenario.fast(duration=0.1))
MANUAL = pytest.mark.fake_cloud(clock=ManualClock, scenario=Scenario.fast(duration=1))
LBS = "/load-balancer/v2/lbaas/loadbalancers"


def _active(conn: connection.Connection, lb: Any) -> Any:
    # The proxy's annotation says int; any number of seconds works.
    interval: Any = 0.02
    return conn.load_balancer.wait_for_load_balancer(lb.id, interval=interval, wait=5)


def _raw_lb(raw: Raw, name: str = "lb") -> str:
    body = {"loadbalancer": {"name": name, "vip_subnet_id": SUBNET}}
    response = raw("POST", LBS, json=body)
    assert response.status_code == 201, response.text
    lb = response.json()["loadbalancer"]
    assert (lb["provisioning_status"], lb["operating_status"]) == ("PENDING_CREATE", "OFFLINE")
    lb_id: str = lb["id"]
    return lb_id


def test_load_balancer_with_listener_and_pool_lifecycle(
    fake_conn: connection.Connection,
) -> None:
    lbs = fake_conn.load_balancer
    lb = lbs.create_load_balancer(name="web", vip_subnet_id=SUBNET)
    assert lb.provisioning_status == "PENDING_CREATE"
    lb = _active(fake_conn, lb)
    assert (lb.operating_status, lb.vip_subnet_id) == ("ONLINE", SUBNET)
    listener = lbs.create_listener(
        name="http", load_balancer_id=lb.id, protocol="HTTP", protocol_port=80
    )
    assert listener.provisioning_status == "PENDING_CREATE"
    assert lbs.get_load_balancer(lb.id).provisioning_status == "PENDING_UPDATE"
    lb = _active(fake_conn, lb)
    assert lbs.get_listener(listener.id).provisioning_status == "ACTIVE"
    pool = lbs.create_pool(
        name="backends", listener_id=listener.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN"
    )
    assert lbs.get_listener(listener.id).provisioning_status == "PENDING_UPDATE"
    lb = _active(fake_conn, lb)
    shown = lbs.get_pool(pool.id)
    assert (shown.provisioning_status, shown.operating_status) == ("ACTIVE", "ONLINE")
    assert shown.listeners == [{"id": listener.id}]
    assert lbs.get_listener(listener.id).default_pool_id == pool.id
    assert [p["id"] for p in lb.pools] == [pool.id]
    lbs.delete_pool(pool)
    lbs.wait_for_delete(shown, interval=0.02, wait=5)
    lb = _active(fake_conn, lb)
    lbs.delete_listener(listener)
    lb = _active(fake_conn, lb)
    assert (lb.listeners, lb.pools) == ([], [])
    lbs.delete_load_balancer(lb)
    assert lbs.get_load_balancer(lb.id).provisioning_status == "PENDING_DELETE"
    lbs.wait_for_delete(lb, interval=0.02, wait=5)
    assert list(lbs.load_balancers()) == []


def test_failing_name_ends_in_error_and_can_be_deleted(fake_conn: connection.Connection) -> None:
    lb = fake_conn.load_balancer.create_load_balancer(name="lb-fail", vip_subnet_id=SUBNET)
    with pytest.raises(exceptions.ResourceFailure):
        _active(fake_conn, lb)
    fake_conn.load_balancer.delete_load_balancer(lb)
    fake_conn.load_balancer.wait_for_delete(lb, interval=0.02, wait=5)


def test_failing_listener_errors_and_releases_its_load_balancer(
    fake_conn: connection.Connection,
) -> None:
    lbs = fake_conn.load_balancer
    lb = _active(fake_conn, lbs.create_load_balancer(vip_subnet_id=SUBNET))
    listener = lbs.create_listener(
        name="fail", load_balancer_id=lb.id, protocol="TCP", protocol_port=22
    )
    assert _active(fake_conn, lb).provisioning_status == "ACTIVE"
    assert lbs.get_listener(listener.id).provisioning_status == "ERROR"


@MANUAL
def test_changes_while_not_active_are_409_in_octavia_shape(fake_cloud: FakeCloud, raw: Raw) -> None:
    lb_id = _raw_lb(raw, "stuck-lb")
    listener = {"listener": {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}}
    refused = raw("POST", "/load-balancer/v2.0/lbaas/listeners", json=listener)
    assert refused.status_code == 409
    assert refused.json() == {
        "faultcode": "Client",
        "faultstring": f"Load Balancer {lb_id} is immutable and cannot be updated.",
        "debuginfo": None,
    }
    fake_cloud.advance(100)
    deleted = raw("DELETE", f"{LBS}/{lb_id}")
    assert deleted.status_code == 409
    assert deleted.json()["faultstring"] == (
        f"Invalid state PENDING_CREATE of loadbalancer resource {lb_id}"
    )


@MANUAL
def test_delete_with_children_needs_cascade(fake_cloud: FakeCloud, raw: Raw) -> None:
    lb_id = _raw_lb(raw)
    fake_cloud.advance(1)
    pool = {"pool": {"loadbalancer_id": lb_id, "protocol": "TCP", "lb_algorithm": "SOURCE_IP"}}
    pool_id = raw("POST", "/load-balancer/v2/lbaas/pools", json=pool).json()["pool"]["id"]
    fake_cloud.advance(1)
    refused = raw("DELETE", f"{LBS}/{lb_id}")
    assert refused.status_code == 400
    assert refused.json()["faultstring"] == (
        f"Validation failure: Cannot delete Load Balancer {lb_id} - it has children"
    )
    assert raw("DELETE", f"{LBS}/{lb_id}?cascade=true").status_code == 204
    pending = raw("GET", f"/load-balancer/v2/lbaas/pools/{pool_id}").json()["pool"]
    assert pending["provisioning_status"] == "PENDING_DELETE"
    fake_cloud.advance(1)
    for path in (f"{LBS}/{lb_id}", f"/load-balancer/v2/lbaas/pools/{pool_id}"):
        assert raw("GET", path).status_code == 404
    missing = raw("GET", f"{LBS}/{lb_id}").json()
    assert missing["faultstring"] == f"Load Balancer {lb_id} not found."


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            LBS,
            {"loadbalancer": {"name": "x"}},
            "Validation failure: VIP must contain one of: vip_port_id, vip_network_id, "
            "vip_subnet_id.",
        ),
        (
            "/load-balancer/v2/lbaas/listeners",
            {"listener": {"protocol": "HTTP", "protocol_port": 80}},
            "Invalid input for field/attribute loadbalancer_id. Value: 'None'. "
            "Mandatory field missing.",
        ),
        (
            "/load-balancer/v2/lbaas/pools",
            {"pool": {"protocol": "FTP", "lb_algorithm": "ROUND_ROBIN"}},
            "Invalid input for field/attribute protocol. Value: 'FTP'. Value should be one "
            "of: HTTP, HTTPS, PROXY, PROXYV2, TCP, UDP, SCTP",
        ),
        (
            "/load-balancer/v2/lbaas/pools",
            {"pool": {"protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}},
            "Validation failure: Must provide at least one of: loadbalancer_id, listener_id",
        ),
    ],
)
def test_invalid_requests_are_400(raw: Raw, path: str, body: dict[str, Any], message: str) -> None:
    response = raw("POST", path, json=body)
    assert response.status_code == 400
    assert response.json() == {"faultcode": "Client", "faultstring": message, "debuginfo": None}


def test_versions_and_list_filters(fake_conn: connection.Connection, raw: Raw) -> None:
    versions = raw("GET", "/load-balancer/").json()["versions"]
    assert (versions[0]["id"], versions[-1]["id"], versions[-1]["status"]) == (
        "v2.0",
        "v2.30",
        "CURRENT",
    )
    fake_conn.load_balancer.create_load_balancer(name="a", vip_subnet_id=SUBNET)
    fake_conn.load_balancer.create_load_balancer(name="b", vip_subnet_id=SUBNET)
    assert [lb.name for lb in fake_conn.load_balancer.load_balancers()] == ["a", "b"]
    assert [lb.name for lb in fake_conn.load_balancer.load_balancers(name="b")] == ["b"]
    pending = raw("GET", f"{LBS}?provisioning_status=PENDING_CREATE").json()
    assert len(pending["loadbalancers"]) == 2
    assert pending["loadbalancers_links"] == []
