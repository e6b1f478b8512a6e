"""`openstack operation list|show|wait|resume|prune`: the osfutures plugin, through the
real `openstack` command, on a journal filled by twins against a FakeCloud over HTTP.

The clouds.yaml has two entries for the same FakeCloud, ``fake`` and ``other``: rows
name the cloud they were started on, and the client lists (and resumes) those of the
cloud it is on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cli_ops import failed_here, started_elsewhere

from osfutures.testing import FakeCloud, Scenario

OPENSTACK = str(Path(sys.executable).with_name("openstack"))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[FakeCloud, dict[str, str], Path]]:
    """A FakeCloud known as ``fake`` and ``other``, the client on ``fake``, and where
    the journal goes (not created)."""
    with FakeCloud(scenario=Scenario.fast(duration=0.3)) as fake:
        config = fake.write_clouds_yaml(tmp_path / "clouds.yaml", "fake")
        other = fake.write_clouds_yaml(tmp_path / "other.yaml", "other").read_text()
        with config.open("a") as both:  # the second file's entry, under the same "clouds:"
            both.write(other.split("\n", 1)[1])
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(config), "OS_CLOUD": "fake"}
        env.pop("OSFUTURES_JOURNAL", None)
        yield fake, env, tmp_path / "ops.db"


def openstack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([OPENSTACK, *args], env=env, capture_output=True, text=True, timeout=120)
    assert "Failed to import plugin" not in done.stderr, done.stderr
    return done


def operation(env: dict[str, str], journal: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``openstack operation ACTION ... --journal JOURNAL``."""
    return openstack(env, "operation", *args, "--journal", str(journal))


def requests(cloud: FakeCloud) -> int:
    """How many requests the FakeCloud has answered, all kinds."""
    counts: dict[str, int] = cloud.stats()["requests"]
    return sum(counts.values())


def test_list_shows_the_clients_cloud_and_show_the_record_without_authenticating(
    setup: tuple[FakeCloud, dict[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, env, journal = setup
    started_elsewhere(env, journal, other=["elsewhere-1"], fake=["web-1", "web-2"])
    op_id = failed_here(env, journal, monkeypatch)
    before = requests(fake)

    listed = operation(env, journal, "list", "-f", "json")
    assert listed.returncode == 0, listed.stderr
    rows: list[dict[str, Any]] = json.loads(listed.stdout)
    assert [r["Name"] for r in rows] == [
        "create_server fail-1", "create_server web-2", "create_server web-1"
    ]  # fmt: skip
    assert set(rows[0]) == {"ID", "Name", "Outcome", "Status", "Updated"}
    assert rows[0]["ID"] == op_id and rows[0]["Outcome"] == "failed"
    assert isinstance(rows[0]["Updated"], float)  # the journal's own value in JSON

    everywhere = json.loads(operation(env, journal, "list", "--all-clouds", "-f", "json").stdout)
    assert sorted(r["Cloud"] for r in everywhere) == ["fake"] * 3 + ["other"]
    unfinished = operation(env, journal, "list", "--state", "unfinished", "--limit", "1",
                           "-c", "Name", "-f", "value")  # fmt: skip
    assert unfinished.stdout == "create_server web-2\n"  # the newest of those unfinished

    shown = operation(env, journal, "show", op_id, "-f", "json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["op_id"] == op_id and record["cloud"] == "fake"
    assert record["request"]["arguments"]["name"] == "fail-1"
    assert record["error"]["message"].startswith("create_server fail-1")
    assert [s["status"] for s in record["statuses"]][-1] == "ERROR"

    table = operation(env, journal, "show", op_id)  # what an operator reads
    lines = {line.split("|")[1].strip(): line.split("|")[2].strip()
             for line in table.stdout.splitlines() if line.startswith("| ")}  # fmt: skip
    assert lines["error"].startswith("OperationFailed: create_server fail-1")
    assert lines["created_at"][:2] == "20" and lines["created_at"][10] == " "  # a time, local
    assert requests(fake) == before  # list and show read the journal, not the cloud


def test_resume_watches_what_a_dead_process_left_on_the_clients_cloud(
    setup: tuple[FakeCloud, dict[str, str], Path],
) -> None:
    _, env, journal = setup
    started_elsewhere(env, journal, fake=["web-1", "web-2"], other=["elsewhere-1"])
    resumed = operation(env, journal, "resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    results = json.loads(resumed.stdout)["results"]
    assert [(r["outcome"], r["status"]) for r in results] == [("succeeded", "ACTIVE")] * 2

    on_other = openstack({**env, "OS_CLOUD": "other"}, "operation", "resume",
                         "--journal", str(journal))  # fmt: skip
    assert on_other.returncode == 0, on_other.stderr
    assert on_other.stdout.endswith("  succeeded  ACTIVE\n")  # plain lines: not a terminal
    assert len(on_other.stdout.splitlines()) == 1


def test_wait_exit_codes_and_prune(
    setup: tuple[FakeCloud, dict[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, env, journal = setup
    op_id = failed_here(env, journal, monkeypatch)
    waited = operation(env, journal, "wait", op_id)
    assert waited.returncode == 1
    assert "  failed  ERROR  OperationFailed: create_server fail-1" in waited.stdout
    as_json = json.loads(operation(env, journal, "wait", op_id, "--json").stdout)
    assert [r["outcome"] for r in as_json["results"]] == ["failed"]
    on_other = openstack({**env, "OS_CLOUD": "other"}, "operation", "wait", op_id,
                         "--journal", str(journal))  # fmt: skip
    assert on_other.returncode == 2 and "cloud 'fake'" in on_other.stderr  # and not 'other'

    pruned = operation(env, journal, "prune", "--older-than", "0s")
    assert pruned.returncode == 0 and pruned.stdout == "removed 1 operation\n"
    assert operation(env, journal, "list", "-f", "value").stdout == ""


def test_the_journal_comes_from_the_environment_and_usage_errors_give_exit_2(
    setup: tuple[FakeCloud, dict[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, env, journal = setup
    op_id = failed_here(env, journal, monkeypatch)
    no_journal = openstack(env, "operation", "list")
    assert no_journal.returncode == 2
    assert no_journal.stderr.strip() == (
        "openstack operation list: no journal: give --journal or set OSFUTURES_JOURNAL"
    )
    from_env = openstack({**env, "OSFUTURES_JOURNAL": str(journal)}, "operation", "list",
                         "-c", "ID", "-f", "value")  # fmt: skip
    assert from_env.returncode == 0 and from_env.stdout == f"{op_id}\n"
    unknown = operation(env, journal, "show", "no-such-op")
    assert unknown.returncode == 2
    assert "openstack operation show: no operation no-such-op in this journal" in unknown.stderr
    bad_age = operation(env, journal, "list", "--since", "soon")
    assert bad_age.returncode == 2 and "argument --since: need an age" in bad_age.stderr
