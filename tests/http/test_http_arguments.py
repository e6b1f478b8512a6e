"""Argument errors name the argument, and come before any request is sent."""

from __future__ import annotations

import math
from typing import Any

import pytest
from loopback import Harness, Service

from osfutures import Monitor, MonitorShutdown, StatusConvention, request_async, request_async_r


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"method": 3}, TypeError, r"^method: expected str, got int 3"),
        ({"method": "GET ME"}, ValueError, r"^method: expected an HTTP method"),
        ({"method": ""}, ValueError, r"^method: expected an HTTP method"),
        ({"url": b"http://x/"}, TypeError, r"^url: expected an http\(s\) URL as a string"),
        ({"url": "ftp://example.com/f"}, ValueError, r"^url: .*got scheme 'ftp'"),
        ({"url": "/jobs"}, ValueError, r"^url: .*got a URL with no scheme"),
        ({"url": "http:///jobs"}, ValueError, r"^url: .*got a URL with no host"),
        ({"url": "http://h:99999/"}, ValueError, r"^url: .*cannot be parsed"),
        ({"timeout": 0}, ValueError, r"^timeout: expected a number of seconds > 0"),
        ({"timeout": "60"}, TypeError, r"^timeout: expected seconds"),
        ({"interval": 0}, ValueError, r"^interval: expected a finite number of seconds > 0"),
        ({"interval": "1"}, TypeError, r"^interval: expected seconds or a PollInterval"),
        ({"session": object()}, TypeError, r"^session: expected a requests.Session"),
        ({"monitor": "default"}, TypeError, r"^monitor: expected Monitor"),
        ({"convention": {}}, TypeError, r"^convention: expected StatusConvention"),
        ({"request_timeout": 0}, ValueError, r"^request_timeout: expected a finite number"),
        ({"request_timeout": math.inf}, ValueError, r"^request_timeout: expected a finite"),
        ({"request_timeout": (1, 2, 3)}, ValueError, r"^request_timeout: expected seconds"),
        ({"request_timeout": "5"}, TypeError, r"^request_timeout: expected a number"),
        ({"other_hosts": "yes"}, TypeError, r"^other_hosts: expected bool"),
        ({"name": 3}, TypeError, r"^name: expected str or None"),
        ({"raise_exc": True}, TypeError, r"^raise_exc: request_async reads error answers"),
    ],
)
@pytest.mark.parametrize("call", [request_async, request_async_r])
def test_a_wrong_argument_is_named_and_nothing_is_sent(
    h: Harness,
    service: Service,
    call: Any,
    change: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    arguments: dict[str, Any] = {
        "method": "POST",
        "url": service.url("/jobs"),
        "monitor": h.monitor,
        **change,
    }
    with pytest.raises(error, match=message):
        call(arguments.pop("method"), arguments.pop("url"), **arguments)
    assert service.seen == []


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"try_count": 0}, ValueError, r"^try_count: need an integer >= 1"),
        ({"tout": -1}, ValueError, r"^tout: expected a number of seconds > 0"),
        ({"retry": 3}, TypeError, r"^retry: expected a tenacity retry strategy"),
        ({"wait": 2}, TypeError, r"^wait: expected a tenacity wait strategy"),
        ({"cleanup": "delete"}, TypeError, r"^cleanup: expected a callable"),
    ],
)
def test_a_wrong_retry_argument_is_named_and_nothing_is_sent(
    h: Harness, service: Service, change: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        request_async_r("POST", service.url("/jobs"), monitor=h.monitor, **change)
    assert service.seen == []


def test_a_monitor_that_is_shut_down_refuses_before_anything_is_sent(service: Service) -> None:
    monitor = Monitor()
    monitor.shutdown()
    with pytest.raises(MonitorShutdown):
        request_async("POST", service.url("/jobs"), monitor=monitor)
    assert service.seen == []


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: StatusConvention(succeeded="Done"), TypeError, r"^StatusConvention\(succeeded\)"),
        (lambda: StatusConvention(failed=[1]), TypeError, r"^StatusConvention\(failed\): states"),
        (
            lambda: StatusConvention(succeeded={"Done"}, failed={"done"}),
            ValueError,
            r"^StatusConvention: succeeded and failed share states \['done'\]",
        ),
        (lambda: StatusConvention(state=()), ValueError, r"^StatusConvention\(state\): need"),
        (lambda: StatusConvention(state=3), TypeError, r"^StatusConvention\(state\): expected"),
        (lambda: StatusConvention(status_headers=[""]), TypeError, r"\(status_headers\): names"),
        (lambda: StatusConvention(result=3), TypeError, r"^StatusConvention\(result\): expected"),
        (lambda: StatusConvention(status_url="Location"), TypeError, r"\(status_url\): expected"),
    ],
)
def test_a_wrong_convention_is_named_where_it_is_made(
    make: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        make()


def test_a_convention_takes_one_name_for_a_list_of_names() -> None:
    convention = StatusConvention(state="phase", status_headers="X-Status")
    assert convention.state == ("phase",)
    assert convention.status_headers == ("X-Status",)
