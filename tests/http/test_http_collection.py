"""A status collection: many operations polled with one request while they run, each
ended by its own status URL, against the loopback service."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from loopback import Harness, Service, accepted, answer, status
from werkzeug.wrappers import Request, Response

from osfutures import (
    OperationFailed,
    StatusCollection,
    StatusConvention,
    request_async,
)

COLLECTION = StatusConvention(collection=StatusCollection("/ops", param="id"))


class Operations:
    """The service's operations: their states, served at ``/ops/ID`` and listed at
    ``/ops?id=a,b`` (or every one, paged, at ``/all``)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.states: dict[str, str] = {}
        self.lock = threading.Lock()

    def start(self, op: str, state: str = "Running") -> None:
        with self.lock:
            self.states[op] = state
        self.service.on("POST", f"/jobs/{op}", accepted(f"/ops/{op}"))
        self.service.on("GET", f"/ops/{op}", self._one(op))

    def set(self, state: str, *ops: str) -> None:
        with self.lock:
            for op in ops:
                self.states[op] = state

    def _one(self, op: str) -> Callable[[Request], Response]:
        def make(request: Request) -> Response:
            with self.lock:
                state = self.states[op]
            return status(state, id=op, error={"code": "E", "message": f"{op} broke"})(request)

        return make

    def listing(self, *, leave_out: frozenset[str] = frozenset()) -> Callable[[Request], Response]:
        def make(request: Request) -> Response:
            asked = ",".join(parse_qs(request.query_string.decode()).get("id", [])).split(",")
            with self.lock:
                value = [
                    {"id": op, "status": self.states[op]}
                    for op in asked
                    if op in self.states and op not in leave_out
                ]
            return answer(200, {"value": value})(request)

        return make

    def polls(self) -> tuple[int, int]:
        """(collection GETs, single status GETs) so far."""
        seen = self.service.requests(method="GET")
        listed = sum(1 for s in seen if s.path in ("/ops", "/all"))
        return listed, len(seen) - listed


@pytest.fixture
def ops(service: Service) -> Operations:
    return Operations(service)


def _start(
    h: Harness,
    service: Service,
    ops: Operations,
    names: list[str],
    *,
    session: Any,
    convention: StatusConvention = COLLECTION,
    token: str = "Bearer t0ken",
) -> list[Any]:
    futures = []
    for op in names:
        ops.start(op)
        futures.append(
            request_async(
                "POST",
                service.url(f"/jobs/{op}"),
                session=session,
                monitor=h.monitor,
                convention=convention,
                headers={"Authorization": token},
            )
        )
    return futures


def test_operations_sharing_a_session_are_listed_together_while_they_run(
    h: Harness, service: Service, ops: Operations
) -> None:
    service.on("GET", "/ops", ops.listing())
    session = requests.Session()
    futures = _start(h, service, ops, ["a", "b", "c"], session=session)
    h.step(1, times=5)
    listed, single = ops.polls()
    assert single == 0 and 1 <= listed <= 5, "one listing per cycle, no GET of its own"
    assert all(f.status == "Running" for f in futures)
    assert service.requests("/ops")[-1].query == "id=a%2Cb%2Cc"
    assert all(r.header("Authorization") == "Bearer t0ken" for r in service.requests("/ops"))
    ops.set("Succeeded", "a", "b")
    ops.set("Failed", "c")
    h.step(1, times=10)
    # Each ended operation's own status URL gives its answer, as without a collection.
    assert [f.result(timeout=0).json()["id"] for f in futures[:2]] == ["a", "b"]
    error = futures[2].exception(timeout=0)
    assert isinstance(error, OperationFailed) and error.fault == "E: c broke"
    assert ops.polls()[1] == 3, "one GET each at the end"


def test_operations_on_sessions_of_their_own_are_polled_each_on_its_own(
    h: Harness, service: Service, ops: Operations
) -> None:
    futures = _start(h, service, ops, ["a", "b"], session=None)
    h.step(1, times=3)
    ops.set("Succeeded", "a", "b")
    h.step(1, times=5)
    assert all(f.result(timeout=0).status_code == 200 for f in futures)
    assert ops.polls()[0] == 0, "their credentials may differ: never listed together"


def test_different_credentials_on_one_session_are_not_listed_together(
    h: Harness, service: Service, ops: Operations
) -> None:
    service.on("GET", "/ops", ops.listing())
    session = requests.Session()
    for op, token in (("a", "alice"), ("b", "bob")):
        _start(h, service, ops, [op], session=session, token=token)
    h.step(1, times=3)
    for seen in service.requests("/ops"):
        assert (seen.query, seen.header("Authorization")) in {("id=a", "alice"), ("id=b", "bob")}


def test_an_operation_the_collection_leaves_out_is_read_at_its_own_url(
    h: Harness, service: Service, ops: Operations
) -> None:
    service.on("GET", "/ops", ops.listing(leave_out=frozenset({"b"})))
    futures = _start(h, service, ops, ["a", "b"], session=requests.Session())
    ops.set("Succeeded", "b")
    h.step(1, times=5)
    assert futures[1].result(timeout=0).json()["id"] == "b"
    assert not futures[0].done()


def test_a_collection_that_answers_nothing_readable_leaves_each_to_its_own_url(
    h: Harness, service: Service, ops: Operations
) -> None:
    service.on("GET", "/ops", answer(200, raw=b"<html>", content_type="text/html"))
    futures = _start(h, service, ops, ["a", "b"], session=requests.Session())
    h.step(1, times=4)
    ops.set("Succeeded", "a", "b")
    h.step(1, times=8)
    assert [f.result(timeout=0).json()["id"] for f in futures] == ["a", "b"]


def test_a_collection_asks_for_at_most_max_ids_at_a_time(
    h: Harness, service: Service, ops: Operations
) -> None:
    service.on("GET", "/ops", ops.listing())
    convention = StatusConvention(collection=StatusCollection("/ops", max_ids=2))
    _start(h, service, ops, ["a", "b", "c"], session=requests.Session(), convention=convention)
    h.step(1)
    assert sorted(s.query for s in service.requests("/ops")) == ["id=a%2Cb", "id=c"]


def test_a_collection_of_everything_is_read_page_by_page(
    h: Harness, service: Service, ops: Operations
) -> None:
    service.on(
        "GET",
        "/all",
        lambda request: answer(
            200,
            {"operations": [{"id": "a", "status": "Running"}], "next": "/all?page=2"}
            if not request.query_string
            else {"operations": [{"id": "b", "status": "Running"}, {"id": "z"}]},
        )(request),
    )
    convention = StatusConvention(collection=StatusCollection("/all", param=None))
    futures = _start(h, service, ops, ["a", "b"], session=requests.Session(), convention=convention)
    h.step(1, times=3)
    assert ops.polls()[1] == 0 and all(f.status == "Running" for f in futures)
    assert {s.query for s in service.requests("/all")} == {"", "page=2"}


def test_a_collection_on_another_host_gets_no_credentials(
    h: Harness, service: Service, other: Service, ops: Operations
) -> None:
    convention = StatusConvention(collection=StatusCollection(other.url("/ops")))
    futures = _start(h, service, ops, ["a"], session=requests.Session(), convention=convention)
    h.step(1, times=3)
    ops.set("Succeeded", "a")
    h.step(1, times=5)
    assert futures[0].result(timeout=0).json()["id"] == "a"
    assert other.seen == [], "refused, and each operation polled at its own URL"


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"url": ""}, ValueError, r"^StatusCollection\(url\)"),
        ({"url": 5}, TypeError, r"^StatusCollection\(url\)"),
        ({"url": "/ops", "max_ids": 0}, ValueError, r"^StatusCollection\(max_ids\)"),
        ({"url": "/ops", "param": ""}, ValueError, r"^StatusCollection\(param\)"),
        ({"url": "/ops", "items": ()}, ValueError, r"^StatusCollection\(items\)"),
        ({"url": "/ops", "operation_id": "id"}, TypeError, r"StatusCollection\(operation_id\)"),
        ({"url": "/ops", "entry_id": ""}, ValueError, r"^StatusCollection\(entry_id\)"),
    ],
)
def test_a_wrong_collection_is_refused_naming_the_field(
    kwargs: dict[str, Any], error: type[Exception], names: str
) -> None:
    with pytest.raises(error, match=names):
        StatusCollection(**kwargs)


def test_a_convention_takes_only_a_status_collection() -> None:
    with pytest.raises(TypeError, match=r"^StatusConvention\(collection\)"):
        StatusConvention(collection="/ops")  # type: ignore[arg-type]


def test_an_operation_whose_id_cannot_be_read_fails_saying_so(h: Harness, service: Service) -> None:
    service.on("POST", "/jobs", accepted("/"))
    future = request_async(
        "POST",
        service.url("/jobs"),
        session=requests.Session(),
        monitor=h.monitor,
        convention=COLLECTION,
    )
    error = future.exception(timeout=0)
    assert error is not None and "operation_id" in str(error.__cause__)


@dataclass
class TokenAuth(requests.auth.AuthBase):
    """An auth object that keeps its secret out of its repr, as many do."""

    tenant: str = "t"
    token: str = field(default="", repr=False)

    def __call__(self, request: Any) -> Any:
        request.headers["X-Token"] = self.token
        return request


def test_auth_objects_that_hide_their_secret_are_not_listed_together(
    h: Harness, service: Service, ops: Operations
) -> None:
    service.on("GET", "/ops", ops.listing())
    session = requests.Session()
    for op, token in (("a", "SECRET-OF-A"), ("b", "SECRET-OF-B")):
        ops.start(op)
        request_async(
            "POST",
            service.url(f"/jobs/{op}"),
            session=session,
            monitor=h.monitor,
            convention=COLLECTION,
            auth=TokenAuth("t", token),
        )
    h.step(1, times=3)
    listed = {(s.query, s.header("X-Token")) for s in service.requests("/ops")}
    assert listed == {("id=a", "SECRET-OF-A"), ("id=b", "SECRET-OF-B")}


def test_a_collection_of_everything_stops_paging_once_it_found_them_all(
    h: Harness, service: Service, ops: Operations
) -> None:
    pages = {
        "": {"operations": [{"id": "a", "status": "Running"}], "next": "/all?page=2"},
        "page=2": {"operations": [], "next": "/all?page=3"},
    }
    service.on(
        "GET", "/all", lambda request: answer(200, pages[request.query_string.decode()])(request)
    )
    convention = StatusConvention(collection=StatusCollection("/all", param=None))
    _start(h, service, ops, ["a"], session=requests.Session(), convention=convention)
    h.step(1, times=3)
    assert {s.query for s in service.requests("/all")} == {""}, "page 2 never needed"
