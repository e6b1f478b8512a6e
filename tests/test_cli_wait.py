"""`osfutures wait` through its real entry point, against a FakeCloud in clouds.yaml."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osfutures.testing import FakeCloud, Scenario

OSFUTURES = str(Path(sys.executable).with_name("osfutures"))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeCloud, dict[str, str]]]:
    with FakeCloud(scenario=Scenario.fast(duration=0.3)) as fake:
        config = fake.write_clouds_yaml(tmp_path_factory.mktemp("cli") / "clouds.yaml")
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(config), "OS_CLOUD": "fake"}
        yield fake, env


def boot(cloud: FakeCloud, *names: str) -> list[str]:
    conn = cloud.connect()
    image = next(iter(conn.image.images())).id
    return [
        conn.compute.create_server(name=n, image_id=image, flavor_id="1", networks="none").id
        for n in names
    ]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OSFUTURES, "wait", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_every_server_reaches_its_state_exit_0(cloud: tuple[FakeCloud, dict[str, str]]) -> None:
    fake, env = cloud
    ids = boot(fake, "web-1", "web-2")
    done = run(env, "server", *ids, "--interval", "0.1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(ids)
    assert all("  succeeded  ACTIVE" in line for line in lines)


def test_a_failure_gives_exit_1_and_json_says_why(
    cloud: tuple[FakeCloud, dict[str, str]],
) -> None:
    fake, env = cloud
    good, bad = boot(fake, "db-1", "fail-db")
    done = run(env, "server", good, bad, "--json", "--interval", "0.1")
    assert done.returncode == 1
    results: dict[str, Any] = {r["id"]: r for r in json.loads(done.stdout)["results"]}
    assert results[good]["outcome"] == "succeeded" and results[good]["status"] == "ACTIVE"
    assert results[bad]["outcome"] == "failed" and results[bad]["status"] == "ERROR"
    assert "No valid host" in results[bad]["error"]


def test_a_deadline_gives_exit_3_and_gone_waits_for_deletion(
    cloud: tuple[FakeCloud, dict[str, str]],
) -> None:
    fake, env = cloud
    (stuck,) = boot(fake, "stuck-1")
    done = run(env, "server", stuck, "--timeout", "1", "--interval", "0.1")
    assert done.returncode == 3 and "timed_out" in done.stdout
    fake.connect().compute.delete_server(stuck)
    gone = run(env, "server", stuck, "--gone", "--interval", "0.1")
    assert gone.returncode == 0 and "  succeeded  DELETED" in gone.stdout


def test_usage_errors_give_exit_2(cloud: tuple[FakeCloud, dict[str, str]]) -> None:
    _, env = cloud
    assert run(env, "flavor", "x").returncode == 2
    assert run(env, "server", "x", "--timeout", "0").returncode == 2
    bad = run(env, "server", "x", "--os-cloud", "nowhere")
    assert bad.returncode == 2 and "cannot connect" in bad.stderr


def test_ctrl_c_stops_at_once_and_says_what_still_runs(
    cloud: tuple[FakeCloud, dict[str, str]],
) -> None:
    fake, env = cloud
    (stuck,) = boot(fake, "stuck-2")
    proc = subprocess.Popen(
        [OSFUTURES, "wait", "server", stuck, "--interval", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert f"still running in the cloud: {stuck}" in err


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux's script(1)")
def test_on_a_terminal_a_live_table_gives_way_to_the_outcome(
    cloud: tuple[FakeCloud, dict[str, str]],
) -> None:
    fake, env = cloud
    (server,) = boot(fake, "tty-1")
    command = f"stty cols 80; {OSFUTURES} wait server {server} --interval 0.1"
    done = subprocess.run(
        ["script", "-qec", command, "/dev/null"], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert f"{server}  succeeded  ACTIVE" in done.stdout


OPENSTACK = str(Path(sys.executable).with_name("openstack"))


def test_the_openstack_client_waits_through_the_plugin(
    cloud: tuple[FakeCloud, dict[str, str]],
) -> None:
    fake, env = cloud
    good, bad = boot(fake, "osc-1", "fail-osc")
    done = subprocess.run(
        [OPENSTACK, "server", "wait", good, bad, "--json", "--interval", "0.1"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "Failed to import plugin" not in done.stderr, done.stderr
    assert done.returncode == 1
    results = {r["id"]: r["outcome"] for r in json.loads(done.stdout)["results"]}
    assert results == {good: "succeeded", bad: "failed"}


def test_every_kind_has_an_openstack_command() -> None:
    from importlib.metadata import entry_points

    from osfutures.cli.wait import KINDS

    commands = {e.name for e in entry_points(group="openstack.osfutures.v1")}
    operations = {f"operation_{a}" for a in ("list", "show", "wait", "resume", "prune")}
    assert commands == {f"{kind}_wait" for kind in KINDS} | operations
