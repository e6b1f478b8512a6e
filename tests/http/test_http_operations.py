"""request_async: final answers, status URLs where each convention puts them, states,
results and failures, against the loopback service."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from loopback import Harness, Service, accepted, answer, status

from osfutures import (
    ManualClock,
    Monitor,
    OperationFailed,
    OperationTimeout,
    PollingFailed,
    ResourceGone,
    StatusConvention,
    request_async,
)


def sent(service: Service) -> list[tuple[str, str]]:
    return [(s.method, s.path) for s in service.seen]


# -- final answers ---------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201, 204, 203])
def test_a_final_answer_resolves_at_once_with_the_response(
    h: Harness, service: Service, code: int
) -> None:
    service.on("PUT", "/things/1", answer(code, None if code == 204 else {"id": "1"}))
    future = request_async("PUT", service.url("/things/1"), json={"a": 1}, monitor=h.monitor)
    assert future.done()
    response = future.result(timeout=0)
    assert isinstance(response, requests.Response)
    assert response.status_code == code
    assert future.sync_res is response
    assert future.request == {"method": "PUT", "url": service.url("/things/1")}
    assert h.monitor.pending_count() == 0
    assert sent(service) == [("PUT", "/things/1")]


@pytest.mark.parametrize("code", [400, 403, 404, 409, 429, 500, 503])
def test_an_error_answer_raises_at_once_and_nothing_is_watched(
    h: Harness, service: Service, code: int
) -> None:
    service.on("POST", "/jobs", answer(code, {"error": "no"}))
    with pytest.raises(requests.HTTPError) as caught:
        request_async("POST", service.url("/jobs"), monitor=h.monitor)
    assert caught.value.response is not None
    assert caught.value.response.status_code == code
    assert h.monitor.pending_count() == 0
    h.step(5)
    assert sent(service) == [("POST", "/jobs")]


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_a_redirect_of_the_starting_request_is_not_followed(
    h: Harness, service: Service, other: Service, code: int
) -> None:
    service.on("POST", "/jobs", answer(code, headers={"Location": other.url("/jobs?sig=s3cret")}))
    with pytest.raises(requests.HTTPError, match="not followed") as caught:
        request_async("POST", service.url("/jobs"), monitor=h.monitor)
    assert "s3cret" not in str(caught.value)
    assert other.seen == []


def test_a_redirect_is_followed_by_requests_when_the_caller_asks(
    h: Harness, service: Service
) -> None:
    service.on("GET", "/old", answer(302, headers={"Location": "/new"}))
    service.on("GET", "/new", answer(200, {"ok": True}))
    future = request_async("GET", service.url("/old"), allow_redirects=True, monitor=h.monitor)
    assert future.result(timeout=0).json() == {"ok": True}


def test_a_see_other_answer_resolves_with_the_get_of_its_location(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/orders", answer(303, headers={"Location": "/orders/7"}))
    service.on("GET", "/orders/7", answer(200, {"id": 7}))
    future = request_async("POST", service.url("/orders"), json={}, monitor=h.monitor)
    assert future.result(timeout=0).json() == {"id": 7}
    assert future.sync_res.status_code == 303
    assert sent(service) == [("POST", "/orders"), ("GET", "/orders/7")]


def test_a_see_other_whose_result_cannot_be_read_fails_the_future(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/orders", answer(303, headers={"Location": "/orders/7"}))
    service.on("GET", "/orders/7", answer(403, {"error": "forbidden"}))
    future = request_async("POST", service.url("/orders"), monitor=h.monitor)
    error = future.exception(timeout=0)
    assert isinstance(error, PollingFailed)
    assert isinstance(error.__cause__, requests.HTTPError)
    assert future.sync_res.status_code == 303


# -- where the status URL is -----------------------------------------------------------


@pytest.mark.parametrize(
    "answer_202",
    [
        accepted("/ops/1", header="Operation-Location"),
        accepted("/ops/1", header="Azure-AsyncOperation"),
        accepted("/ops/1", header="Location"),
        answer(202, {"links": [{"rel": "self", "href": "/x"},
                               {"rel": "status", "href": "/ops/1"}]}),
        answer(202, {"links": [{"rel": "Monitor", "href": "/ops/1"}]}),
        answer(202, {"statusUrl": "/ops/1"}),
        answer(202, {"status_url": "/ops/1"}),
    ],
    ids=["operation-location", "azure", "location", "link-status", "link-monitor", "statusUrl",
         "status_url"],
)  # fmt: skip
def test_each_common_convention_names_the_status_url(
    h: Harness, service: Service, answer_202: Any
) -> None:
    service.on("POST", "/jobs", answer_202)
    service.on("GET", "/ops/1", status("Succeeded"))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    assert not future.done()
    h.step()
    assert future.result(timeout=0).json() == {"status": "Succeeded"}


def test_the_headers_are_read_in_order_operation_location_first(
    h: Harness, service: Service
) -> None:
    both = {"Operation-Location": "/ops/1", "Location": "/elsewhere"}
    service.on("POST", "/jobs", answer(202, headers=both))
    service.on("GET", "/ops/1", status("Running"), status("Succeeded"))
    service.on("GET", "/elsewhere", answer(200, {"result": 42}))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step(times=3)
    # Polled at Operation-Location; the Location is where a POST's result is (Azure).
    assert [s.path for s in service.requests(method="GET")] == ["/ops/1", "/ops/1", "/elsewhere"]
    assert future.result(timeout=0).json() == {"result": 42}


AZURE = {"Azure-AsyncOperation": "/ops/1"}


@pytest.mark.parametrize(
    ("method", "headers", "final_state", "result_path"),
    [
        ("PUT", AZURE, None, "/things/1"),  # Azure's SDKs: a PUT's result is the resource
        ("PATCH", AZURE, None, "/things/1"),
        ("POST", {**AZURE, "Location": "/results/1"}, None, "/results/1"),
        ("POST", AZURE, None, "/ops/1"),  # no Location: the final status answer
        ("DELETE", AZURE, None, "/ops/1"),
        ("PUT", {"Location": "/ops/1"}, None, "/ops/1"),  # not Azure's: the status answer
        ("PUT", AZURE, "status", "/ops/1"),
        ("POST", {**AZURE, "Location": "/results/1"}, "status", "/ops/1"),
        ("POST", {"Location": "/ops/1"}, "original-uri", "/things/1"),
        ("PUT", {**AZURE, "Location": "/results/1"}, "location", "/results/1"),
    ],
)
def test_the_result_is_where_final_state_says(
    h: Harness,
    service: Service,
    method: str,
    headers: dict[str, str],
    final_state: str | None,
    result_path: str,
) -> None:
    service.on(method, "/things/1", answer(202, headers=headers))
    service.on("GET", "/ops/1", status("Succeeded", at="/ops/1"))
    for path in ("/things/1", "/results/1"):
        service.on("GET", path, answer(200, {"at": path}))
    convention = StatusConvention(final_state=final_state)
    future = request_async(
        method, service.url("/things/1"), monitor=h.monitor, convention=convention
    )
    h.step(times=2)
    assert future.result(timeout=0).json()["at"] == result_path


@pytest.mark.parametrize(
    ("final_state", "result_path"), [(None, "/made/1"), ("original-uri", "/things/1")]
)
def test_a_result_location_comes_first_unless_final_state_is_named(
    h: Harness, service: Service, final_state: str | None, result_path: str
) -> None:
    service.on("PUT", "/things/1", answer(202, headers=AZURE))
    service.on("GET", "/ops/1", status("Succeeded", resourceLocation="/made/1"))
    for path in ("/things/1", "/made/1"):
        service.on("GET", path, answer(200, {"at": path}))
    convention = StatusConvention(final_state=final_state)
    future = request_async(
        "PUT", service.url("/things/1"), monitor=h.monitor, convention=convention
    )
    h.step(times=2)
    assert future.result(timeout=0).json()["at"] == result_path


def test_a_final_state_nobody_knows_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^StatusConvention\(final_state\): expected one of"):
        StatusConvention(final_state="azure-async-operation")


@pytest.mark.parametrize(
    ("request_path", "named", "polled"),
    [
        ("/v1/jobs", "ops/1", "/v1/ops/1"),
        ("/v1/jobs/", "ops/1", "/v1/jobs/ops/1"),
        ("/v1/jobs", "/ops/1", "/ops/1"),
        ("/v1/jobs", "../ops/1", "/ops/1"),
        ("/v1/jobs", "{base}/v2/ops/1", "/v2/ops/1"),
    ],
)
def test_relative_status_urls_resolve_against_the_request_url(
    h: Harness, service: Service, request_path: str, named: str, polled: str
) -> None:
    service.on("POST", request_path, accepted(named.format(base=service.base)))
    service.on("GET", polled, status("Succeeded"))
    future = request_async("POST", service.url(request_path), monitor=h.monitor)
    h.step()
    assert future.result(timeout=0).status_code == 200


def test_a_convention_may_find_the_status_url_itself(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", answer(202, {"operation": {"href": "/ops/9"}}))
    service.on("GET", "/ops/9", status("Succeeded"))
    convention = StatusConvention(status_url=lambda r: r.json()["operation"]["href"])
    future = request_async("POST", service.url("/jobs"), convention=convention, monitor=h.monitor)
    h.step()
    assert future.done() and future.exception() is None


# -- states ----------------------------------------------------------------------------


def test_azure_states_are_followed_to_success(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1", header="Azure-AsyncOperation"))
    service.on(
        "GET",
        "/ops/1",
        status("NotStarted"),
        status("Running", percentComplete=40),
        status("succeeded", properties={"size": 3}),
    )
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    assert future.status == "NotStarted" and not future.done()
    h.step()
    assert (future.status, future.progress) == ("Running", 40)
    h.step()
    assert future.status == "succeeded"  # states compare case-insensitively
    assert future.result(timeout=0).json()["properties"] == {"size": 3}


def test_aof_completed_with_a_resource_location_resolves_with_the_resource(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/v1/things", accepted("/v1/operations/5"))
    service.on(
        "GET",
        "/v1/operations/5",
        status("Created"),
        status("InProgress"),
        status("Completed", resourceLocation="/v1/things/5"),
    )
    service.on("GET", "/v1/things/5", answer(200, {"id": 5, "name": "five"}))
    future = request_async("POST", service.url("/v1/things"), monitor=h.monitor)
    h.step(times=3)
    assert future.result(timeout=0).json() == {"id": 5, "name": "five"}
    assert future.status == "Completed"


def test_a_status_answer_without_a_state_is_the_end(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", answer(202), answer(200, {"id": 1, "size": 10}))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    assert not future.done(), "a 202 from the status URL means: still running"
    h.step()
    assert future.result(timeout=0).json() == {"id": 1, "size": 10}


def test_a_204_from_the_status_url_is_the_end(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", answer(204))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    assert future.result(timeout=0).status_code == 204


def test_a_see_other_from_the_status_url_resolves_with_its_target(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/jobs", accepted("/queue/1"))
    service.on(
        "GET",
        "/queue/1",
        status("pending", code=200),
        answer(303, headers={"Location": "/results/1"}),
    )
    service.on("GET", "/results/1", answer(200, {"answer": 42}))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step(times=2)
    assert future.result(timeout=0).json() == {"answer": 42}


def test_a_status_url_that_redirects_is_followed(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", answer(307, headers={"Location": "/v2/ops/1"}))
    service.on("GET", "/v2/ops/1", status("Succeeded"))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    assert future.result(timeout=0).json() == {"status": "Succeeded"}


def test_the_convention_says_which_field_and_values(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on(
        "GET",
        "/ops/1",
        answer(200, {"phase": "QUEUED"}),
        answer(200, {"phase": "RUNNING", "pct": 10}),
        answer(200, {"phase": "DONE", "output": "x"}),
    )
    convention = StatusConvention(
        state="phase", progress="pct", succeeded={"DONE"}, failed={"ERROR"},
        pending={"QUEUED", "RUNNING"}, result=lambda r: r.json()["output"],
    )  # fmt: skip
    future = request_async("POST", service.url("/jobs"), convention=convention, monitor=h.monitor)
    h.step(times=2)
    assert (future.status, future.progress) == ("RUNNING", 10)
    h.step()
    assert future.result(timeout=0) == "x"


def test_a_convention_result_applies_to_a_final_answer_too(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", answer(201, {"id": "j1"}))
    convention = StatusConvention(result=lambda r: r.json()["id"])
    future = request_async("POST", service.url("/jobs"), convention=convention, monitor=h.monitor)
    assert future.result(timeout=0) == "j1"


# -- failures --------------------------------------------------------------------------


def test_a_failed_operation_carries_the_services_error_and_body(
    h: Harness, service: Service
) -> None:
    body = {
        "status": "Failed",
        "error": {"code": "QuotaExceeded", "message": "Not enough cores."},
    }
    service.on("POST", "/vms", accepted("/ops/1", header="Operation-Location"))
    service.on("GET", "/ops/1", status("Running"), answer(200, body))
    future = request_async("POST", service.url("/vms"), monitor=h.monitor)
    h.step(times=2)
    error = future.exception(timeout=0)
    assert isinstance(error, OperationFailed) and not isinstance(error, ResourceGone)
    assert error.status == "Failed"
    assert error.fault == "QuotaExceeded: Not enough cores."
    assert error.details == body
    assert error.resource.json() == body  # the final status answer
    assert "Not enough cores." in str(error) and service.url("/vms") in str(error)


@pytest.mark.parametrize(
    ("body", "fault"),
    [
        ({"status": "Canceled"}, None),
        ({"status": "cancelled", "message": "stopped by user"}, "stopped by user"),
        ({"status": "Failed", "error": "disk full"}, "disk full"),
        ({"state": "failed", "detail": "bad input"}, "bad input"),
        ({"status": "Failed", "statusDescription": "copy failed"}, "copy failed"),
    ],
)
def test_failure_states_and_where_their_message_is(
    h: Harness, service: Service, body: dict[str, Any], fault: str | None
) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", answer(200, body))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    error = future.exception(timeout=0)
    assert isinstance(error, OperationFailed)
    assert error.fault == fault
    assert error.details == body


def test_a_state_nobody_declared_fails_when_pending_states_are_declared(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", status("Running"), status("Paused"))
    convention = StatusConvention(pending={"NotStarted", "Running"})
    future = request_async("POST", service.url("/jobs"), convention=convention, monitor=h.monitor)
    h.step()
    assert not future.done()
    h.step()
    error = future.exception(timeout=0)
    assert isinstance(error, OperationFailed)
    assert error.status == "Paused"
    assert error.fault is not None and "unexpected state 'Paused'" in error.fault
    assert "pending ['NotStarted', 'Running']" in error.fault


def test_without_declared_pending_states_a_custom_state_means_still_running(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", status("Validating"), status("Copying"), status("Completed"))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step(times=2)
    assert future.status == "Copying" and not future.done()
    h.step()
    assert future.exception(timeout=0) is None


def test_a_vanished_status_url_fails_a_creation(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", status("Running"), answer(404))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step(times=2)
    error = future.exception(timeout=0)
    assert isinstance(error, ResourceGone)
    assert error.resource.json() == {"status": "Running"}  # the last answer seen


def test_a_vanished_status_url_is_the_success_of_a_deletion(h: Harness, service: Service) -> None:
    service.on("DELETE", "/things/1", accepted("/ops/1"))
    service.on("GET", "/ops/1", status("Deleting"), answer(410))
    future = request_async("DELETE", service.url("/things/1"), monitor=h.monitor)
    h.step(times=2)
    assert future.result(timeout=0).json() == {"status": "Deleting"}


def test_a_status_url_that_keeps_failing_times_out_with_its_last_error(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", answer(500), answer(502), answer(503, {"error": "busy"}))
    future = request_async("POST", service.url("/jobs"), timeout=5, monitor=h.monitor)
    h.step(times=6)
    error = future.exception(timeout=0)
    assert isinstance(error, OperationTimeout)
    cause = error.__cause__
    assert isinstance(cause, requests.HTTPError) and cause.response is not None
    assert cause.response.status_code == 503
    assert len(service.requests("/ops/1")) >= 4


def test_a_status_url_that_refuses_fails_with_polling_failed(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", answer(403, {"error": "forbidden"}))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    error = future.exception(timeout=0)
    assert isinstance(error, PollingFailed)
    assert isinstance(error.__cause__, requests.HTTPError)
    assert "403" in str(error.__cause__)


def test_the_record_is_json_able_and_the_request_has_no_query(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on("GET", "/ops/1", status("Succeeded"))
    future = request_async(
        "post", service.url("/jobs?api-version=1&sig=s3cret"), json={"password": "pw"},
        monitor=h.monitor,
    )  # fmt: skip
    h.step()
    record = json.loads(json.dumps(future.record()))
    assert record["request"] == {"method": "POST", "url": service.url("/jobs")}
    assert record["outcome"] == "succeeded"
    assert "s3cret" not in json.dumps(record) and "pw" not in json.dumps(record)
    assert future.name == f"POST {service.url('/jobs')}"
    assert service.requests("/jobs")[0].query == "api-version=1&sig=s3cret"


def test_polls_of_one_host_share_its_rate_cap(service: Service, other: Service) -> None:
    clock = ManualClock()
    monitor = Monitor(clock=clock, max_probes_per_second=1.0, seed=1)
    try:
        for number in range(3):
            service.on("POST", f"/jobs/{number}", accepted(f"/ops/{number}"))
            service.on("GET", f"/ops/{number}", status("Running"))
            request_async("POST", service.url(f"/jobs/{number}"), interval=0.1, monitor=monitor)
        other.on("POST", "/jobs", accepted("/ops/x"))
        other.on("GET", "/ops/x", status("Running"))
        request_async("POST", other.url("/jobs"), interval=0.1, monitor=monitor)
        for _ in range(30):  # 3 s at 1 poll/s per host; each asks for 10 polls/s
            clock.advance(0.1)
            assert monitor.wait_idle(10)
        polls = len(service.requests(method="GET"))
        # Per operation, the three would make up to 9 polls; per host they share 3.
        assert 2 <= polls <= 4, f"one host's three operations share one budget: {polls}"
        # A global budget would leave the other host next to nothing.
        assert len(other.requests("/ops/x")) >= 2, "another host has its own budget"
    finally:
        monitor.shutdown(wait=True, cancel_futures=True)
