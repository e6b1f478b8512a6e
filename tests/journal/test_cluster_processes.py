"""Cluster mode with real processes: a SIGKILLed leader is taken over, and what it
was watching is resumed by a process started later, none made or ended twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest

import osfutures
from osfutures.journal import Journal
from osfutures.openstack import adopting
from osfutures.testing import FakeCloud
from osfutures.testing.fakecloud.scenario import Scenario

LISTING = "GET /compute/v2.1/servers/detail"

MEMBER = """
import json, sys, time
import osfutures
auth, url, prefix, count, boot = json.loads(sys.argv[1])
monitor = osfutures.Monitor(default_interval=0.2, max_probes_per_second=None)
conn = osfutures.connect(**auth, monitor=monitor, journal=url)
futures = [
    conn.compute.create_server_async(name=f"{prefix}{i}", **boot) for i in range(count)
]
from osfutures.openstack.connection import _listings
shared = _listings[conn.unwrap()]["server"].shared
def say(**what):
    print(json.dumps(what), flush=True)
pending = set(futures)
while pending:
    say(role=shared.role)
    for future in [f for f in pending if f.done()]:
        pending.discard(future)
        say(name=future.name, status=future.result().status)
    time.sleep(0.1)
say(done=True, role=shared.role)
"""


@pytest.fixture
def slow_cloud() -> Iterator[FakeCloud]:
    """Builds of 3 s: long enough to kill a process while its servers build."""
    with FakeCloud(seed=11, scenario=Scenario.fast(seed=11, duration=3.0)) as cloud:
        yield cloud


def start(cloud: FakeCloud, url: str, prefix: str, count: int, boot: dict[str, Any]) -> Any:
    argument = json.dumps([cloud.auth_args(), url, prefix, count, boot])
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(MEMBER), argument],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def lines(process: Any) -> Iterator[dict[str, Any]]:
    assert process.stdout is not None
    for line in process.stdout:
        yield json.loads(line)


def test_a_killed_leader_is_taken_over_and_its_operations_adopted(
    slow_cloud: FakeCloud, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = slow_cloud.connect()
    boot = {
        "flavor_id": next(iter(plain.compute.flavors())).id,
        "image_id": next(iter(plain.image.images())).id,
        "networks": "none",
    }
    Journal.open(pg_url).close()  # the schema, before two processes race to make it
    leader = start(slow_cloud, pg_url, "lead", 4, boot)
    roles = lines(leader)
    assert next(r["role"] for r in roles if r.get("role")) == "leader"
    follower = start(slow_cloud, pg_url, "follow", 4, boot)
    heard = lines(follower)
    assert next(r["role"] for r in heard if r.get("role")) == "follower"
    listed = slow_cloud.context.accounting.requests(LISTING)
    leader.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    leader.wait(10)
    results = {}
    took_over = None
    for report in heard:
        if report.get("role") == "leader" and took_over is None:
            took_over = time.monotonic() - killed_at
        if "status" in report:
            results[report["name"]] = report["status"]
    assert follower.wait(30) == 0
    assert results == {f"create_server follow{i}": "ACTIVE" for i in range(4)}
    assert took_over is not None and took_over < 5, "taken over at once"
    assert slow_cloud.context.accounting.requests(LISTING) > listed

    # A running member of the cluster adopts the killed one's operations by itself:
    # the follower (if still running), else this one, once.
    monkeypatch.setattr(adopting, "FIRST_LOOK", 0.2)
    monitor = osfutures.Monitor(default_interval=0.2, max_probes_per_second=None)
    journal = Journal.open(pg_url, batch_delay=0)
    try:
        lead_rows = [r for r in journal.list() if r["name"].startswith("create_server lead")]
        assert len(lead_rows) == 4
        osfutures.wrap(slow_cloud.connect(), monitor=monitor, journal=journal)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            rows = [journal.get(r["op_id"]) for r in lead_rows]
            if all(r["outcome"] == "succeeded" for r in rows):
                break
            time.sleep(0.2)
        assert all(r["outcome"] == "succeeded" and r["resumed"] for r in rows)
        assert adopting.adopter_for(journal).adopt_now() == 0, "nothing is taken twice"
    finally:
        monitor.shutdown(cancel_futures=True)
        journal.close()
    names = sorted(s.name for s in plain.compute.servers())
    assert names == sorted([f"lead{i}" for i in range(4)] + [f"follow{i}" for i in range(4)])
