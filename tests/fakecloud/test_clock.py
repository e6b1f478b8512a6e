"""The scenario clock: FakeCloud's time, read from the engine's clock."""

from __future__ import annotations

import random
from datetime import datetime

import pytest
import requests

import osfutures
from osfutures.testing import FakeCloud, ManualClock
from osfutures.testing.fakecloud.clock import ScenarioClock


def test_the_testing_manual_clock_is_the_engines() -> None:
    assert ManualClock is osfutures.ManualClock


@pytest.mark.parametrize("epoch", [1_700_000_000.123456, 1_700_000_000.987654, 1_764_068_000.55])
def test_printed_wall_time_is_never_read_back_later(epoch: float) -> None:
    # changes-since=<a server's own updated> must list that server, whatever the epoch.
    clock = ScenarioClock(ManualClock(wall_start=epoch))
    rng = random.Random(epoch)
    for _ in range(20_000):
        at = rng.uniform(0, 1000)
        text = clock.wall(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert clock.scenario_time(datetime.fromisoformat(text.replace("Z", "+00:00"))) <= at


def test_scenario_time_starts_when_the_cloud_is_made() -> None:
    shared = ManualClock(start=100.0, wall_start=1_700_000_000.0)
    shared.advance(5)
    cloud = FakeCloud(clock=shared)
    assert (cloud.clock.now(), cloud.clock.epoch) == (0.0, 1_700_000_005.0)
    assert cloud.advance(2.5) == 2.5
    assert (shared.now(), cloud.clock.now()) == (107.5, 2.5)
    assert cloud.clock.wall(2.5).timestamp() == shared.wall() == 1_700_000_007.5


def test_real_time_by_default() -> None:
    clock = FakeCloud().clock
    assert isinstance(clock.source, osfutures.SystemClock)
    assert not clock.manual
    assert 0 <= clock.now() < 5
    assert abs(clock.wall(clock.now()).timestamp() - datetime.now().timestamp()) < 5


def test_manual_clock_advance_returns_the_new_time_and_refuses_bad_steps() -> None:
    clock = ManualClock()
    assert clock.advance(1.5) == 1.5
    with pytest.raises(ValueError, match=r"^seconds: need a finite number >= 0, got -1$"):
        clock.advance(-1)
    with pytest.raises(ValueError, match=r"^seconds: need a finite number >= 0, got inf$"):
        clock.advance(float("inf"))
    with pytest.raises(TypeError, match=r"^seconds: expected a number, got str '1'$"):
        clock.advance("1")  # type: ignore[arg-type]
    assert clock.now() == 1.5


def test_a_clock_without_the_engine_methods_is_refused() -> None:
    with pytest.raises(TypeError, match=r"^clock: expected a Clock .* got int without now\(\)"):
        FakeCloud(clock=5)  # type: ignore[arg-type]


def test_the_clock_route_advances_a_manual_clock_only() -> None:
    with FakeCloud(clock=ManualClock()) as cloud:
        url = f"{cloud.base_url}/_fake/clock"
        assert requests.post(url + "/advance", json={"seconds": 2}).json() == {"now": 2.0}
        assert requests.post(url + "/advance", json={"seconds": -1}).status_code == 400
        assert requests.get(url).json()["now"] == 2.0
    with FakeCloud() as cloud:
        url = f"{cloud.base_url}/_fake/clock"
        assert requests.get(url).json()["manual"] is False
        assert requests.post(url + "/advance", json={"seconds": 2}).status_code == 409
