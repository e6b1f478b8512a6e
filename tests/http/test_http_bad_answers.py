"""Answers that say nothing usable end the operation with a clear error; none hangs."""

from __future__ import annotations

import time

import pytest
import requests
from loopback import Harness, Service, accepted, answer, status

from osfutures import OperationTimeout, PollingFailed, request_async


def cause_of(error: BaseException | None) -> BaseException:
    assert isinstance(error, PollingFailed), repr(error)
    assert error.__cause__ is not None
    return error.__cause__


def test_a_202_without_a_status_url_fails_the_future_at_once(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", answer(202, {"id": "job-1"}))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    assert future.done(), "nothing to watch: it must not wait for its deadline"
    cause = cause_of(future.exception(timeout=0))
    assert isinstance(cause, ValueError)
    assert "names no status URL" in str(cause)
    assert "header Operation-Location" in str(cause) and "field 'statusUrl'" in str(cause)
    assert future.sync_res.json() == {"id": "job-1"}  # what the service is busy with
    assert future.name in str(future.exception())
    assert h.monitor.pending_count() == 0


def test_a_202_naming_a_status_url_that_is_not_http_fails_at_once(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/jobs", accepted("ftp://files.example.com/ops/1"))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    cause = cause_of(future.exception(timeout=0))
    assert isinstance(cause, ValueError) and "not http(s)" in str(cause)


def test_a_status_url_on_another_host_fails_at_once_and_is_never_asked(
    h: Harness, service: Service, other: Service
) -> None:
    service.on("POST", "/jobs", accepted(other.url("/ops/1?sig=s3cret")))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    cause = cause_of(future.exception(timeout=0))
    assert isinstance(cause, ValueError)
    assert "another host" in str(cause) and "other_hosts=True" in str(cause)
    assert other.url("/ops/1") in str(cause) and "s3cret" not in str(cause)
    h.step(times=3)
    assert other.seen == []


@pytest.mark.parametrize(
    ("body", "content_type", "said"),
    [
        (b"<html>busy</html>", "text/html", "text/html"),
        (b"status=running", None, "no Content-Type"),
        (b"", "application/json", "application/json (0 bytes)"),
    ],
)
def test_a_status_body_that_is_not_json_fails_naming_the_url_and_content_type(
    h: Harness, service: Service, body: bytes, content_type: str | None, said: str
) -> None:
    service.on("POST", "/jobs", accepted("/ops/1?token=s3cret"))
    service.on("GET", "/ops/1", answer(200, raw=body, content_type=content_type))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    cause = cause_of(future.exception(timeout=0))
    assert isinstance(cause, ValueError)
    message = str(cause)
    assert f"status URL {service.url('/ops/1')} answered 200 with {said}" in message
    assert "not JSON" in message and "s3cret" not in message


def test_a_redirect_loop_fails(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", answer(302, headers={"Location": "/ops/2"}))
    service.on("GET", "/ops/2", answer(302, headers={"Location": "/ops/1"}))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    assert "more than 5 redirects" in str(cause_of(future.exception(timeout=0)))


def test_a_see_other_without_a_location_fails(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", answer(303))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    assert "303 without a Location" in str(cause_of(future.exception(timeout=0)))


def test_an_unexpected_answer_code_fails(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", answer(304))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    assert "answered a 304" in str(cause_of(future.exception(timeout=0)))


def test_a_missing_result_fails_the_operation(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", status("Completed", resourceLocation="/things/1"))
    service.on("GET", "/things/1", answer(404))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    cause = cause_of(future.exception(timeout=0))
    assert isinstance(cause, requests.HTTPError)
    assert f"404 NOT FOUND from result location {service.url('/things/1')}" in str(cause)


def test_a_service_that_went_away_times_out_with_the_connection_error(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    future = request_async("POST", service.url("/jobs"), timeout=3, monitor=h.monitor)
    service.close()  # connections are refused from now on
    h.step(times=4)
    error = future.exception(timeout=0)
    assert isinstance(error, OperationTimeout)
    assert isinstance(error.__cause__, requests.ConnectionError)


def test_a_status_url_that_never_answers_times_out(h: Harness, service: Service) -> None:
    def silent(request: object) -> object:
        time.sleep(1.0)  # past the request's own time limit
        return answer(200, {"status": "Succeeded"})(request)  # type: ignore[arg-type]

    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", silent)  # type: ignore[arg-type]
    future = request_async(
        "POST", service.url("/jobs"), timeout=2.5, request_timeout=0.1, monitor=h.monitor
    )
    h.step(times=3)
    error = future.exception(timeout=0)
    assert isinstance(error, OperationTimeout)
    assert isinstance(error.__cause__, requests.Timeout)
