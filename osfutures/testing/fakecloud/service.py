"""What every service folder provides, and what the shared parts give it.

A service is a :class:`ServiceSpec` (catalog entry and URL prefix) whose ``build``
function receives the :class:`CloudContext` and returns a :class:`ServiceFrontend`: its
routes, its error style and any per-request framing (Nova's microversion headers).
"""

from __future__ import annotations

import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from werkzeug.wrappers import Request, Response

from .accounting import Accounting
from .clock import ScenarioClock
from .errors import (
    NOT_FOUND,
    SERVER_ERROR,
    ApiError,
    BadRequest,
    ErrorRenderer,
    InternalError,
    NotAcceptable,
    NotFound,
    render_keystone,
    render_webob,
)
from .lifecycle import ResourceStore
from .scenario import Scenario

#: An API microversion, (major, minor).
Version = tuple[int, int]
#: The header of the microversion negotiation the services share.
VERSION_HEADER = "OpenStack-API-Version"
_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
#: oslo.middleware's default ``max_request_body_size`` (112 KiB): the limit of the
#: ``sizelimit`` filter in front of nova, cinder, manila, octavia and keystone.
OSLO_MAX_REQUEST_BODY_SIZE = 114688
#: The header oslo.middleware's ``request_id`` filter answers every request with.
REQUEST_ID_HEADER = "x-openstack-request-id"
#: Where that filter leaves the request's id in the WSGI environ, for the application.
REQUEST_ID_KEY = "openstack.request_id"


def new_request_id() -> str:
    """Return a new request id as oslo.context makes them: ``req-`` and a UUID4.

    Not drawn from the cloud's seeded generator: request ids would then shift every
    resource id that follows, and nothing needs them to repeat.
    """
    return f"req-{uuid.uuid4()}"


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    user_id: str
    user_name: str
    project_id: str
    project_name: str
    roles: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        """Whether the token carries the admin role."""
        return "admin" in self.roles


@dataclass
class Call:
    """One request as a handler sees it.

    Attributes:
        request: the werkzeug request.
        principal: the token's owner; None on public routes.
        now: the scenario time the request is served at.
        base_url: scheme, host and port the client used, without a trailing slash.
        prefix: the service's URL prefix (``/compute``).
        version: the API microversion in effect, for services that have them.
        discard_body: whether the service ignores this request's body (cinder does
            when no Content-Type names it); :meth:`json` then returns None.
        request_id: the id the answer's ``x-openstack-request-id`` carries, decided
            before the handler runs, so what the handler starts can record it (Nova's
            instance actions).
    """

    request: Request
    principal: Principal | None
    now: float
    base_url: str
    prefix: str
    version: Version = (0, 0)
    discard_body: bool = False
    request_id: str = ""

    @property
    def root(self) -> str:
        """The service's root URL: base URL and prefix."""
        return self.base_url + self.prefix

    @property
    def caller(self) -> Principal:
        """The principal of an authenticated route.

        Raises:
            RuntimeError: on a public route, where no token was checked.
        """
        if self.principal is None:
            raise RuntimeError("this route is public: no principal")
        return self.principal

    @property
    def media_type(self) -> str | None:
        """The Content-Type without parameters, lowercase; None without the header."""
        if "Content-Type" not in self.request.headers:
            return None
        return self.request.mimetype

    def json(self) -> Any:
        """Return the request body parsed as JSON, None when empty or discarded.

        Raises:
            ValueError: if the body is not JSON (or not text), with the parser's
                message; the frontend words the error answer.
            InternalError: if the body nests deeper than the parser can follow.
        """
        if self.discard_body:
            return None
        data = self.request.get_data()
        if not data:
            return None
        # Not request.get_json(): on bad JSON it raises werkzeug's own BadRequest, which
        # no frontend renders, so the client would get a 500 instead of the service's 400.
        try:
            return json.loads(data)
        except RecursionError as error:
            # The services parse with json.loads as well and catch only ValueError, so
            # their fault wrappers answer this as any unexpected exception: a 500.
            raise InternalError(SERVER_ERROR, unexpected=error) from None


Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    """One URL rule of a service, relative to its prefix.

    Attributes:
        rule: a werkzeug rule, e.g. ``/v2.1/servers/<server_id>``.
        methods: the HTTP methods it answers.
        handler: called with a :class:`Call` and the rule's arguments.
        public: whether it answers without a token (version documents, token issue).
        framed: whether the service's :meth:`ServiceFrontend.begin` and
            :meth:`ServiceFrontend.finish` apply (Nova sends no microversion headers on its
            root version list).
        request_ids: whether the answer carries the request id headers (Nova's root
            version list does not: its api-paste pipeline has no request id filter).
    """

    rule: str
    methods: tuple[str, ...]
    handler: Handler
    public: bool = False
    framed: bool = True
    request_ids: bool = True


class ServiceFrontend:
    """Base of each service's ``responses.py`` class.

    Args:
        context: the cloud the service belongs to.
    """

    #: How this service words its errors.
    render_error: ErrorRenderer = staticmethod(render_keystone)
    #: The largest request body the service takes, in bytes: a larger Content-Length is
    #: refused with 413 before routing and authentication, as oslo.middleware's
    #: ``sizelimit`` filter refuses it. None for a service without that filter.
    max_body_size: int | None = None
    #: The headers that carry the request id on every answer under the service's prefix,
    #: errors included (the filters that add them stand first in the api-paste pipelines).
    request_id_headers: tuple[str, ...] = (REQUEST_ID_HEADER,)

    def __init__(self, context: CloudContext) -> None:
        self.context = context

    def routes(self) -> Sequence[Route]:
        """Return the routing table (the service's ``urls.py`` builds it)."""
        raise NotImplementedError

    def respond(self, route: Route, call: Call, args: dict[str, Any]) -> Response:
        """Run the handler and render any :class:`ApiError` it raises."""
        try:
            if route.framed:
                self.begin(call)
            response = route.handler(call, **args)
        except ApiError as error:
            response = self.render_error(error, wants_json(call.request))
        return self.finish(call, response) if route.framed else response

    def unrouted(self, request: Request, allow: Sequence[str]) -> Response:
        """Answer a request that no route takes; override where the service differs.

        By default as the ``routes`` mapper of nova, cinder, manila and heat does: it
        matches method and path together, so a known path with another method gets the
        same bare webob 404 as an unknown path.

        Args:
            allow: the methods the path answers; empty when no route has the path.
        """
        return render_webob(NotFound(NOT_FOUND), wants_json(request))

    def begin(self, call: Call) -> None:
        """Check or read request-wide headers; override for microversions.

        Raises:
            ApiError: to refuse the request.
        """

    def finish(self, call: Call, response: Response) -> Response:
        """Add response-wide headers; override for microversions."""
        return response


def wants_json(request: Request) -> bool:
    """Whether the client accepts JSON errors (as openstacksdk always does)."""
    accept = request.headers.get("Accept", "")
    return not accept or "json" in accept or "*/*" in accept


def version_text(version: Version) -> str:
    """Return ``2.1`` for ``(2, 1)``."""
    return f"{version[0]}.{version[1]}"


def version_entry(header: str | None, service: str) -> str | None:
    """Return what an ``OpenStack-API-Version`` header asks of one service.

    Args:
        header: the header's text, e.g. ``compute 2.79, volume 3.0``; None if absent.
        service: the service name its entry starts with (``compute``, ``volume``).

    Returns:
        the entry's version text (``2.79``, ``latest``, or ``""`` when the entry
        names no version); None if the header has no entry for ``service``.
    """
    found = None
    for part in (header or "").split(","):
        name, _, value = part.strip().partition(" ")
        if name.lower() == service:
            found = value.strip()
    return found


def read_microversion(call: Call, text: str | None, minimum: Version, maximum: Version) -> None:
    """Set ``call.version`` to the microversion asked for, as nova, cinder and manila do.

    Args:
        text: the version text the service found in its header (``2.79``,
            ``latest``); None or blank asks for ``minimum``.
        minimum: the oldest microversion the service supports.
        maximum: the newest; ``latest`` asks for it.

    Raises:
        BadRequest: if the text is not ``Major.Minor``, worded as they word it;
            ``call.version`` is left as it was.
        NotAcceptable: if the version is outside ``minimum..maximum``;
            ``call.version`` is then the refused version, which the services echo on the 406.
    """
    requested = (text or "").strip()
    if not requested:
        call.version = minimum
        return
    if requested.lower() == "latest":
        call.version = maximum
        return
    match = _VERSION_RE.match(requested)
    if match is None:
        raise BadRequest(
            f"API Version String {requested} is of invalid format. Must be of format "
            "MajorNum.MinorNum."
        )
    call.version = (int(match.group(1)), int(match.group(2)))
    if not minimum <= call.version <= maximum:
        raise NotAcceptable(
            f"Version {requested} is not supported by the API. Minimum is "
            f"{version_text(minimum)} and maximum is {version_text(maximum)}."
        )


@dataclass(frozen=True)
class ServiceSpec:
    """The registry entry of a service.

    Attributes:
        name: its folder and URL prefix (``compute`` answers under ``/compute``).
        service_type: the catalog type (``compute``, ``block-storage``).
        catalog_name: the catalog name (``nova``).
        endpoint: the catalog URL path; ``{project_id}`` is filled per token.
        build: makes the service's frontend (and backend) for one cloud.
    """

    name: str
    service_type: str
    catalog_name: str
    endpoint: str
    build: Callable[[CloudContext], ServiceFrontend]

    @property
    def prefix(self) -> str:
        """The URL prefix all its routes answer under."""
        return "/" + self.name


@dataclass
class CloudContext:
    """What the services of one cloud share.

    Attributes:
        clock: the scenario clock.
        scenario: the timing model; replace it to change operations started later.
        accounting: request and transition counters.
        services: the registered services, for the catalog.
        seed: the seed of generated ids.
    """

    clock: ScenarioClock
    scenario: Scenario
    accounting: Accounting
    services: Sequence[ServiceSpec]
    seed: int = 0
    #: One lock for all state: held around every request and every Python API call.
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Backends by service name, so services can find each other (compute -> image).
    backends: dict[str, object] = field(default_factory=dict)
    stores: list[ResourceStore[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = random.Random(f"{self.seed}/ids")

    def new_uuid(self) -> str:
        """Return a UUID4 drawn from the seeded generator: ids repeat with the seed."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def new_store(self, kind: str, state_field: str = "status") -> ResourceStore[Any]:
        """Make a resource store whose transitions are accounted and settled on stats."""
        store: ResourceStore[Any] = ResourceStore(kind, self.accounting, state_field)
        self.stores.append(store)
        return store


@runtime_checkable
class TokenValidator(Protocol):
    """What the HTTP layer needs of the identity backend."""

    def validate(self, token: str, now: float) -> Principal | None:
        """Return the token's principal, or None if it is unknown or expired."""

    def expire(self, token: str | None = None) -> None:
        """Expire one token, or every token when None."""
