"""request_async_r: attempts again after transient answers and failed operations,
cleaning up between them."""

from __future__ import annotations

import socket
from concurrent.futures import Future
from typing import Any

import pytest
import requests
import tenacity
from loopback import Harness, Service, accepted, answer, status

from osfutures import (
    OperationFailed,
    OperationFuture,
    PollingFailed,
    RetriesExhausted,
    request_async,
    request_async_r,
)

NO_WAIT = tenacity.wait_none()


def test_a_5xx_or_429_start_is_attempted_again(h: Harness, service: Service) -> None:
    service.on(
        "POST",
        "/jobs",
        answer(503, {"error": "busy"}),
        answer(429, {"error": "slow down"}),
        accepted("/ops/1"),
    )
    service.on("GET", "/ops/1", status("Succeeded"))
    future = request_async_r("POST", service.url("/jobs"), wait=NO_WAIT, monitor=h.monitor)
    h.step(times=2)
    assert future.result(timeout=0).json() == {"status": "Succeeded"}
    assert [a.outcome for a in future.attempts] == ["failed", "failed", "succeeded"]
    assert future.request == {"method": "POST", "url": service.url("/jobs")}
    assert future.sync_res.status_code == 202


def test_a_failed_operation_is_cleaned_up_then_attempted_again(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/vms", accepted("/ops/1"), accepted("/ops/2"))
    service.on("GET", "/ops/1", status("Failed", error={"code": "NoHost", "message": "none"}))
    service.on("GET", "/ops/2", status("Succeeded"))
    service.on("DELETE", "/vms/1", answer(204))
    cleaned: list[OperationFuture[Any]] = []

    def cleanup(failed: OperationFuture[Any]) -> Future[Any]:
        cleaned.append(failed)
        return request_async("DELETE", service.url("/vms/1"), monitor=h.monitor)

    future = request_async_r(
        "POST", service.url("/vms"), cleanup=cleanup, wait=NO_WAIT, monitor=h.monitor
    )
    h.step(times=3)
    assert future.exception(timeout=0) is None
    assert len(cleaned) == 1
    assert cleaned[0].sync_res.headers["Location"] == "/ops/1"
    assert isinstance(cleaned[0].exception(), OperationFailed)
    methods = [(s.method, s.path) for s in service.seen]
    assert methods.index(("DELETE", "/vms/1")) < methods.index(("GET", "/ops/2"))


def test_attempts_run_out_with_every_error_kept(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", status("Failed"))
    future = request_async_r(
        "POST", service.url("/jobs"), try_count=2, wait=NO_WAIT, monitor=h.monitor
    )
    h.step(times=3)
    error = future.exception(timeout=0)
    assert isinstance(error, RetriesExhausted)
    assert [type(e) for e in error.errors] == [OperationFailed, OperationFailed]
    assert len(service.requests("/jobs")) == 2


def test_a_refused_start_raises_at_the_call_and_is_not_attempted_again(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/jobs", answer(400, {"error": "bad"}))
    with pytest.raises(requests.HTTPError, match="400"):
        request_async_r("POST", service.url("/jobs"), wait=NO_WAIT, monitor=h.monitor)
    assert len(service.requests("/jobs")) == 1


def test_an_operation_that_cannot_be_watched_is_not_attempted_again(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/jobs", answer(202))  # no status URL: a retry would do it twice
    future = request_async_r("POST", service.url("/jobs"), wait=NO_WAIT, monitor=h.monitor)
    assert isinstance(future.exception(timeout=0), PollingFailed)
    assert len(service.requests("/jobs")) == 1


def test_connection_errors_are_attempted_again(h: Harness) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    future = request_async_r(
        "POST", f"http://127.0.0.1:{port}/jobs", try_count=3, wait=NO_WAIT, monitor=h.monitor
    )
    h.step(times=3)
    error = future.exception(timeout=0)
    assert isinstance(error, RetriesExhausted)
    assert len(error.errors) == 3
    assert all(isinstance(e, requests.ConnectionError) for e in error.errors)


def test_each_attempt_has_its_own_deadline(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"), accepted("/ops/2"))
    service.on("GET", "/ops/1", status("Running"))
    service.on("GET", "/ops/2", status("Succeeded"))
    future = request_async_r(
        "POST", service.url("/jobs"), tout=2.5, wait=NO_WAIT, monitor=h.monitor
    )
    h.step(times=5)
    assert future.exception(timeout=0) is None
    assert [a.outcome for a in future.attempts] == ["timed_out", "succeeded"]
