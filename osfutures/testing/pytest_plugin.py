"""pytest fixtures for FakeCloud, loaded through the ``pytest11`` entry point.

``fake_cloud`` is a running cloud per test; mark a test with
``@pytest.mark.fake_cloud(seed=..., scenario=..., clock=ManualClock, ...)`` to pass
arguments to :class:`~osfutures.testing.FakeCloud`; a clock given as a class is made
afresh for each test, so a module-wide marker does not share one clock between tests.
``fake_cloud_session`` is one cloud for the whole session (cheaper; tests share its
state). ``fake_conn`` is an openstacksdk connection to ``fake_cloud``.

FakeCloud is imported inside the fixtures, so loading the plugin costs nothing for test
runs that do not use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from openstack.connection import Connection

    from .fakecloud.cloud import FakeCloud

MARKER = "fake_cloud"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``fake_cloud`` marker."""
    config.addinivalue_line(
        "markers", f"{MARKER}(**kwargs): keyword arguments for the fake_cloud fixture's FakeCloud"
    )


@pytest.fixture
def fake_cloud(request: pytest.FixtureRequest) -> Iterator[FakeCloud]:
    """A running FakeCloud for one test, configured by the ``fake_cloud`` marker."""
    from .fakecloud.cloud import FakeCloud

    marker = request.node.get_closest_marker(MARKER)
    kwargs = dict(marker.kwargs) if marker else {}
    if isinstance(kwargs.get("clock"), type):
        kwargs["clock"] = kwargs["clock"]()
    with FakeCloud(**kwargs) as cloud:
        yield cloud


@pytest.fixture(scope="session")
def fake_cloud_session() -> Iterator[FakeCloud]:
    """One running FakeCloud (seed 0, default scenario) shared by the whole session."""
    from .fakecloud.cloud import FakeCloud

    with FakeCloud() as cloud:
        yield cloud


@pytest.fixture
def fake_conn(fake_cloud: FakeCloud) -> Iterator[Connection]:
    """An ``openstack.connection.Connection`` to ``fake_cloud``, closed afterwards."""
    conn = fake_cloud.connect()
    try:
        yield conn
    finally:
        conn.close()
