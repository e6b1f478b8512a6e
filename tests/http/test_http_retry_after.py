"""A Retry-After on the 202 or on a poll's answer puts the next poll off."""

from __future__ import annotations

import itertools
import time
from email.utils import formatdate

from loopback import Harness, Service, accepted, answer, status

from osfutures import Monitor, PollInterval, request_async


def polls(service: Service) -> int:
    return len(service.requests("/ops/1"))


def test_the_202s_retry_after_sets_the_first_poll(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1", headers={"Retry-After": "5"}))
    service.on("GET", "/ops/1", status("Succeeded"))
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step(times=4)
    assert polls(service) == 0, "polled before the 202's Retry-After"
    h.step()
    assert polls(service) == 1 and future.done()


def test_each_answers_retry_after_sets_the_next_poll(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on(
        "GET",
        "/ops/1",
        status("Running", headers={"Retry-After": "3"}),
        status("Running"),  # no wish: the interval again
        status("Running"),
        status("Succeeded"),
    )
    future = request_async("POST", service.url("/jobs"), interval=1, monitor=h.monitor)
    h.step()
    assert polls(service) == 1
    h.step(times=2)
    assert polls(service) == 1, "polled before the answer's Retry-After"
    h.step()
    assert polls(service) == 2
    h.step(times=2)
    assert polls(service) == 4 and future.done()


def test_a_retry_after_shorter_than_the_interval_does_not_hurry_the_poll(
    h: Harness, service: Service
) -> None:
    service.on("POST", "/jobs", accepted("/ops/1", headers={"Retry-After": "1"}))
    service.on("GET", "/ops/1", status("Succeeded"))
    request_async("POST", service.url("/jobs"), interval=4, monitor=h.monitor)
    h.step(times=3)
    assert polls(service) == 0
    h.step()
    assert polls(service) == 1


def test_a_retry_after_given_as_a_date(h: Harness, service: Service) -> None:
    when = formatdate(time.time() + 6, usegmt=True)  # whole seconds: 5 to 6 from now
    service.on("POST", "/jobs", accepted("/ops/1", headers={"Retry-After": when}))
    service.on("GET", "/ops/1", status("Succeeded"))
    request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step(times=4)
    assert polls(service) == 0
    h.step(times=3)
    assert polls(service) == 1


def test_an_error_answers_retry_after_is_obeyed_too(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/ops/1"))
    service.on(
        "GET",
        "/ops/1",
        answer(429, {"error": "slow down"}, headers={"Retry-After": "4"}),
        status("Succeeded"),
    )
    future = request_async("POST", service.url("/jobs"), monitor=h.monitor)
    h.step()
    assert polls(service) == 1
    h.step(times=3)
    assert polls(service) == 1
    h.step()
    assert polls(service) == 2 and future.exception(timeout=0) is None


def test_polls_are_spaced_as_the_service_asks_on_the_real_clock(
    live: Monitor, service: Service
) -> None:
    # The monitor would poll every 50 ms; the service asks for a second between polls.
    wait = {"Retry-After": "1"}
    service.on("POST", "/jobs", accepted("/ops/1", headers=wait))
    service.on(
        "GET",
        "/ops/1",
        status("Running", headers=wait),
        status("Running", headers=wait),
        status("Succeeded"),
    )
    future = request_async(
        "POST", service.url("/jobs"), interval=PollInterval(0.05, jitter=0), monitor=live
    )
    assert future.result(timeout=60).json() == {"status": "Succeeded"}
    times = [seen.at for seen in service.seen]
    assert len(times) == 4  # the POST and three polls, no more
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Never sooner than asked (less a little for the clocks' rounding); later is fine.
    assert all(gap >= 0.95 for gap in gaps), gaps
