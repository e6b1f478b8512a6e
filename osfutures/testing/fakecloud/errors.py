"""Error answers, in the JSON shape of the service that gives them.

Backends raise :class:`ApiError` subclasses; the frontend of the service that was called
renders them with its style: Nova's ``{"itemNotFound": {"code": 404, "message": ...}}``,
keystone's ``{"error": {"code", "message", "title"}}`` or glance's webob body.
"""

from __future__ import annotations

import http
import json
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Response


class ApiError(Exception):
    """An HTTP error answer.

    :param message: the human-readable message, worded as the real service words it.
    :param retry_after: seconds for a ``Retry-After`` header (413, 429, 503).
    """

    status = 500

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    @property
    def title(self) -> str:
        """The HTTP reason phrase, e.g. ``Not Found``."""
        return http.HTTPStatus(self.status).phrase


class BadRequest(ApiError):
    """400: the request is invalid."""

    status = 400


class Unauthorized(ApiError):
    """401: no valid token or credentials."""

    status = 401


class Forbidden(ApiError):
    """403: not allowed."""

    status = 403


class NotFound(ApiError):
    """404: no such resource."""

    status = 404


class NotAcceptable(ApiError):
    """406: e.g. an unsupported microversion."""

    status = 406


class Conflict(ApiError):
    """409: the resource is in the wrong state for the request."""

    status = 409


class RequestTooLarge(ApiError):
    """413: the over-limit answer of older Nova rate limiting."""

    status = 413


class TooManyRequests(ApiError):
    """429: rate limited."""

    status = 429


class InternalError(ApiError):
    """500: the service failed."""

    status = 500


class ServiceUnavailable(ApiError):
    """503: the service cannot answer now."""

    status = 503


#: The ApiError class of each status a fault can inject.
BY_STATUS: dict[int, type[ApiError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        NotAcceptable,
        Conflict,
        RequestTooLarge,
        TooManyRequests,
        InternalError,
        ServiceUnavailable,
    )
}

#: Renders an error for one request.
ErrorRenderer = Callable[[ApiError, bool], Response]

# The fault names of nova.api.openstack.wsgi.Fault.
_NOVA_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def json_response(body: Any, status: int = 200, content_type: str = "application/json") -> Response:
    """Return a response with a JSON body (compact, as the services send it)."""
    return Response(json.dumps(body), status=status, content_type=content_type)


def _finish(error: ApiError, response: Response) -> Response:
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(int(error.retry_after))
    return response


def render_nova(error: ApiError, wants_json: bool = True) -> Response:
    """Render as Nova's fault wrapper does (``retryAfter`` is in the body of 413/429)."""
    detail: dict[str, Any] = {"code": error.status, "message": error.message}
    if error.status in (413, 429) and error.retry_after is not None:
        detail["retryAfter"] = str(int(error.retry_after))
    name = _NOVA_FAULT_NAMES.get(error.status, "computeFault")
    body = json_response({name: detail}, error.status, "application/json; charset=UTF-8")
    return _finish(error, body)


def render_keystone(error: ApiError, wants_json: bool = True) -> Response:
    """Render as keystone and keystonemiddleware do."""
    body = {"error": {"code": error.status, "title": error.title, "message": error.message}}
    return _finish(error, json_response(body, error.status))


def render_glance(error: ApiError, wants_json: bool = True) -> Response:
    """Render as glance's webob exceptions do: JSON when asked for, else an HTML page."""
    code = f"{error.status} {error.title}"
    if wants_json:
        body = {"message": f"{error.message}<br /><br />\n\n\n", "code": code, "title": error.title}
        return _finish(error, json_response(body, error.status))
    page = (
        f"<html>\n <head>\n  <title>{code}</title>\n </head>\n <body>\n  <h1>{code}</h1>\n"
        f"  {error.message}<br /><br />\n\n\n\n </body>\n</html>"
    )
    return _finish(error, Response(page, status=error.status, content_type="text/html"))


def render_heat(error: ApiError, wants_json: bool = True) -> Response:
    """Render as heat's fault middleware does.

    ``error.type`` is the name of the exception heat raised: a service's own
    :class:`ApiError` subclass is named after heat's exception (``EntityNotFound``); the
    generic classes of this module stand for webob's (``HTTPBadRequest``).
    """
    cls = type(error)
    kind = cls.__name__
    if cls.__module__ == __name__:
        kind = "HTTP" + error.title.replace(" ", "")
    body = {
        "explanation": _WEBOB_EXPLANATIONS.get(error.status, error.title),
        "code": error.status,
        "error": {"message": error.message, "traceback": None, "type": kind},
        "title": error.title,
    }
    return _finish(error, json_response(body, error.status))


def render_octavia(error: ApiError, wants_json: bool = True) -> Response:
    """Render as octavia's WSME layer does: ``faultcode`` is Client for 4xx."""
    fault = "Client" if error.status < 500 else "Server"
    body = {"faultcode": fault, "faultstring": error.message, "debuginfo": None}
    return _finish(error, json_response(body, error.status))


# webob's explanation of each status, which heat puts beside the message.
_WEBOB_EXPLANATIONS = {
    400: "The server could not comply with the request since it is either malformed or "
    "otherwise incorrect.",
    403: "Access was denied to this resource.",
    404: "The resource could not be found.",
    409: "There was a conflict when trying to complete your request.",
    500: "The server has either erred or is incapable of performing the requested operation.",
    503: "The server is currently unavailable. Please try again at a later time.",
}
