"""Error answers, in the JSON shape of the service that gives them.

Backends raise :class:`ApiError` subclasses; the frontend of the service that was called
renders them with its style: Nova's ``{"itemNotFound": {"code": 404, "message": ...}}``,
keystone's ``{"error": {"code", "message", "title"}}`` or webob's own body, which glance
sends and so does the middleware in front of every service (oslo's request size limit, the
URL router's 404).
"""

from __future__ import annotations

import http
import json
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Response

#: webob's explanations, which its bare error bodies and heat's fault body show.
NOT_FOUND = "The resource could not be found."
CLIENT_ERROR = (
    "The server could not comply with the request since it is either malformed or "
    "otherwise incorrect."
)
SERVER_ERROR = "The server has either erred or is incapable of performing the requested operation."

# webob's titles where Python's differ (3.13 renamed 413 and 422).
_WEBOB_TITLES = {413: "Request Entity Too Large", 422: "Unprocessable Entity"}


class ApiError(Exception):
    """An HTTP error answer.

    Args:
        message: the human-readable message, worded as the real service words it.
        retry_after: seconds for a ``Retry-After`` header (413, 429, 503).
        unexpected: for an error the real service did not expect (its fault wrapper
            turns any stray exception into a 500), that exception; heat's and octavia's
            error bodies name or quote it.
    """

    status = 500

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        unexpected: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.unexpected = unexpected

    @property
    def title(self) -> str:
        """The HTTP reason phrase as webob words it, e.g. ``Not Found``."""
        return _WEBOB_TITLES.get(self.status) or http.HTTPStatus(self.status).phrase


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


class MethodNotAllowed(ApiError):
    """405: the path exists, but not with this method.

    Args:
        method: the request's method.
        allow: the methods the path answers; webob's rendering lists them in ``Allow``.
        message: the message, where the service words it otherwise than webob.
    """

    status = 405

    def __init__(self, method: str, allow: Iterable[str], message: str | None = None) -> None:
        super().__init__(message or f"The method {method} is not allowed for this resource.")
        self.allow = tuple(allow)


class NotAcceptable(ApiError):
    """406: e.g. an unsupported microversion."""

    status = 406


class Conflict(ApiError):
    """409: the resource is in the wrong state for the request."""

    status = 409


class RequestTooLarge(ApiError):
    """413: a request body over the size limit, or older Nova's rate limiting."""

    status = 413


class UnsupportedMediaType(ApiError):
    """415: a request body of a content type the service does not read."""

    status = 415


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


def render_webob(error: ApiError, wants_json: bool = True) -> Response:
    """Render as a bare webob exception does: JSON when asked for, else an HTML page.

    Glance's errors look like this, and so do the answers of the middleware in front of
    the other services: oslo.middleware's request size limit and the URL router's 404.
    A 405 carries an ``Allow`` header.
    """
    code = f"{error.status} {error.title}"
    if isinstance(error, MethodNotAllowed):
        # webob's 405 has a template of its own.
        text = f"{error.message} <br /><br />\n"
    else:
        text = f"{error.message}<br /><br />\n\n\n"
    if wants_json:
        body = {"message": text, "code": code, "title": error.title}
        response = json_response(body, error.status)
    else:
        page = (
            f"<html>\n <head>\n  <title>{code}</title>\n </head>\n <body>\n  <h1>{code}</h1>\n"
            f"  {text}\n </body>\n</html>"
        )
        response = Response(page, status=error.status, content_type="text/html")
    if isinstance(error, MethodNotAllowed):
        response.headers["Allow"] = ", ".join(error.allow)
    return _finish(error, response)


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
    detail: dict[str, Any] = {"message": error.message, "traceback": None, "type": kind}
    if error.unexpected is not None:
        # Heat names an exception it did not expect but keeps its text to itself.
        detail = {"traceback": None, "type": type(error.unexpected).__name__}
    body = {
        "explanation": _WEBOB_EXPLANATIONS.get(error.status, error.title),
        "code": error.status,
        "error": detail,
        "title": error.title,
    }
    return _finish(error, json_response(body, error.status))


def render_octavia(error: ApiError, wants_json: bool = True) -> Response:
    """Render as octavia's WSME layer does: ``faultcode`` is Client for 4xx; an exception
    it did not expect is quoted."""
    fault = "Client" if error.status < 500 else "Server"
    text = error.message if error.unexpected is None else str(error.unexpected)
    body = {"faultcode": fault, "faultstring": text, "debuginfo": None}
    return _finish(error, json_response(body, error.status))


# webob's explanation of each status, which heat puts beside the message.
_WEBOB_EXPLANATIONS = {
    400: CLIENT_ERROR,
    403: "Access was denied to this resource.",
    404: NOT_FOUND,
    405: CLIENT_ERROR,
    409: "There was a conflict when trying to complete your request.",
    413: "The body of your request was too large for this server.",
    415: CLIENT_ERROR,
    500: SERVER_ERROR,
    503: "The server is currently unavailable. Please try again at a later time.",
}
