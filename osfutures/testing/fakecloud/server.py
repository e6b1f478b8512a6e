"""The HTTP side: cheroot serves, werkzeug routes, one WSGI app dispatches to services.

Every request goes: route match, body size check, fault decision, token check, the
service's handler under the cloud lock, then accounting. A dropped-connection fault closes
the real socket without a response; the app reaches the socket through :class:`_Gateway`,
which puts a ``drop`` callable in the WSGI environ.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import cheroot.wsgi
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .accounting import RECORDS_KEY, Accounting
from .errors import (
    BY_STATUS,
    SERVER_ERROR,
    InternalError,
    RequestTooLarge,
    Unauthorized,
    render_keystone,
    render_webob,
)
from .faults import FAULT_STATUS, FaultKind, Faults
from .service import (
    REQUEST_ID_HEADER,
    REQUEST_ID_KEY,
    Call,
    CloudContext,
    Principal,
    Route,
    ServiceFrontend,
    TokenValidator,
    new_request_id,
    wants_json,
)

log = logging.getLogger(__name__)

DROP_KEY = "fakecloud.drop"
#: Where the app leaves the matched route in the WSGI environ.
ROUTE_KEY = "fakecloud.route"
StartResponse = Callable[..., Any]


class _Gateway(cheroot.wsgi.Gateway_10):
    """cheroot's WSGI 1.0 gateway, plus a way for the app to drop the connection."""

    def respond(self) -> None:
        self.env[DROP_KEY] = self._drop
        super().respond()

    def _drop(self) -> None:
        # Mark the response as sent so cheroot writes nothing, then close the socket:
        # the client sees the connection end with no status line at all.
        self.req.sent_headers = True
        self.req.close_connection = True
        with contextlib.suppress(OSError):
            self.req.conn.socket.shutdown(socket.SHUT_RDWR)


def route_template(rule: str) -> str:
    """``/v2.1/servers/<server_id>`` -> ``/v2.1/servers/{server_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


@functools.lru_cache(maxsize=16)
def url_map(rules: tuple[tuple[str, tuple[str, ...]], ...]) -> Map:
    """Return the werkzeug map of a routing table; rule ``i``'s endpoint is ``i``.

    Compiling the rules is most of what building a FakeCloud costs, and every cloud with
    the same services has the same table, so each table is compiled once per process (a
    map is only read once built).
    """
    table = [
        Rule(path, endpoint=key, methods=list(methods)) for key, (path, methods) in enumerate(rules)
    ]
    return Map(table, strict_slashes=False, merge_slashes=False)


class FakeApp:
    """The WSGI application of one cloud.

    Args:
        context: the cloud's shared state.
        frontends: each service's URL prefix and frontend, plus the control routes.
        faults: the fault settings consulted for every service request.
    """

    def __init__(
        self,
        context: CloudContext,
        frontends: Sequence[tuple[str, ServiceFrontend]],
        faults: Faults,
        control_prefix: str = "/_fake",
    ) -> None:
        self.context = context
        self.faults = faults
        self._control_prefix = control_prefix
        self._targets: list[tuple[str, ServiceFrontend, Route, str]] = []
        self._prefixes: list[tuple[str, ServiceFrontend]] = []
        rules: list[tuple[str, tuple[str, ...]]] = []
        for prefix, frontend in frontends:
            self._prefixes.append((prefix, frontend))
            for route in frontend.routes():
                path = prefix + route.rule
                template = route_template(path.rstrip("/") or "/")
                self._targets.append((prefix, frontend, route, template))
                rules.append((path, tuple(route.methods)))
        self._map = url_map(tuple(rules))

    @property
    def accounting(self) -> Accounting:
        """The cloud's counters."""
        return self.context.accounting

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # Decided first, as oslo.middleware's request_id filter does, so that a handler
        # can record the id of the request that started an operation.
        request_id = environ[REQUEST_ID_KEY] = new_request_id()
        request = Request(environ)
        response, route_key = self._respond(request, environ)
        if response is None:
            self.accounting.record_request(route_key, 0, 0)
            return []
        frontend = self._owner(request.path)
        route: Route | None = environ.get(ROUTE_KEY)
        headers = frontend.request_id_headers if frontend else (REQUEST_ID_HEADER,)
        for header in headers if route is None or route.request_ids else ():
            response.headers[header] = request_id
        if route_key:
            size = response.content_length or 0
            # An error answer carries no records, whatever its handler counted first.
            records = environ.get(RECORDS_KEY, 0) if response.status_code < 400 else 0
            self.accounting.record_request(route_key, response.status_code, size, records)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def _respond(self, request: Request, environ: dict[str, Any]) -> tuple[Response | None, str]:
        adapter = self._map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except RouteNotFound:
            return self._unrouted(request, ()), ""
        except MethodNotAllowed as refused:
            return self._unrouted(request, refused.valid_methods or ()), ""
        prefix, frontend, route, template = self._targets[endpoint]
        environ[ROUTE_KEY] = route
        if prefix == self._control_prefix:
            return self._call(request, prefix, frontend, route, dict(args), None), ""
        route_key = f"{request.method} {template}"
        too_large = _refuse_size(request, frontend)
        if too_large is not None:
            return too_large, route_key
        delay, fault = self.faults.decide(route_key)
        if delay:
            time.sleep(delay)
        token = request.headers.get("X-Auth-Token")
        if fault is not None:
            if fault.kind is FaultKind.DROP:
                drop: Callable[[], None] | None = environ.get(DROP_KEY)
                if drop is not None:
                    drop()
                    return None, route_key
                fault = None
            elif fault.kind is FaultKind.EXPIRE_TOKEN:
                if token:
                    self._validator().expire(token)
            else:
                status = FAULT_STATUS[fault.kind]
                error = BY_STATUS[status](_FAULT_MESSAGES[status], retry_after=fault.retry_after)
                return frontend.render_error(error, wants_json(request)), route_key
        principal = None
        if not route.public:
            principal = self._authenticate(token)
            if principal is None:
                return self._unauthorized(request), route_key
        return self._call(request, prefix, frontend, route, dict(args), principal), route_key

    def _call(
        self,
        request: Request,
        prefix: str,
        frontend: ServiceFrontend,
        route: Route,
        args: dict[str, Any],
        principal: Principal | None,
    ) -> Response:
        base_url = request.host_url.rstrip("/")
        try:
            with self.context.lock:
                now = self.context.clock.now()
                request_id = request.environ[REQUEST_ID_KEY]
                call = Call(request, principal, now, base_url, prefix, request_id=request_id)
                return frontend.respond(route, call, args)
        except Exception:
            # Never include the request: its headers carry tokens, its body passwords.
            log.exception("FakeCloud handler failed on %s %s", request.method, request.path)
            error = InternalError("Unexpected API Error. Please report this at FakeCloud.")
            return frontend.render_error(error, wants_json(request))

    def _validator(self) -> TokenValidator:
        validator = self.context.backends.get("identity")
        if not isinstance(validator, TokenValidator):
            raise RuntimeError("FakeCloud needs the identity service to check tokens")
        return validator

    def _authenticate(self, token: str | None) -> Principal | None:
        if not token:
            return None
        with self.context.lock:
            return self._validator().validate(token, self.context.clock.now())

    def _unauthorized(self, request: Request) -> Response:
        # keystonemiddleware answers for every service, in keystone's style.
        error = Unauthorized("The request you have made requires authentication.")
        response = render_keystone(error)
        response.headers["WWW-Authenticate"] = f'Keystone uri="{request.host_url}identity"'
        return response

    def _unrouted(self, request: Request, allow: Iterable[str]) -> Response:
        frontend = self._owner(request.path)
        if frontend is None:
            return Response("Not Found", status=404, content_type="text/plain")
        too_large = _refuse_size(request, frontend)
        return too_large or frontend.unrouted(request, _declared(allow))

    def _owner(self, path: str) -> ServiceFrontend | None:
        """Return the frontend whose prefix ``path`` is under, or None."""
        for prefix, frontend in self._prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return frontend
        return None


#: What oslo.middleware's sizelimit answers; the %s is in its explanation unfilled.
SIZE_LIMIT_MESSAGE = "Request is too large. Larger than max_request_body_size (%s)."


def _refuse_size(request: Request, frontend: ServiceFrontend) -> Response | None:
    """Return the 413 of a body over the service's limit, judged by Content-Length alone
    (the body is never read), or None."""
    limit = frontend.max_body_size
    if limit is None or (request.content_length or 0) <= limit:
        return None
    return render_webob(RequestTooLarge(SIZE_LIMIT_MESSAGE), wants_json(request))


def _declared(methods: Iterable[str]) -> tuple[str, ...]:
    # werkzeug adds HEAD to every GET rule; the services' Allow lists do not show it.
    order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    present = set(methods)
    if "GET" in present:
        present.discard("HEAD")
    return tuple(m for m in order if m in present)


_FAULT_MESSAGES = {
    500: SERVER_ERROR,
    503: "The server is currently unavailable. Please try again at a later time.",
    429: "This request was rate-limited.",
    413: "This request was rate-limited.",
}


class HttpServer:
    """cheroot serving a WSGI app on a background thread.

    Args:
        app: the WSGI application.
        host: the address to bind.
        port: the port; 0 picks a free one.
        threads: worker threads. Requests are short and keep-alive connections wait
            in cheroot's selector, not on a thread, so a few dozen carry hundreds of
            requests per second.
    """

    def __init__(
        self, app: FakeApp, host: str = "127.0.0.1", port: int = 0, threads: int = 32
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.threads = threads
        self._server: cheroot.wsgi.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and start serving.

        Every thread it starts is a daemon: a cloud nobody stopped never keeps the
        interpreter from exiting, at the end of a script or on Ctrl-C.

        Raises:
            OSError: if the address cannot be bound, with the errno of the failure
                (``errno.EADDRINUSE``, ...) and the address as its ``filename``.
        """
        server = cheroot.wsgi.Server(
            (self.host, self.port),
            self.app,
            numthreads=self.threads,
            request_queue_size=256,
            timeout=60,
            shutdown_timeout=2,
        )
        server.gateway = _Gateway
        # cheroot's select loop checks for stop this often; its 0.5 s default makes every
        # test's teardown half a second long.
        server.expiration_interval = 0.1
        # prepare() binds and starts cheroot's worker threads, which it makes without a
        # daemon flag, so they inherit the flag of the thread that makes them.
        try:
            _on_daemon_thread(server.prepare)
        except OSError as error:
            raise _bind_error(error, f"{self.host}:{self.port}") from error
        self.port = int(server.bind_addr[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve, name="fakecloud-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and wait for the serving thread."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def _on_daemon_thread(function: Callable[[], None]) -> None:
    """Run ``function`` on a daemon thread, wait for it, and raise what it raised."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            function()
        except BaseException as error:  # handed to the thread that waits
            failure.append(error)

    thread = threading.Thread(target=run, name="fakecloud-http-start", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _bind_error(error: OSError, address: str) -> OSError:
    """Return cheroot's bind failure as an OSError with the errno and reason it buries in
    its message ("No socket could be created -- ((host, port): [Errno 98] Address ...)")."""
    found = re.search(r"\[Errno (-?\d+)\] ([^()]*)\)$", str(error))
    if found is None:
        return OSError(error.errno, str(error), address)
    return OSError(int(found.group(1)), found.group(2), address)
