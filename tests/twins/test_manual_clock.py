"""A Monitor and a FakeCloud on one ManualClock: the test moves time for both.

The server takes a minute to build and the deadline is minutes away, yet nothing waits
in real time: the test advances the clock and lets the monitor catch up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openstack.compute.v2.server
import pytest

import osfutures
from osfutures.testing import FakeCloud, ManualClock
from osfutures.testing.fakecloud.scenario import Scenario

#: Manual seconds a server takes to build; a real wait this long would fail the test.
BUILD_SECONDS = 60.0
#: The monitor's polling interval, in manual seconds.
INTERVAL = 2.0


@pytest.fixture
def clock() -> ManualClock:
    # Its wall time starts at the real time: keystoneauth compares a token's expiry,
    # which FakeCloud derives from this clock, with the real time.
    return ManualClock()


@pytest.fixture
def monitor(clock: ManualClock) -> Iterator[osfutures.Monitor]:
    m = osfutures.Monitor(
        clock=clock, default_interval=INTERVAL, max_probes_per_second=None, seed=3
    )
    yield m
    m.shutdown(cancel_futures=True)


# conftest's conn and boot use these: the monitor and the cloud on one clock.
@pytest.fixture
def cloud(clock: ManualClock) -> Iterator[FakeCloud]:
    scenario = Scenario.fast(seed=7, duration=BUILD_SECONDS)
    with FakeCloud(seed=7, clock=clock, scenario=scenario) as cloud:
        yield cloud


def _run(clock: ManualClock, monitor: osfutures.Monitor, seconds: float) -> None:
    """Advance ``seconds`` of manual time a second at a time, letting the monitor do
    what each second made due."""
    assert monitor.wait_idle()
    for _ in range(round(seconds)):
        clock.advance(1)
        assert monitor.wait_idle()


def test_the_server_becomes_active_on_manual_time(
    clock: ManualClock,
    monitor: osfutures.Monitor,
    conn: osfutures.AsyncConnection,
    boot: dict[str, Any],
) -> None:
    began = time.monotonic()
    future = conn.compute.create_server_async(name="manual", timeout=600, **boot)
    _run(clock, monitor, BUILD_SECONDS - INTERVAL)
    assert not future.done()
    _run(clock, monitor, 2 * INTERVAL)
    assert future.done()
    assert future.result(timeout=0).status == "ACTIVE"
    assert time.monotonic() - began < BUILD_SECONDS / 2


def test_the_deadline_fires_on_manual_time(
    clock: ManualClock,
    monitor: osfutures.Monitor,
    conn: osfutures.AsyncConnection,
    boot: dict[str, Any],
) -> None:
    began = time.monotonic()
    # A name with "stuck" in it never leaves BUILD (the scenario's default rules).
    future = conn.compute.create_server_async(name="stuck-1", timeout=120, **boot)
    _run(clock, monitor, 119)
    assert not future.done()
    _run(clock, monitor, 2)
    assert isinstance(future.exception(timeout=0), osfutures.OperationTimeout)
    assert time.monotonic() - began < 60


def test_a_delete_over_before_the_first_poll_resolves_with_the_server(
    clock: ManualClock,
    monitor: osfutures.Monitor,
    cloud: FakeCloud,
    conn: osfutures.AsyncConnection,
    boot: dict[str, Any],
) -> None:
    server = conn.compute.create_server_async(name="brief", timeout=600, **boot)
    _run(clock, monitor, BUILD_SECONDS + INTERVAL)
    sid = server.result(timeout=0).id
    # Real Nova lists about half of its deletes DELETED at the first poll already.
    cloud.scenario = Scenario.fast(seed=7, duration=INTERVAL / 4)
    by_id = conn.compute.delete_server_async(sid)  # only an id: Nova's DELETED row
    _run(clock, monitor, 2 * INTERVAL)
    deleted = by_id.result(timeout=0)
    assert isinstance(deleted, openstack.compute.v2.server.Server)
    assert deleted.id == sid and deleted.status == "DELETED"
    assert by_id.status == "DELETED"
