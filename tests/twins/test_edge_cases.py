"""Twins in the corners: rate limits, clock skew, races, stopped servers, leaks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from keystoneauth1 import exceptions as ks_exc

import osfutures
from osfutures.openstack.specs import specs_for
from osfutures.testing import FakeCloud
from osfutures.testing.fakecloud.scenario import DEFAULT_RULES, NameRule, Outcome, Scenario
from osfutures.watch import Verdict

from .conftest import BUILD_SECONDS, requests

SERVERS_DETAIL = "GET /compute/v2.1/servers/detail"


def _boot(conn: osfutures.AsyncConnection) -> dict[str, Any]:
    flavor = next(iter(conn.compute.flavors()))
    image = next(iter(conn.image.images()))
    return {"flavor_id": flavor.id, "image_id": image.id, "networks": "none"}


def test_rate_limited_poll_413_is_polled_through(
    cloud: FakeCloud, conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    futures = [conn.compute.create_server_async(name=f"o{i}", timeout=20, **boot) for i in range(3)]
    cloud.faults.inject("overlimit", 1, route=SERVERS_DETAIL, retry_after=0.1)
    assert [repr(f.exception(timeout=20)) for f in futures] == ["None"] * 3


class LateClock(osfutures.SystemClock):
    """Real time, but a wall clock ten minutes behind ours."""

    def wall(self) -> float:
        return time.time() - 600


@pytest.fixture
def late_cloud() -> Iterator[FakeCloud]:
    clock = LateClock()
    scenario = Scenario.fast(seed=7, duration=BUILD_SECONDS)
    with FakeCloud(seed=7, clock=clock, scenario=scenario) as c:
        yield c


def test_server_is_seen_active_when_the_cloud_clock_is_behind(
    late_cloud: FakeCloud, monitor: osfutures.Monitor
) -> None:
    conn = osfutures.wrap(late_cloud.connect(), monitor=monitor)
    future = conn.compute.create_server_async(name="skew", timeout=4, **_boot(conn))
    assert repr(future.exception(timeout=10)) == "None"


def test_rebuild_of_a_stopped_server_succeeds(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    server = conn.compute.create_server_async(name="rb", **boot).result(timeout=30)
    conn.compute.stop_server_async(server).result(timeout=30)
    future = conn.compute.rebuild_server_async(server, image=boot["image_id"], timeout=20)
    assert repr(future.exception(timeout=30)) == "None"
    assert future.result().status == "SHUTOFF"


def test_confirm_resize_of_a_stopped_server_succeeds(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    other = next(f.id for f in conn.compute.flavors() if f.id != boot["flavor_id"])
    server = conn.compute.create_server_async(name="rs", **boot).result(timeout=30)
    conn.compute.stop_server_async(server).result(timeout=30)
    conn.compute.resize_server_async(server, other).result(timeout=30)
    future = conn.compute.confirm_server_resize_async(server, timeout=20)
    assert repr(future.exception(timeout=30)) == "None"


def test_retry_does_not_relaunch_over_an_undeleted_object(
    conn: osfutures.AsyncConnection,
) -> None:
    future = conn.block_storage.create_volume_async_r(name="stuck-v", size=1, tout=0.5, try_count=2)
    future.exception(timeout=30)
    left = [v for v in conn.block_storage.volumes() if v.name == "stuck-v"]
    assert len(left) <= 1, [a.cleanup_error for a in future.attempts]


@pytest.fixture
def restore_fails_cloud() -> Iterator[FakeCloud]:
    rules = (NameRule("bad", Outcome.ERROR, frozenset({"restore"})), *DEFAULT_RULES)
    scenario = Scenario.fast(seed=7, duration=BUILD_SECONDS, rules=rules)
    with FakeCloud(seed=7, scenario=scenario) as c:
        yield c


def test_failed_restore_retries_clean_up_the_new_volume(
    restore_fails_cloud: FakeCloud, monitor: osfutures.Monitor
) -> None:
    bs = osfutures.wrap(restore_fails_cloud.connect(), monitor=monitor).block_storage
    volume = bs.create_volume_async(name="src", size=1).result(timeout=30)
    backup = bs.create_backup_async(volume_id=volume.id, name="bad-b").result(timeout=30)
    future = bs.restore_backup_async_r(backup, name="restored", try_count=2, tout=10)
    assert isinstance(future.exception(timeout=60), osfutures.RetriesExhausted)
    assert [v.status for v in bs.volumes() if v.name == "restored"] == []


def test_async_r_does_not_relaunch_a_create_whose_answer_was_lost(
    cloud: FakeCloud, conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    # The POST may have created the server before the connection dropped: a relaunch
    # could leave a second, unwatched one. The error reaches the caller instead.
    cloud.faults.inject("drop", 1, route="POST /compute/v2.1/servers$")
    with pytest.raises(ks_exc.ConnectionError):
        conn.compute.create_server_async_r(name="d", tout=20, **boot)


def test_request_record_holds_no_image_data(conn: osfutures.AsyncConnection) -> None:
    data = b"-----BEGIN PRIVATE KEY-----" + b"x" * 5000
    future = conn.image.create_image_async(
        name="img", data=data, disk_format="qcow2", container_format="bare"
    )
    record = json.dumps(future.record())
    future.result(timeout=30)
    assert "PRIVATE KEY" not in record and len(record) < 2000


def test_create_stack_rollback_is_a_failure() -> None:
    states = specs_for("orchestration")["create_stack"].states({})
    assert states.verdict("ROLLBACK_COMPLETE") is Verdict.FAILED
    assert states.verdict("ROLLBACK_FAILED") is Verdict.FAILED


def test_a_server_deleted_while_its_create_is_watched_fails_at_once(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    future = conn.compute.create_server_async(name="short-lived", timeout=600, **boot)
    # Once nova-conductor has made it an instance: Nova deletes a server that is still a
    # build request without a trace (no DELETED entry, a GET answers 404), which FakeCloud
    # now does too.
    deadline = time.monotonic() + 10
    while conn.compute.get_server(future.sync_res).task_state == "scheduling":
        assert time.monotonic() < deadline
        time.sleep(0.005)
    conn.compute.delete_server(future.sync_res)  # someone else deletes it mid-build
    error = future.exception(timeout=30)
    assert isinstance(error, osfutures.ResourceGone), "not a wait for the deadline"
    assert error.resource is not None and error.resource.status == "DELETED"


def test_a_server_deleted_while_still_a_build_request_fails_its_create(
    monitor: osfutures.Monitor,
) -> None:
    # Scheduling is a build's first 15%: 9 s here, time to list it and delete it.
    with FakeCloud(seed=7, scenario=Scenario.fast(seed=7, duration=60)) as cloud:
        conn = osfutures.wrap(cloud.connect(), monitor=monitor)
        future = conn.compute.create_server_async(name="unscheduled", timeout=600, **_boot(conn))
        deadline = time.monotonic() + 10
        while requests(cloud, SERVERS_DETAIL) == 0:  # listed once, as a build request
            assert time.monotonic() < deadline
            time.sleep(0.01)
        conn.compute.delete_server(future.sync_res)
        assert conn.compute.find_server(future.sync_res.id) is None, "gone without a trace"
        error = future.exception(timeout=30)
        assert isinstance(error, osfutures.ResourceGone), "not a wait for the deadline"
