"""``journal=`` on the OpenStack connections, against FakeCloud over real HTTP: every
future the twins return is a row, with its context; secrets never reach the journal;
the writer never runs on the monitor thread; a process that dies leaves its
operations unfinished, with what re-watching them needs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import tenacity

import osfutures
from osfutures.journal import Journal
from osfutures.journal.schema import Row
from osfutures.journal.sqlite import SQLiteStore
from osfutures.journal.tracking import Context
from osfutures.journal.writer import THREAD_NAME
from osfutures.testing import FakeCloud

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def conn(
    cloud: FakeCloud, monitor: osfutures.Monitor, journal: Journal
) -> osfutures.AsyncConnection:
    return osfutures.wrap(cloud.connect(), monitor=monitor, journal=journal)


def by_name(rows: Sequence[dict[str, Any]]) -> dict[tuple[str | None, str | None], dict[str, Any]]:
    return {(r["call"], r["resource_name"]): r for r in rows}


def test_servers_created_and_deleted_are_rows(
    conn: osfutures.AsyncConnection, journal: Journal, boot: dict[str, Any]
) -> None:
    created = [conn.compute.create_server_async(name=f"web-{i}", **boot) for i in range(3)]
    servers = [f.result(timeout=60) for f in created]
    deleted = [conn.compute.delete_server_async(s) for s in servers]
    for f in deleted:
        f.result(timeout=60)
    assert journal.flush()
    rows = journal.list()
    assert len(rows) == 6
    project = conn.current_project_id
    for row in rows:
        assert (row["cloud"], row["region"], row["project_id"]) == (
            "defaults",
            "RegionOne",
            project,
        )
        assert row["service"] == "compute" and row["outcome"] == "succeeded"
        assert row["ended_at"] >= row["created_at"] and row["updated_at"] >= row["created_at"]
        assert row["error"] is None and row["attempts"] == []
        assert row["host"] and row["pid"]
    rows_by = by_name(rows)
    for future, server in zip(created, servers, strict=True):
        row = rows_by["create_server", server.name]
        assert row["op_id"] == journal.op_id(future) and row["local_id"] == future.id
        assert row["resource_id"] == row["result_id"] == server.id
        assert row["request"]["arguments"]["name"] == server.name
        assert row["watch"] == {
            "twin": "create_server_async",
            "timeout": None,
            "interval": None,
            "tagged": True,  # the create carried its op id (metadata osfutures_op)
        }
        statuses = [s["status"] for s in row["statuses"]]
        # Written before the create was sent ("sending"), then as Nova showed it.
        assert statuses[:2] == ["sending", "BUILD"] and statuses[-1] == "ACTIVE"
        times = [s["at"] for s in row["statuses"]]
        assert times == sorted(times)
        gone = rows_by["delete_server", server.name]
        assert gone["resource_id"] == server.id
        assert gone["watch"]["twin"] == "delete_server_async"
    assert journal.unfinished() == []
    assert [r["outcome"] for r in journal.list(outcome="failed")] == []


def test_a_failed_build_keeps_its_error(
    conn: osfutures.AsyncConnection, journal: Journal, boot: dict[str, Any]
) -> None:
    future = conn.compute.create_server_async(name="fail-build", **boot)
    assert isinstance(future.exception(timeout=60), osfutures.OperationFailed)
    assert journal.flush()
    row = journal.get(journal.op_id(future) or "")
    assert row["outcome"] == "failed" and row["status"] == "ERROR"
    assert row["error"]["type"] == "osfutures.errors.OperationFailed"
    assert "fail-build" in row["error"]["message"]
    assert row["result_id"] is None and row["resource_id"] == future.resource_id


def test_a_retrying_twin_is_one_row_with_its_attempts(
    conn: osfutures.AsyncConnection, journal: Journal, boot: dict[str, Any]
) -> None:
    seen: list[Row] = []
    journal._writer.on_batch = seen.extend
    future = conn.compute.create_server_async_r(
        name="fail-twice", try_count=2, tout=30, wait=tenacity.wait_fixed(0.05), **boot
    )
    assert isinstance(future.exception(timeout=60), osfutures.RetriesExhausted)
    good = conn.compute.create_server_async_r(name="fine", try_count=2, tout=30, **boot)
    good.result(timeout=60)
    assert journal.flush()
    rows = journal.list()
    assert len(rows) == 2, "attempts and their cleanups are no rows of their own"
    failed = journal.get(journal.op_id(future) or "")
    assert failed["outcome"] == "failed"
    assert failed["error"]["type"] == "osfutures.errors.RetriesExhausted"
    assert [a["outcome"] for a in failed["attempts"]] == ["failed", "failed"]
    assert all(a["ended_at"] and a["cleanup_error"] is None for a in failed["attempts"])
    assert len({a["resource_id"] for a in failed["attempts"]}) == 2
    assert failed["watch"] == {
        "twin": "create_server_async_r",
        "try_count": 2,
        "tout": 30,
        "timeout": None,
        "interval": None,
        "cleanup_last": True,
        "reraise": False,
        "custom": ["wait"],
        "tagged": True,
    }
    # The attempts showed as they came: the first over, the second under way.
    mine = [r.record["attempts"] for r in seen if r.op_id == failed["op_id"]]
    assert any([a["outcome"] for a in attempts] == ["failed", "running"] for attempts in mine), mine
    fine = journal.get(journal.op_id(good) or "")
    assert [a["outcome"] for a in fine["attempts"]] == ["succeeded"]
    assert fine["result_id"] == good.result().id == fine["resource_id"]
    assert fine["resource_name"] == "fine"


SECRETS = ("S3cret-admin-pass", "cloud-init-S3cret", "PK-S3cret-key", "tok-S3cret")


def test_secrets_never_reach_the_journal(
    conn: osfutures.AsyncConnection,
    journal: Journal,
    journal_path: Path,
    boot: dict[str, Any],
) -> None:
    admin_pass, user_data, key, token = SECRETS
    future = conn.compute.create_server_async(
        name="secretive",
        admin_pass=admin_pass,
        user_data=user_data,
        metadata={"private_key": key, "auth_token": token, "role": "db"},
        **boot,
    )
    future.result(timeout=60)
    # The create's own answer (Nova's adminPass in it) passed back to a twin.
    conn.compute.delete_server_async(future.sync_res).result(timeout=60)
    assert journal.flush()
    row = journal.get(journal.op_id(future) or "")
    arguments = row["request"]["arguments"]
    assert arguments["admin_pass"] == arguments["user_data"] == "<redacted>"
    assert arguments["metadata"] == {
        "private_key": "<redacted>",
        "auth_token": "<redacted>",
        "role": "db",
        "osfutures_op": row["op_id"],
    }
    text = json.dumps(journal.list())
    stored = b"".join(p.read_bytes() for p in journal_path.parent.iterdir())
    for secret in SECRETS:
        assert secret not in text
        assert secret.encode() not in stored, f"{secret} is in the journal's files"


def test_the_writer_never_runs_on_the_monitor_thread(
    cloud: FakeCloud, monitor: osfutures.Monitor, journal_path: Path, boot: dict[str, Any]
) -> None:
    journal_path.parent.mkdir()

    threads: list[str] = []

    class Recording(SQLiteStore):
        def write(self, rows: Sequence[Row]) -> list[bool]:
            threads.append(threading.current_thread().name)
            return super().write(rows)

    store = Recording(str(journal_path))
    journal = Journal(store, batch_delay=0)
    project_asked_on: list[str] = []
    conn = osfutures.wrap(cloud.connect(), monitor=monitor, journal=journal)
    futures = [conn.compute.create_server_async(name=f"t-{i}", **boot) for i in range(4)]
    futures.append(conn.compute.create_server_async_r(name="t-r", try_count=1, **boot))
    for f in futures:
        f.result(timeout=60)
    own = osfutures.OperationFuture(name="own")
    journal.track(
        own,
        context=Context(project=lambda: project_asked_on.append(threading.current_thread().name)),
    )
    own.set_result(None)
    assert journal.flush()
    assert threads and set(threads) == {THREAD_NAME}
    assert monitor.name not in threads
    assert project_asked_on == [THREAD_NAME], "a project lookup costs the caller nothing"
    journal.close()


def test_which_journal(
    cloud: FakeCloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = cloud.connect()
    from_env, explicit = tmp_path / "env.db", tmp_path / "explicit.db"
    assert osfutures.wrap(plain).journal is None
    monkeypatch.setenv("OSFUTURES_JOURNAL", str(from_env))
    env_journal = osfutures.wrap(plain).journal
    assert env_journal is not None and env_journal.target == str(from_env)
    assert osfutures.wrap(plain).journal is env_journal, "one journal per file and process"
    assert osfutures.wrap(plain, journal=False).journal is None
    chosen = osfutures.wrap(plain, journal=explicit).journal
    assert chosen is not None and chosen.target == str(explicit)
    assert osfutures.wrap(plain, journal=f"sqlite:///{explicit}").journal is chosen
    with Journal.open(tmp_path / "own.db") as own:
        assert osfutures.wrap(plain, journal=own).journal is own
    monkeypatch.setenv("OSFUTURES_JOURNAL", str(tmp_path / "missing" / "ops.db"))
    with pytest.raises(FileNotFoundError, match=r"OSFUTURES_JOURNAL: the directory"):
        osfutures.wrap(plain)
    monkeypatch.setenv("OSFUTURES_JOURNAL", "")
    assert osfutures.wrap(plain).journal is None
    with pytest.raises(FileNotFoundError, match=r"^journal: the directory"):
        osfutures.wrap(plain, journal=tmp_path / "missing" / "ops.db")
    with pytest.raises(TypeError, match="journal: expected a path"):
        osfutures.wrap(plain, journal=True)
    plain.close()


def test_connect_takes_journal_too(cloud: FakeCloud, tmp_path: Path) -> None:
    conn = osfutures.connect(**cloud.auth_args(), journal=tmp_path / "ops.db")
    assert conn.journal is not None and conn.journal.target == str(tmp_path / "ops.db")


DIES = """
import json, os, sys
import openstack.connection
import osfutures

args, path = json.loads(sys.argv[1]), sys.argv[2]
conn = osfutures.wrap(openstack.connection.Connection(**args), journal=path)
boot = json.loads(sys.argv[3])
stuck = conn.compute.create_server_async(name="stuck-forever", timeout=3600, **boot)
retried = conn.compute.create_server_async_r(name="stuck-too", try_count=3, tout=600, **boot)
assert conn.journal.flush(timeout=30)
print(json.dumps([conn.journal.op_id(stuck), conn.journal.op_id(retried)]))
sys.stdout.flush()
os._exit(0)  # dies: no exit handler, no monitor shutdown, the cloud goes on
"""


def test_a_process_that_dies_leaves_its_operations_unfinished(
    cloud: FakeCloud, journal_path: Path, boot: dict[str, Any]
) -> None:
    journal_path.parent.mkdir()
    died = subprocess.run(
        [
            sys.executable,
            "-c",
            DIES,
            json.dumps(cloud.auth_args()),
            str(journal_path),
            json.dumps(boot),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert died.returncode == 0, died.stderr
    stuck_id, retried_id = json.loads(died.stdout)
    with Journal.open(journal_path) as journal:
        left = journal.unfinished()
        assert [r["op_id"] for r in left] == [stuck_id, retried_id], "oldest first"
        stuck, retried = left
        # What re-watching needs: where, which call, on what, and how it was waited for.
        assert stuck["cloud"] == "defaults" and stuck["region"] == "RegionOne"
        assert stuck["project_id"]
        assert (stuck["service"], stuck["call"]) == ("compute", "create_server")
        assert stuck["request"]["arguments"]["name"] == "stuck-forever"
        assert stuck["resource_id"] in {s.id for s in cloud.connect().compute.servers()}
        assert stuck["watch"]["twin"] == "create_server_async"
        assert stuck["watch"]["timeout"] == 3600
        assert stuck["outcome"] == "pending" and stuck["ended_at"] is None
        assert retried["watch"]["twin"] == "create_server_async_r"
        assert retried["watch"]["tout"] == 600 and retried["watch"]["try_count"] == 3
        assert [a["outcome"] for a in retried["attempts"]] == ["running"]
        assert retried["attempts"][0]["resource_id"] == retried["resource_id"]
    # A continuation token in each row: another process watches them again.
    monitor = osfutures.Monitor(default_interval=0.1)
    try:
        conn = osfutures.wrap(cloud.connect(), monitor=monitor, journal=False)
        for row in (stuck, retried):
            again = conn.resume(row["token"])
            assert again.resource_id == row["resource_id"] and not again.done()
    finally:
        monitor.shutdown(cancel_futures=True)
