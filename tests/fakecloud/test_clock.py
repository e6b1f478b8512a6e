"""The scenario clock's wall times read back as they were printed."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from osfutures.testing.fakecloud.clock import ManualClock


@pytest.mark.parametrize("epoch", [1_700_000_000.123456, 1_700_000_000.987654, 1_764_068_000.55])
def test_printed_wall_time_is_never_read_back_later(epoch: float) -> None:
    # changes-since=<a server's own updated> must list that server, whatever the epoch.
    clock = ManualClock(epoch=epoch)
    rng = random.Random(epoch)
    for _ in range(20_000):
        at = rng.uniform(0, 1000)
        text = clock.wall(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert clock.scenario_time(datetime.fromisoformat(text.replace("Z", "+00:00"))) <= at
