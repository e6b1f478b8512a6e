"""Accounting: request counts per route, bytes, statuses and state-transition times."""

from __future__ import annotations

import pytest
import requests
from openstack import connection

from osfutures.testing import FakeCloud, ManualClock, Scenario

from .conftest import Raw, boot

SHOW = "GET /compute/v2.1/servers/{server_id}"


@pytest.mark.fake_cloud(scenario=Scenario.fast(duration=0.2))
def test_counts_the_requests_a_waiter_makes(
    fake_cloud: FakeCloud, fake_conn: connection.Connection
) -> None:
    image_id = fake_cloud.backend("image").default_image_id
    server = fake_conn.compute.create_server(
        name="vm", image_id=image_id, flavor_id="1", networks="none"
    )
    fake_cloud.reset_stats()
    fake_conn.compute.wait_for_server(server, interval=0.05, wait=5)
    stats = fake_cloud.stats()
    polls = stats["requests"][SHOW]
    assert 2 <= polls <= 6
    assert stats["total_requests"] == polls
    assert stats["by_method"] == {"GET": polls}
    assert stats["statuses"][SHOW] == {"200": polls}
    assert stats["bytes"][SHOW] > 1000 * polls


@pytest.mark.fake_cloud(clock=ManualClock, scenario=Scenario.fast(duration=0.5))
def test_records_when_each_state_was_reached(fake_cloud: FakeCloud, raw: Raw) -> None:
    fake_cloud.advance(2)
    server_id = boot(raw)["id"]
    fake_cloud.advance(1)
    raw("DELETE", f"/compute/v2.1/servers/{server_id}")
    fake_cloud.advance(1)
    history = fake_cloud.stats()["transitions"]["server"][server_id]
    assert [(h["state"], h["at"]) for h in history] == [
        ("BUILD", 2.0),
        ("ACTIVE", 2.5),
        ("DELETED", 3.5),
    ]
    assert history[1]["wall"] == fake_cloud.clock.wall(2.5).isoformat()


@pytest.mark.fake_cloud(clock=ManualClock)
def test_stats_over_http_and_reset(fake_cloud: FakeCloud, raw: Raw) -> None:
    boot(raw)
    stats = requests.get(f"{fake_cloud.base_url}/_fake/stats").json()
    assert stats["requests"]["POST /compute/v2.1/servers"] == 1
    assert stats["by_status"]["202"] == 1
    assert "GET /_fake/stats" not in stats["requests"]
    reset = requests.post(f"{fake_cloud.base_url}/_fake/stats/reset")
    assert reset.status_code == 204
    after = requests.get(f"{fake_cloud.base_url}/_fake/stats").json()
    assert after["total_requests"] == 0
    assert after["transitions"]["server"]


@pytest.mark.fake_cloud(clock=ManualClock)
def test_clock_control_over_http(fake_cloud: FakeCloud) -> None:
    url = f"{fake_cloud.base_url}/_fake/clock"
    assert requests.get(url).json()["manual"] is True
    assert requests.post(f"{url}/advance", json={"seconds": 3}).json() == {"now": 3.0}
    assert fake_cloud.clock.now() == 3.0


@pytest.mark.fake_cloud(clock=ManualClock)
def test_counts_the_records_each_status_answer_carries(fake_cloud: FakeCloud, raw: Raw) -> None:
    ids = [boot(raw, name=f"vm{i}")["id"] for i in range(3)]
    fake_cloud.reset_stats()
    assert raw("GET", f"/compute/v2.1/servers/{ids[0]}").status_code == 200
    assert raw("GET", "/compute/v2.1/servers/detail").status_code == 200
    assert raw("GET", "/compute/v2.1/servers", params={"limit": 2}).status_code == 200
    assert raw("GET", "/compute/v2.1/servers/no-such-server").status_code == 404
    assert raw("GET", "/image/v2/images").status_code == 200
    raw("DELETE", f"/compute/v2.1/servers/{ids[1]}")
    stats = fake_cloud.stats()
    images = len(raw("GET", "/image/v2/images").json()["images"])
    assert stats["records"] == {
        SHOW: 1,
        "GET /compute/v2.1/servers/detail": 3,
        "GET /compute/v2.1/servers": 2,
        "GET /image/v2/images": images,
    }
    assert stats["total_records"] == 6 + images
    fake_cloud.reset_stats()
    assert fake_cloud.stats()["records"] == {}
