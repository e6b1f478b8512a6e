"""Per-kind deadlines and intervals: from the call, from code, from clouds.yaml."""

from __future__ import annotations

from typing import Any

import pytest

import osfutures
from osfutures.openstack import Waiting
from osfutures.testing import FakeCloud


def _deadline_of(future: osfutures.OperationFuture[Any]) -> float:
    error = future.exception(timeout=10)
    assert isinstance(error, osfutures.OperationTimeout), error
    return error.timeout


def test_a_kinds_deadline_comes_from_the_clouds_osfutures_section(
    cloud: FakeCloud, monitor: osfutures.Monitor, boot: dict[str, Any]
) -> None:
    # As clouds.yaml's `osfutures: {server: {timeout: 0.4}, default: {timeout: 0.6}}`
    # reaches openstacksdk (which hands the values over as strings).
    plain = cloud.connect(osfutures={"server": {"timeout": 0.4}, "default": {"timeout": 0.6}})
    conn = osfutures.wrap(plain, monitor=monitor)
    server = conn.compute.create_server_async(name="stuck-s", **boot)
    volume = conn.block_storage.create_volume_async(name="stuck-v", size=1)
    own = conn.compute.create_server_async(name="stuck-own", timeout=0.8, **boot)
    assert _deadline_of(server) == 0.4
    assert _deadline_of(volume) == 0.6, "the default of kinds not named"
    assert _deadline_of(own) == 0.8, "the call's own timeout first"


def test_waiting_in_code_comes_before_the_clouds(
    cloud: FakeCloud, monitor: osfutures.Monitor, boot: dict[str, Any]
) -> None:
    plain = cloud.connect(osfutures={"server": {"timeout": 100, "interval": 0.05}})
    conn = osfutures.wrap(plain, monitor=monitor, waiting={"server": Waiting(timeout=0.5)})
    future = conn.compute.create_server_async(name="stuck-s", **boot)
    assert _deadline_of(future) == 0.5


def test_retrying_attempts_take_their_kinds_deadline(
    cloud: FakeCloud, monitor: osfutures.Monitor, boot: dict[str, Any]
) -> None:
    conn = osfutures.wrap(
        cloud.connect(), monitor=monitor, waiting={"server": Waiting(timeout=0.4)}
    )
    future = conn.compute.create_server_async_r(name="stuck-r", try_count=2, **boot)
    error = future.exception(timeout=30)
    assert isinstance(error, osfutures.RetriesExhausted)
    assert [type(a.error) for a in error.attempts] == [osfutures.OperationTimeout] * 2


@pytest.mark.parametrize(
    ("section", "error", "names"),
    [
        ({"sever": {"timeout": 5}}, ValueError, r"^osfutures\.sever: not a kind .*'server'"),
        ({"server": {"timeout": "soon"}}, TypeError, r"^osfutures\.server\.timeout: expected"),
        ({"server": {"timeout": -1}}, ValueError, r"^osfutures\.server\.timeout: "),
        ({"server": {"interval": "inf"}}, ValueError, r"^osfutures\.server\.interval: "),
        ({"server": {"tmeout": 5}}, ValueError, r"^osfutures\.server: unknown settings"),
        ({"server": 5}, TypeError, r"^osfutures\.server: expected timeout and interval"),
    ],
)
def test_a_wrong_clouds_section_is_named_where_it_is_written(
    cloud: FakeCloud, section: dict[str, Any], error: type[Exception], names: str
) -> None:
    with pytest.raises(error, match=names):
        osfutures.wrap(cloud.connect(osfutures=section))


def test_wrong_waiting_in_code_is_named(cloud: FakeCloud) -> None:
    with pytest.raises(ValueError, match=r"^waiting: sever: not a kind"):
        osfutures.wrap(cloud.connect(), waiting={"sever": Waiting(timeout=5)})
    with pytest.raises(TypeError, match=r"^waiting\['server'\]: expected Waiting"):
        osfutures.wrap(cloud.connect(), waiting={"server": 5})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"^Waiting\(timeout\)"):
        Waiting(timeout=0)
