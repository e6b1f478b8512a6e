"""Credentials go only to the request's origin; records and logs hold none."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
import requests
from loopback import Harness, Service, accepted, answer, status

from osfutures import PollingFailed, request_async

SECRET = "s3cret-token"
CREDENTIAL_HEADERS = ("Authorization", "Cookie", "X-Api-Key", "Proxy-Authorization")


def credentials_in(seen: Any) -> dict[str, str]:
    return {name: value for name in CREDENTIAL_HEADERS if (value := seen.header(name))}


@pytest.fixture
def session() -> Any:
    s = requests.Session()
    s.headers["X-Api-Key"] = SECRET
    s.cookies.set("session-cookie", SECRET)
    yield s
    s.close()


def test_polls_of_the_same_origin_carry_every_credential(
    h: Harness, service: Service, session: requests.Session
) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", status("Running"), status("Succeeded"))
    future = request_async(
        "POST",
        service.url("/jobs"),
        session=session,
        json={"a": 1},
        headers={"Authorization": f"Bearer {SECRET}", "If-Match": "*", "X-Trace": "t1"},
        cookies={"call-cookie": "c"},
        monitor=h.monitor,
    )
    h.step(times=2)
    assert future.exception(timeout=0) is None
    polls = service.requests("/ops/1")
    assert len(polls) == 2
    for poll in polls:
        assert poll.header("Authorization") == f"Bearer {SECRET}"
        assert poll.header("X-Api-Key") == SECRET
        assert "session-cookie" in (poll.header("Cookie") or "")
        assert "call-cookie" in (poll.header("Cookie") or "")
        assert poll.header("X-Trace") == "t1"
        # What was about the request's body and its preconditions is not sent again.
        assert poll.header("Content-Type") is None and poll.header("If-Match") is None
        assert poll.body == b""


def test_basic_auth_goes_to_the_same_origin(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", status("Succeeded"))
    request_async("POST", service.url("/jobs"), auth=("user", SECRET), monitor=h.monitor)
    h.step()
    expected = "Basic " + base64.b64encode(f"user:{SECRET}".encode()).decode()
    assert service.requests("/ops/1")[0].header("Authorization") == expected


def _to_the_other_host(service: Service, other: Service, how: str) -> None:
    """Script ``service`` so that the operation's next step is on ``other``."""
    service.on("POST", "/jobs", accepted("/ops/1"))
    if how == "status URL":
        service.on("POST", "/jobs", accepted(other.url("/ops/1?sig=x")))
        other.on("GET", "/ops/1", status("Succeeded"))
    elif how == "redirect":
        service.on("GET", "/ops/1", answer(307, headers={"Location": other.url("/ops/1")}))
        other.on("GET", "/ops/1", status("Succeeded"))
    elif how == "see other":
        service.on("GET", "/ops/1", answer(303, headers={"Location": other.url("/out/1")}))
        other.on("GET", "/out/1", answer(200, {"id": 1}))
    else:  # result location
        service.on("GET", "/ops/1", status("Completed", resourceLocation=other.url("/out/1")))
        other.on("GET", "/out/1", answer(200, {"id": 1}))


HOW = ["status URL", "redirect", "see other", "result location"]


@pytest.mark.parametrize("how", HOW)
def test_another_host_is_refused_by_default(
    h: Harness, service: Service, other: Service, session: requests.Session, how: str
) -> None:
    _to_the_other_host(service, other, how)
    future = request_async(
        "POST",
        service.url("/jobs"),
        session=session,
        headers={"Authorization": f"Bearer {SECRET}"},
        monitor=h.monitor,
    )
    h.step(times=2)
    error = future.exception(timeout=0)
    assert isinstance(error, PollingFailed)
    assert isinstance(error.__cause__, ValueError)
    assert "another host" in str(error.__cause__)
    assert other.seen == [], "nothing at all goes to the other host"


@pytest.mark.parametrize("how", HOW)
def test_another_host_allowed_gets_no_credential(
    h: Harness, service: Service, other: Service, session: requests.Session, how: str
) -> None:
    _to_the_other_host(service, other, how)
    future = request_async(
        "POST",
        service.url("/jobs"),
        session=session,
        headers={"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET},
        auth=("user", SECRET),
        cookies={"call-cookie": SECRET},
        cert=None,
        other_hosts=True,
        monitor=h.monitor,
    )
    h.step(times=2)
    assert future.exception(timeout=0) is None
    assert other.seen, "the other host was asked"
    for seen in other.seen:
        assert credentials_in(seen) == {}, seen.headers
        assert SECRET not in json.dumps(seen.headers)
    # The request's own origin still gets them.
    assert service.requests("/jobs")[0].header("X-Api-Key") == SECRET


def test_cookies_of_one_call_do_not_reach_another_calls_requests(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/jobs", accepted("/ops/1", headers={"Set-Cookie": "sid=first; Path=/"}))
    service.on("GET", "/ops/1", status("Succeeded"))
    first = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    assert first.exception(timeout=0) is None
    assert service.requests("/ops/1")[0].header("Cookie") == "sid=first"  # its own session
    service.on("POST", "/jobs", answer(201, {}))
    request_async("POST", service.url("/jobs"), monitor=h.monitor)
    assert service.requests("/jobs")[-1].header("Cookie") is None


def test_a_session_made_for_the_call_is_closed_at_the_end_and_a_given_one_is_not(
    h: Harness, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[requests.Session] = []
    original = requests.Session.close

    def close(self: requests.Session) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(requests.Session, "close", close)
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", status("Running"), status("Succeeded"))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    assert closed == []
    h.step()
    assert future.done() and len(closed) == 1
    given = requests.Session()
    request_async("POST", service.url("/jobs"), session=given, monitor=h.monitor)
    h.step(times=2)
    assert given not in closed


def test_neither_records_nor_errors_nor_logs_hold_a_secret(
    h: Harness, service: Service, other: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="osfutures")
    url = f"http://user:{SECRET}@127.0.0.1:{service.base.rsplit(':', 1)[1]}/jobs?sig={SECRET}"
    service.on("POST", "/jobs", accepted(f"/ops/1?token={SECRET}"))
    service.on("GET", "/ops/1", status("Failed", error={"code": "E", "message": "boom"}))
    future = request_async(
        "POST",
        url,
        json={"password": SECRET},
        headers={"Authorization": f"Bearer {SECRET}"},
        monitor=h.monitor,
    )
    h.step()
    error = future.exception(timeout=0)
    assert error is not None
    said = [json.dumps(future.record()), repr(future), future.name, str(error)]
    said += [record.getMessage() for record in caplog.records]
    for text in said:
        assert SECRET not in text, text
    assert future.request == {"method": "POST", "url": service.url("/jobs")}
