"""A twin that refuses its arguments changes nothing in the cloud; one that takes them
sees its operation through, whatever one status listing answers."""

from __future__ import annotations

from typing import Any

import pytest

import osfutures
from osfutures.testing import FakeCloud

from .conftest import requests

CREATE = "POST /compute/v2.1/servers"
DELETE = "DELETE /compute/v2.1/servers/{server_id}"
SERVERS_DETAIL = "GET /compute/v2.1/servers/detail"


def _changes(cloud: FakeCloud) -> int:
    return requests(cloud, CREATE) + requests(cloud, DELETE)


@pytest.mark.parametrize(
    ("twin", "options", "error", "message"),
    [
        ("create_server_async", {"interval": -1}, ValueError, r"^interval: "),
        ("create_server_async", {"interval": "2"}, TypeError, r"^interval: "),
        ("create_server_async", {"timeout": 0}, ValueError, r"^timeout: "),
        ("create_server_async", {"timeout": "60"}, TypeError, r"^timeout: "),
        ("create_server_async_r", {"interval": 0}, ValueError, r"^interval: "),
        ("create_server_async_r", {"tout": -5}, ValueError, r"^tout: "),
        ("create_server_async_r", {"timeout": -5}, ValueError, r"^timeout: "),
        ("create_server_async_r", {"try_count": 0}, ValueError, r"^try_count: "),
        ("create_server_async_r", {"try_count": "3"}, TypeError, r"^try_count: "),
        ("create_server_async_r", {"retry": 3}, TypeError, r"^retry: "),
    ],
)
def test_a_refused_create_creates_nothing(
    cloud: FakeCloud,
    conn: osfutures.AsyncConnection,
    boot: dict[str, Any],
    twin: str,
    options: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        getattr(conn.compute, twin)(name="orphan", **options, **boot)
    assert _changes(cloud) == 0
    assert not list(conn.compute.servers())


def test_a_refused_delete_deletes_nothing(
    cloud: FakeCloud, conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    server = conn.compute.create_server_async(name="keep", **boot).result(timeout=30)
    for options in ({"interval": 0}, {"timeout": -1}, {"interval": [1]}):
        with pytest.raises((TypeError, ValueError)):
            conn.compute.delete_server_async(server, **options)
    assert requests(cloud, DELETE) == 0
    assert conn.compute.get_server(server.id).status == "ACTIVE"


def test_a_shut_down_monitor_refuses_before_the_create(
    cloud: FakeCloud, boot: dict[str, Any]
) -> None:
    monitor = osfutures.Monitor()
    conn = osfutures.wrap(cloud.connect(), monitor=monitor)
    monitor.shutdown()
    for twin in ("create_server_async", "create_server_async_r"):
        with pytest.raises(osfutures.MonitorShutdown):
            getattr(conn.compute, twin)(name="late", **boot)
    assert _changes(cloud) == 0


def test_retrying_twin_takes_a_deadline_for_the_whole_operation(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    future = conn.compute.create_server_async_r(name="whole", timeout=60, tout=30, **boot)
    assert future.result(timeout=60).status == "ACTIVE"


def test_a_listing_refused_twice_is_no_verdict_on_the_servers(
    cloud: FakeCloud, conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    futures = [conn.compute.create_server_async(name=f"r{i}", timeout=30, **boot) for i in range(3)]
    # The token expires before each of two listings in a row: keystoneauth
    # re-authenticates once, so that listing raises a bare 401.
    cloud.faults.inject("expire_token", 2, route=SERVERS_DETAIL)
    assert [repr(f.exception(timeout=30)) for f in futures] == ["None"] * 3
    assert {f.result().status for f in futures} == {"ACTIVE"}
