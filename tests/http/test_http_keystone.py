"""A keystoneauth1 Session or Adapter sends the requests: its token goes only to the
request's origin, and error answers raise requests' HTTPError (``raise_exc=False``)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from keystoneauth1 import adapter, exceptions, session, token_endpoint
from loopback import Harness, Service, accepted, answer, status

from osfutures import PollingFailed, request_async
from osfutures.http._transport import transient

TOKEN = "ks-token-s3cret"


@pytest.fixture(params=["session", "adapter"])
def keystone(request: pytest.FixtureRequest, service: Service) -> Any:
    made = session.Session(auth=token_endpoint.Token(service.base, TOKEN))
    return made if request.param == "session" else adapter.Adapter(made)


def test_the_token_goes_to_the_request_and_its_status_url(
    h: Harness, service: Service, keystone: Any
) -> None:
    service.on("POST", "/v2/stacks", accepted("/v2/operations/1"))
    service.on("GET", "/v2/operations/1", status("InProgress"), status("Completed"))
    future = request_async(
        "POST", service.url("/v2/stacks"), session=keystone, json={"n": 1}, monitor=h.monitor
    )
    h.step(times=2)
    assert future.result(timeout=0).json() == {"status": "Completed"}
    assert [s.header("X-Auth-Token") for s in service.seen] == [TOKEN] * 3
    assert service.seen[0].body == b'{"n": 1}'


def test_the_token_never_goes_to_another_host(
    h: Harness, service: Service, other: Service, keystone: Any
) -> None:
    service.on("POST", "/v2/stacks", accepted(other.url("/operations/1")))
    other.on("GET", "/operations/1", status("Succeeded"))
    future = request_async(
        "POST", service.url("/v2/stacks"), session=keystone, other_hosts=True, monitor=h.monitor
    )
    h.step()
    assert future.exception(timeout=0) is None
    assert service.seen[0].header("X-Auth-Token") == TOKEN
    assert [s.header("X-Auth-Token") for s in other.seen] == [None]


def test_an_error_answer_raises_requests_http_error(
    h: Harness, service: Service, keystone: Any
) -> None:
    service.on("POST", "/v2/stacks", answer(409, {"error": "conflict"}))
    with pytest.raises(requests.HTTPError) as caught:
        request_async("POST", service.url("/v2/stacks"), session=keystone, monitor=h.monitor)
    assert caught.value.response is not None and caught.value.response.status_code == 409


def test_keystone_does_not_follow_a_redirect_of_the_status_url_by_itself(
    h: Harness, service: Service, other: Service, keystone: Any
) -> None:
    service.on("POST", "/v2/stacks", accepted("/operations/1"))
    service.on("GET", "/operations/1", answer(302, headers={"Location": other.url("/x")}))
    future = request_async("POST", service.url("/v2/stacks"), session=keystone, monitor=h.monitor)
    h.step()
    assert isinstance(future.exception(timeout=0), PollingFailed)
    assert other.seen == []


def test_keystone_connection_failures_are_polled_through() -> None:
    assert transient(exceptions.ConnectFailure("refused")) is True
    assert transient(exceptions.ConnectTimeout("slow")) is True
    assert transient(requests.ConnectionError("refused")) is True
    assert transient(requests.exceptions.InvalidURL("bad")) is False
    assert transient(ValueError("not JSON")) is None
