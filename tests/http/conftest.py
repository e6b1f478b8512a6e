"""Fixtures of the tests of osfutures.http: loopback services and monitors.

This directory is no package (``tests/http`` would shadow the standard library's
``http``): its modules import the helpers as ``from loopback import ...``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loopback import Harness, Service

from osfutures import ManualClock, Monitor


@pytest.fixture
def service() -> Iterator[Service]:
    s = Service()
    yield s
    s.close()
    assert not s.unrouted, f"requests no test expected: {[(u.method, u.path) for u in s.unrouted]}"


@pytest.fixture
def other() -> Iterator[Service]:
    """A second service: another origin (same host, another port)."""
    s = Service()
    yield s
    s.close()
    assert not s.unrouted, f"requests no test expected: {[(u.method, u.path) for u in s.unrouted]}"


@pytest.fixture
def h() -> Iterator[Harness]:
    clock = ManualClock()
    monitor = Monitor(clock=clock, default_interval=1.0, max_probes_per_second=None, seed=1)
    yield Harness(clock, monitor)
    monitor.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def live() -> Iterator[Monitor]:
    """A monitor on the real clock that polls every 50 ms (for timing tests)."""
    monitor = Monitor(default_interval=0.05, max_probes_per_second=None, seed=1)
    yield monitor
    monitor.shutdown(wait=True, cancel_futures=True)
