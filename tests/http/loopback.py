"""The loopback HTTP service of the tests of osfutures.http: it answers as each test
scripts it, and records every request it gets (when, what, with which headers).

Routes are scripts: ``service.on("GET", "/ops/1", running, running, succeeded)``
answers the first GET of ``/ops/1`` with ``running``, the second with ``running``,
and every later one with ``succeeded``. A request no script expects gets a 418 (the
operation fails with PollingFailed, loudly) and is kept in ``unrouted``, which the
fixture checks at the end.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from osfutures import ManualClock, Monitor

Answer = Callable[[Request], Response]


def answer(
    status: int = 200,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    content_type: str | None = None,
) -> Answer:
    """An answer: ``body`` as JSON, or ``raw`` bytes, with ``headers``."""

    def make(request: Request) -> Response:
        if raw is not None:
            data, kind = raw, content_type
        elif body is not None:
            data, kind = json.dumps(body).encode(), content_type or "application/json"
        else:
            data, kind = b"", content_type
        response = Response(data, status=status, headers=headers or {})
        if kind is not None:
            response.content_type = kind
        else:
            del response.headers["Content-Type"]
        return response

    return make


def accepted(status_url: str | None = None, header: str = "Location", **more: Any) -> Answer:
    """A 202 naming ``status_url`` in ``header`` (none if ``status_url`` is None)."""
    headers = dict(more.pop("headers", None) or {})
    if status_url is not None:
        headers[header] = status_url
    return answer(202, headers=headers, **more)


def status(state: str | None, code: int = 200, **fields: Any) -> Answer:
    """A status answer: ``{"status": state, **fields}`` (no status field if None)."""
    headers = fields.pop("headers", None)
    body = dict(fields) if state is None else {"status": state, **fields}
    return answer(code, body, headers=headers)


@dataclass
class Seen:
    """One request the service got."""

    at: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class Service:
    """A scripted HTTP service on 127.0.0.1 (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[tuple[str, str], list[Answer]] = {}
        self.seen: list[Seen] = []
        self.unrouted: list[Seen] = []
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler
        )
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def on(self, method: str, path: str, *answers: Answer) -> None:
        """Script the answers to ``method path`` (the last one repeats)."""
        assert answers
        with self._lock:
            self._scripts[(method.upper(), path)] = list(answers)

    def requests(self, path: str | None = None, method: str | None = None) -> list[Seen]:
        """What was asked (of ``path``, with ``method``), in order."""
        with self._lock:
            return [
                s
                for s in self.seen
                if (path is None or s.path == path) and (method is None or s.method == method)
            ]

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        seen = Seen(
            at=time.monotonic(),
            method=request.method,
            path=request.path,
            query=request.query_string.decode(),
            headers=dict(request.headers.items()),
            body=request.get_data(),
        )
        with self._lock:
            self.seen.append(seen)
            script = self._scripts.get((request.method, request.path))
            make = None
            if script:
                make = script.pop(0) if len(script) > 1 else script[0]
            else:
                self.unrouted.append(seen)
        if make is None:
            response = Response(f"no route for {request.method} {request.path}", status=418)
        else:
            response = make(request)
        return response(environ, start_response)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class Harness:
    """A monitor on a manual clock: polls happen when the test moves time."""

    def __init__(self, clock: ManualClock, monitor: Monitor) -> None:
        self.clock = clock
        self.monitor = monitor

    def step(self, seconds: float = 1.0, times: int = 1) -> None:
        for _ in range(times):
            self.clock.advance(seconds)
            assert self.monitor.wait_idle(10), "monitor did not settle"
