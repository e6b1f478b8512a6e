"""The _async_r twins take every option of osfutures.retrying(), against FakeCloud over
real HTTP: custom tenacity strategies and hooks reach the twin, and a refused one is
refused before the plain call, so nothing is created."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import tenacity

import osfutures
from osfutures.testing import FakeCloud

from .conftest import requests

CREATE = "POST /compute/v2.1/servers"
DELETE = "DELETE /compute/v2.1/servers/{server_id}"
# The twin sets these itself: its name is the call's, its monitor the connection's, its
# request what the first attempt asked (and ``name=`` goes to the plain call).
SET_BY_THE_TWIN = {"name", "request", "monitor"}


def _servers_ever(cloud: FakeCloud) -> int:
    """How many servers FakeCloud ever had, deleted ones included."""
    return len(cloud.stats()["transitions"].get("server", {}))


def test_every_retrying_option_reaches_the_twin(conn: osfutures.AsyncConnection) -> None:
    options = {
        name: param.default
        for name, param in inspect.signature(osfutures.retrying).parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY and name not in SET_BY_THE_TWIN
    }
    twin = inspect.signature(conn.compute.create_server_async_r).parameters
    assert {name: twin[name].default for name in options if name in twin} == options


def test_custom_wait_and_stop_reach_the_twin(
    cloud: FakeCloud, conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    asked: list[int] = []
    pauses: list[tuple[int, float]] = []

    def wait(state: tenacity.RetryCallState) -> float:
        asked.append(state.attempt_number)
        return 0.05

    future = conn.compute.create_server_async_r(
        name="fail-twice",  # FakeCloud's name rule: "fail" ends in ERROR
        try_count=5,
        tout=30,
        wait=wait,
        stop=tenacity.stop_after_attempt(2),
        before_sleep=lambda state: pauses.append((state.attempt_number, state.next_action.sleep)),
        **boot,
    )
    error = future.exception(timeout=60)
    assert isinstance(error, osfutures.RetriesExhausted), error
    assert len(future.attempts) == 2, "stop_after_attempt(2) stopped before try_count=5"
    assert asked[0] == 1, "the custom wait was asked after the first attempt"
    assert pauses == [(1, 0.05)], "one pause, of the custom wait's length"
    assert requests(cloud, CREATE) == 2 and requests(cloud, DELETE) == 2
    assert list(conn.compute.servers()) == []


def test_retry_error_callback_answers_once_the_last_server_is_gone(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    left_at_the_end: list[list[str]] = []

    def fallback(state: tenacity.RetryCallState) -> str:
        left_at_the_end.append([s.id for s in conn.compute.servers()])
        return "no server today"

    future = conn.compute.create_server_async_r(
        name="fail-cb", try_count=1, tout=30, retry_error_callback=fallback, **boot
    )
    assert future.result(timeout=60) == "no server today"
    assert left_at_the_end == [[]], "the callback ran after the last cleanup"


def test_cleanup_last_false_keeps_the_last_broken_server(
    cloud: FakeCloud, conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    future = conn.compute.create_server_async_r(
        name="fail-keep",
        try_count=2,
        tout=30,
        wait=tenacity.wait_fixed(0.05),
        cleanup_last=False,
        reraise=True,
        **boot,
    )
    error = future.exception(timeout=60)
    assert isinstance(error, osfutures.OperationFailed), "reraise: the last attempt's error"
    first, last = (a.resource_id for a in future.attempts)
    assert first != last
    assert [s.id for s in conn.compute.servers()] == [last], "only the first was cleaned up"
    assert requests(cloud, DELETE) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wait": 2}, r"^wait: expected a tenacity wait strategy such as tenacity.wait_fixed"),
        ({"wait": True}, r"^wait: .* got bool True; create_server_async_r's wait is the pause"),
        ({"stop": "never"}, r"^stop: expected a tenacity stop strategy"),
        ({"before": 1}, r"^before: expected a tenacity hook"),
        ({"after": "log"}, r"^after: expected a tenacity hook"),
        ({"before_sleep": 0.5}, r"^before_sleep: expected a tenacity hook"),
        ({"retry_error_callback": "x"}, r"^retry_error_callback: expected a tenacity hook"),
        ({"reraise": "yes"}, r"^reraise: expected bool"),
    ],
)
def test_a_refused_retry_option_creates_no_server(
    cloud: FakeCloud,
    conn: osfutures.AsyncConnection,
    boot: dict[str, Any],
    options: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(TypeError, match=message):
        conn.compute.create_server_async_r(name="orphan", **options, **boot)
    assert requests(cloud, CREATE) == 0
    assert _servers_ever(cloud) == 0
    assert list(conn.compute.servers()) == []
