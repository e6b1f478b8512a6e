"""`osfutures ops` through its real entry point: a journal written by other processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import osfutures
from osfutures.testing import FakeCloud, Scenario

OSFUTURES = str(Path(sys.executable).with_name("osfutures"))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[FakeCloud, dict[str, str], Path]]:
    with FakeCloud(scenario=Scenario.fast(duration=0.3)) as fake:
        config = fake.write_clouds_yaml(tmp_path / "clouds.yaml")
        journal = tmp_path / "ops.db"
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(config), "OS_CLOUD": "fake"}
        env.pop("OSFUTURES_JOURNAL", None)
        yield fake, env, journal


def ops(env: dict[str, str], journal: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OSFUTURES, "ops", "--journal", str(journal), *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def started_elsewhere(env: dict[str, str], journal: Path, **names: list[str]) -> None:
    """A process that starts server builds (``cloud=[name, ...]``) with a journal
    and dies without waiting: their rows stay unfinished."""
    child = textwrap.dedent(
        f"""
        import os
        import osfutures
        for cloud, names in {names!r}.items():
            conn = osfutures.connect(cloud=cloud, journal={str(journal)!r})
            image = next(iter(conn.image.images())).id
            for name in names:
                conn.compute.create_server_async(
                    name=name, image_id=image, flavor_id="1", networks="none", timeout=600
                )
        conn.journal.flush()
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", child], env=env, check=True, timeout=60)


def failed_here(env: dict[str, str], journal: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A server build on ``fake`` that fails (FakeCloud fails names with ``fail``),
    watched to its end in this process; its op id."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", env["OS_CLIENT_CONFIG_FILE"])
    with osfutures.connect(cloud="fake", journal=str(journal)) as conn:
        image = next(iter(conn.image.images())).id
        future = conn.compute.create_server_async(
            name="fail-1", image_id=image, flavor_id="1", networks="none"
        )
        assert future.exception(timeout=30) is not None
        assert conn.journal is not None and conn.journal.flush()
        op_id = conn.journal.op_id(future)
    assert op_id is not None
    return op_id


def test_list_show_and_resume_what_a_dead_process_left(
    setup: tuple[FakeCloud, dict[str, str], Path],
) -> None:
    _, env, journal = setup
    started_elsewhere(env, journal, fake=["web-1", "web-2"])
    listed = ops(env, journal, "list", "--state", "unfinished")
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split()[-1] for line in listed.stdout.splitlines()) == ["web-1", "web-2"]
    rows: list[dict[str, Any]] = json.loads(ops(env, journal, "list", "--json").stdout)
    shown = json.loads(ops(env, journal, "show", rows[0]["op_id"]).stdout)
    assert shown["op_id"] == rows[0]["op_id"] and shown["call"] == "create_server"
    resumed = ops(env, journal, "resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    results = json.loads(resumed.stdout)["results"]
    assert [r["outcome"] for r in results] == ["succeeded", "succeeded"]
    assert {r["status"] for r in results} == {"ACTIVE"}
    # The outcomes are written to the operations' own rows: nothing is left to resume.
    after: list[dict[str, Any]] = json.loads(ops(env, journal, "list", "--json").stdout)
    assert {r["op_id"]: r["outcome"] for r in after} == {r["op_id"]: "succeeded" for r in rows}
    again = ops(env, journal, "resume")
    assert again.returncode == 0 and "nothing unfinished" in again.stdout


def test_wait_gives_a_failed_operations_exit_code(
    setup: tuple[FakeCloud, dict[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, env, journal = setup
    op_id = failed_here(env, journal, monkeypatch)
    waited = ops(env, journal, "wait", op_id)
    assert waited.returncode == 1 and "failed  ERROR" in waited.stdout
    assert ops(env, journal, "list", "--state", "failed").stdout.count(op_id) == 1
    pruned = ops(env, journal, "prune", "--older-than", "0s")
    assert pruned.returncode == 0 and pruned.stdout.strip() == "removed 1 operation"
    assert ops(env, journal, "list").stdout == ""


def test_usage_errors_give_exit_2(setup: tuple[FakeCloud, dict[str, str], Path]) -> None:
    _, env, journal = setup
    no_journal = subprocess.run(
        [OSFUTURES, "ops", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert no_journal.returncode == 2 and "no journal" in no_journal.stderr
    started_elsewhere(env, journal, fake=[])  # the journal exists
    unknown = ops(env, journal, "show", "no-such-op")
    assert unknown.returncode == 2 and "no operation no-such-op" in unknown.stderr
    assert ops(env, journal, "prune", "--older-than", "soon").returncode == 2
    assert ops(env, journal, "list", "--limit", "0").returncode == 2
    nothing = ops(env, journal, "resume", "--json")  # a script reads JSON even then
    assert nothing.returncode == 0 and json.loads(nothing.stdout)["results"] == []
    missing = ops(env, journal.parent / "nowhere" / "x.db", "list")
    assert missing.returncode == 2 and "--journal" in missing.stderr
