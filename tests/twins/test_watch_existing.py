"""conn.watch(kind, id): waiting for objects that exist, batched like the twins."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest

import osfutures
from osfutures.testing import FakeCloud

from .conftest import requests


def test_existing_servers_are_waited_for_with_listings_only(
    conn: osfutures.AsyncConnection, cloud: FakeCloud, boot: dict[str, Any]
) -> None:
    plain = conn.unwrap().compute
    ids = [plain.create_server(name=f"old-{i}", **boot).id for i in range(5)]
    futures = [conn.watch("server", i) for i in ids]
    done, _ = concurrent.futures.wait(futures, timeout=30)
    assert done == set(futures)
    assert {f.result().status for f in futures} == {"ACTIVE"}
    assert requests(cloud, "GET /compute/v2.1/servers/{server_id}") == 0, "one listing for all"


def test_a_status_of_ones_own_or_gone(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    server = conn.compute.create_server_async(name="s", **boot).result(timeout=30)
    conn.unwrap().compute.stop_server(server)
    assert conn.watch("server", server.id, status="SHUTOFF").result(timeout=30).status == "SHUTOFF"
    conn.unwrap().compute.delete_server(server)
    assert conn.watch("server", server.id, gone=True).result(timeout=30).id == server.id


def test_a_failure_state_fails_with_the_clouds_explanation(
    conn: osfutures.AsyncConnection,
) -> None:
    volume = conn.unwrap().block_storage.create_volume(size=1, name="fail-old")
    error = conn.watch("volume", volume.id).exception(timeout=30)
    assert isinstance(error, osfutures.OperationFailed) and error.status == "error"
    assert error.details is not None, "Cinder's user message, as for a twin"


def test_watch_checks_its_arguments(conn: osfutures.AsyncConnection) -> None:
    with pytest.raises(ValueError, match=r"^kind: osfutures watches .*server.*; got 'flavor'"):
        conn.watch("flavor", "x")
    with pytest.raises(ValueError, match=r"^status: a wait until gone"):
        conn.watch("server", "x", status="ACTIVE", gone=True)
    with pytest.raises(TypeError, match=r"^resource_id: expected an object's id"):
        conn.watch("server", 7)  # type: ignore[arg-type]
