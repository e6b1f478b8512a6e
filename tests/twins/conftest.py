"""FakeCloud over real HTTP, driven by unmodified openstacksdk, wrapped by osfutures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import osfutures
from osfutures.testing import FakeCloud
from osfutures.testing.fakecloud.scenario import Scenario

BUILD_SECONDS = 0.3


@pytest.fixture
def cloud() -> Iterator[FakeCloud]:
    with FakeCloud(seed=7, scenario=Scenario.fast(seed=7, duration=BUILD_SECONDS)) as c:
        yield c


@pytest.fixture
def monitor() -> Iterator[osfutures.Monitor]:
    m = osfutures.Monitor(default_interval=0.1, max_probes_per_second=None, seed=3)
    yield m
    m.shutdown(cancel_futures=True)


@pytest.fixture
def conn(cloud: FakeCloud, monitor: osfutures.Monitor) -> osfutures.AsyncConnection:
    return osfutures.wrap(cloud.connect(), monitor=monitor)


@pytest.fixture
def boot(conn: osfutures.AsyncConnection) -> dict[str, Any]:
    """The arguments every test server boots with."""
    flavor = next(iter(conn.compute.flavors()))
    image = next(iter(conn.image.images()))
    return {"flavor_id": flavor.id, "image_id": image.id, "networks": "none"}


def requests(cloud: FakeCloud, route: str) -> int:
    """How many requests FakeCloud answered on ``route`` (e.g. 'GET /compute/...')."""
    return int(cloud.stats()["requests"].get(route, 0))
