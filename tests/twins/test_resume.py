"""Continuation tokens: future.token() and conn.resume(token), in this process or another."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import osfutures
from osfutures import tokens
from osfutures.testing import FakeCloud

from .conftest import BUILD_SECONDS


@pytest.fixture
def other(cloud: FakeCloud, monitor: osfutures.Monitor) -> osfutures.AsyncConnection:
    """A second connection to the same cloud, as another process would have."""
    return osfutures.wrap(cloud.connect(), monitor=monitor)


def test_a_token_resumes_a_create_on_another_connection(
    conn: osfutures.AsyncConnection, other: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    future = conn.compute.create_server_async(name="web-1", **boot)
    resumed = other.resume(future.token())
    assert resumed.name == future.name == "create_server web-1"
    server = resumed.result(timeout=30)
    assert server.id == future.resource_id and server.status == "ACTIVE"
    assert resumed.token() == future.token(), "a resumed operation hands on the same token"


def test_an_operation_that_ended_unwatched_resolves_at_once(
    conn: osfutures.AsyncConnection, other: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    server = conn.compute.create_server_async(name="web-2", **boot).result(timeout=30)
    deletion = conn.compute.delete_server_async(server)
    deletion.result(timeout=30)
    resumed = other.resume(deletion.token())
    assert resumed.done(), "decided by the look made when it was resumed"
    assert resumed.outcome == "succeeded" and resumed.status == "DELETED"


def test_a_token_made_in_a_process_that_died_resumes_here(
    cloud: FakeCloud, other: osfutures.AsyncConnection
) -> None:
    child = textwrap.dedent(
        """
        import json, os, sys
        import openstack.connection
        import osfutures

        args = json.loads(sys.stdin.read())
        conn = osfutures.wrap(openstack.connection.Connection(**args))
        image = next(iter(conn.image.images())).id
        future = conn.compute.create_server_async(
            name="orphan", image_id=image, flavor_id="1", networks="none"
        )
        print(future.token(), flush=True)
        os._exit(0)  # gone without waiting: nobody watches the build any more
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child],
        input=json.dumps(cloud.auth_args()),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    server = other.resume(done.stdout.strip()).result(timeout=30)
    assert server.name == "orphan" and server.status == "ACTIVE"


def test_a_resumed_action_is_explained_as_its_twin_would_be(
    conn: osfutures.AsyncConnection, other: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    server = conn.compute.create_server_async(name="revert-3", **boot).result(timeout=30)
    stop = conn.compute.stop_server_async(server)
    error = other.resume(stop.token()).exception(timeout=30)
    assert isinstance(error, osfutures.OperationFailed) and error.status == "ACTIVE"
    assert error.details is not None and error.details["action"] == "stop"


def test_past_its_deadline_a_resumed_operation_gets_one_look(
    conn: osfutures.AsyncConnection, other: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    stuck = conn.compute.create_server_async(name="stuck-4", timeout=BUILD_SECONDS, **boot)
    assert isinstance(stuck.exception(timeout=30), osfutures.OperationTimeout)
    error = other.resume(stuck.token()).exception(timeout=30)
    assert isinstance(error, osfutures.OperationTimeout) and error.status == "BUILD"
    more = other.resume(stuck.token(), timeout=600)
    assert not more.done(), "a timeout of the caller's own replaces the token's deadline"
    more.cancel()


def test_a_token_holds_no_secret_and_only_resumes_on_its_own_project(
    conn: osfutures.AsyncConnection, other: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    future = conn.compute.create_server_async(
        name="web-5", admin_password="s3cret-pw", user_data="c2VjcmV0", **boot
    )
    token = future.token()
    assert "s3cret" not in json.dumps(tokens.decode(token)) and "c2VjcmV0" not in token
    state = tokens.decode(token)
    state["project"] = "someone-else"
    with pytest.raises(ValueError, match=r"^token: its operation is in project 'someone-else'"):
        other.resume(tokens.encode(state))
    with pytest.raises(ValueError, match=r"^token: not an osfutures token"):
        other.resume("eyJzZXJ2aWNlIjogImNvbXB1dGUifQ")
    with pytest.raises(ValueError, match=r"^token: damaged"):
        other.resume(tokens.PREFIX + "!!!")
    future.result(timeout=30)


def test_only_a_twins_future_has_a_token(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="a token watches one object of a plain"):
        osfutures.OperationFuture(name="mine").token()
    retrying = conn.compute.create_server_async_r(name="r", try_count=2, **boot)
    with pytest.raises(ValueError, match=r"goes on from its journal row \(osfutures.resume\)"):
        retrying.token()
    retrying.result(timeout=30)
