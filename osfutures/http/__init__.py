"""Operations behind a status URL: HTTP requests answered with ``202 Accepted``.

Many REST APIs start background work with ``202 Accepted`` and a URL to ask how it
goes (Azure's long-running operations, the Asynchronous Operation Framework, RFC
7231's 202 + ``Location``). :func:`request_async` sends such a request and returns
an :class:`~osfutures.OperationFuture`; the monitor polls the status URL until the
operation ends. :class:`StatusConvention` says where a service puts the status URL
and what its answers mean. See :doc:`/http`.

Modules, one job each: ``_transport`` sends requests by the credentials rule,
``_convention`` reads a service's answers, ``_polling`` turns a status answer into
an observation, ``_collection`` lists many operations' states in one request,
``_request`` starts operations.
"""

from osfutures.http._convention import StatusCollection, StatusConvention
from osfutures.http._request import (
    DEFAULT_REQUEST_TIMEOUT,
    HTTP_RETRY,
    request_async,
    request_async_r,
)

__all__ = [
    "DEFAULT_REQUEST_TIMEOUT",
    "HTTP_RETRY",
    "StatusCollection",
    "StatusConvention",
    "request_async",
    "request_async_r",
]
