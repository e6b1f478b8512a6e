"""``request_async`` and ``request_async_r``: a request whose answer may be "later".

The request goes out on the caller's thread. What its answer means:

* 4xx or 5xx: raised at the call (:class:`requests.HTTPError`); nothing is watched.
* another 3xx than 303: raised at the call too (redirects of the starting request
  are not followed unless the caller asks: they could carry its credentials away).
* 2xx but 202: the operation is over; the future resolves at once with the answer.
* 303 See Other: the operation is over and its result is elsewhere: the future
  resolves at once with the GET of the ``Location``.
* 202 Accepted: the monitor polls the status URL the answer names until the
  operation ends.

Once the service has accepted the request (any 2xx or 303), trouble no longer raises:
the future fails (with :class:`~osfutures.PollingFailed`), and ``sync_res`` keeps the
answer, which may name what the service is busy with.
"""

from __future__ import annotations

import re
from typing import Any

import requests
import tenacity
from tenacity.retry import retry_base
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from osfutures._checks import check_number, check_timeout, require_instance
from osfutures.errors import PollingFailed
from osfutures.future import OperationFuture, Unmade
from osfutures.http._collection import collection_member
from osfutures.http._convention import DEFAULT_CONVENTION, StatusConvention
from osfutures.http._polling import READER, Poller, failed, is_fatal, ready, retryable
from osfutures.http._transport import (
    Client,
    absolute,
    check_url,
    is_keystone_session,
    origin,
    safe_url,
)
from osfutures.monitor import Monitor, default_monitor
from osfutures.policy import PollInterval
from osfutures.retrying import Cleanup, Hook, check_policy, retrying
from osfutures.watch import OnGone

__all__ = ["DEFAULT_REQUEST_TIMEOUT", "HTTP_RETRY", "request_async", "request_async_r"]

#: Each request's own time limit, in seconds (requests' ``timeout``): the starting
#: request's and each poll's. The operation's deadline is ``timeout``.
DEFAULT_REQUEST_TIMEOUT = 30.0

#: ``request_async_r``'s default ``retry``: an operation that failed or timed out, a
#: connection failure or timeout of the starting request, or its 408, 425, 429 or
#: 5xx answer.
HTTP_RETRY = tenacity.retry_if_exception(retryable)

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110's method token
_DELETE_SUCCEEDS = OnGone(succeed=True)
_GONE_FAILS = OnGone()


def request_async(
    method: str,
    url: str,
    *,
    session: Any = None,
    timeout: float | None = None,
    interval: PollInterval | float | None = None,
    monitor: Monitor | None = None,
    convention: StatusConvention | None = None,
    request_timeout: float | tuple[float, float] = DEFAULT_REQUEST_TIMEOUT,
    other_hosts: bool = False,
    name: str | None = None,
    **requests_kwargs: Any,
) -> OperationFuture[Any]:
    """Send a request; return the future of the operation it starts.

    The request is sent on the calling thread. A final answer resolves the future
    at once; a ``202 Accepted`` naming a status URL is watched by the monitor until
    the operation ends (see :doc:`/http`).

    Args:
        method: the HTTP method (``"POST"``, ``"DELETE"``, ...).
        url: the absolute http(s) URL to send it to.
        session: what sends it: a :class:`requests.Session`, or a keystoneauth1
            ``Session`` or ``Adapter`` (its token goes along as it always does).
            Default: a new :class:`requests.Session` for this operation, closed when
            it ends (no cookie of one caller's reaches another's requests).
        timeout: the operation's deadline in seconds, from this call; ``None`` for
            the monitor's ``default_timeout``; ``math.inf`` for none.
        interval: seconds between polls, or a :class:`~osfutures.PollInterval`
            (default: the monitor's). A ``Retry-After`` puts a poll off further.
        monitor: the monitor that watches it (default: the process-wide one).
        convention: where the status URL is and what its answers mean (default:
            ``StatusConvention()``, which reads Azure's and the Asynchronous
            Operation Framework's).
        request_timeout: each request's own time limit: seconds, or requests'
            ``(connect, read)`` pair.
        other_hosts: fetch a status URL, redirect or result location on another
            origin than ``url``'s without credentials, instead of failing the
            operation.
        name: what the operation is, for messages (default: method and URL).
        **requests_kwargs: the request's own arguments (``json``, ``data``,
            ``headers``, ``params``, ``auth``, ``cookies``, ...), as
            ``session.request`` takes them. Polls of ``url``'s origin send its
            credentials and headers again (not those about the body).

    Returns:
        The operation's :class:`~osfutures.OperationFuture`. Its ``sync_res`` is
        the first answer (the 202), its ``request`` ``{"method", "url"}`` (the URL
        without its query). Its result is a :class:`requests.Response` (unless the
        convention's ``result`` makes something else): the final answer, the final
        status answer, or the answer of the GET of the result it points to.

    Raises:
        TypeError: an argument is of the wrong type (the message names it).
        ValueError: ``url`` is not an absolute http(s) URL, ``method`` not a
            method, or ``timeout``, ``interval`` or ``request_timeout`` not > 0.
        requests.HTTPError: the answer is a 4xx or 5xx, or a redirect.
        requests.RequestException: the request could not be sent (keystoneauth's
            own errors, with a keystoneauth session).
        MonitorShutdown, MonitorCrashed: the monitor takes no work (nothing was
            sent).
    """
    monitor = _checked(
        method, url, session, timeout, interval, monitor, convention,
        request_timeout, other_hosts, name, requests_kwargs,
    )  # fmt: skip
    method = method.upper()
    monitor._check_open()  # refused before anything changes in the service
    owned = session is None
    client = Client(
        requests.Session() if owned else session,
        owned=owned,
        request_url=url,
        options=requests_kwargs,
        request_timeout=request_timeout,
        other_hosts=other_hosts,
    )
    try:
        response = client.start(method, url)
        future = _follow(
            response,
            client,
            method=method,
            url=url,
            convention=convention or DEFAULT_CONVENTION,
            timeout=timeout,
            interval=interval,
            monitor=monitor,
            name=name,
        )
    except BaseException:
        client.close()
        raise
    future._add_internal_callback(lambda _: client.close())
    return future


def request_async_r(
    method: str,
    url: str,
    *,
    try_count: int = 3,
    tout: float | None = None,
    timeout: float | None = None,
    retry: retry_base | None = None,
    stop: stop_base | None = None,
    wait: wait_base | None = None,
    before: Hook | None = None,
    after: Hook | None = None,
    before_sleep: Hook | None = None,
    retry_error_callback: Hook | None = None,
    reraise: bool = False,
    cleanup: Cleanup[Any] | None = None,
    cleanup_last: bool = True,
    session: Any = None,
    interval: PollInterval | float | None = None,
    monitor: Monitor | None = None,
    convention: StatusConvention | None = None,
    request_timeout: float | tuple[float, float] = DEFAULT_REQUEST_TIMEOUT,
    other_hosts: bool = False,
    name: str | None = None,
    **requests_kwargs: Any,
) -> OperationFuture[Any]:
    """:func:`request_async`, attempted again while it fails (:func:`osfutures.retrying`).

    Each attempt sends the request again (give its body as bytes, a string or
    ``json``, not a stream) and is watched as :func:`request_async` watches it. A
    failed attempt is cleaned up first if ``cleanup`` is given. Every argument is
    checked before the first request is sent.

    Args:
        method: as for :func:`request_async`.
        url: as for :func:`request_async`.
        try_count: the most attempts (>= 1).
        tout: each attempt's deadline in seconds (its ``timeout``).
        timeout: the deadline of the whole operation, attempts and pauses included.
        retry: a tenacity retry strategy; default
            :data:`~osfutures.http.HTTP_RETRY`: an operation that failed or timed
            out, a connection failure or timeout of the starting request, or its
            408, 425, 429 or 5xx answer. Not a 4xx, nor an operation that could
            not be watched (:class:`~osfutures.PollingFailed`).
        stop: as for :func:`osfutures.retrying`, and so are ``wait``, ``before``,
            ``after``, ``before_sleep``, ``retry_error_callback``, ``reraise`` and
            ``cleanup_last``.
        wait: see ``stop``.
        before: see ``stop``.
        after: see ``stop``.
        before_sleep: see ``stop``.
        retry_error_callback: see ``stop``.
        reraise: see ``stop``.
        cleanup: given a failed attempt's future (its ``sync_res`` is the
            starting answer), undoes what it left behind and returns a future that
            is done once that is gone, or ``None``.
        cleanup_last: see ``stop``.
        session: as for :func:`request_async`, and so are ``interval``,
            ``monitor``, ``convention``, ``request_timeout``, ``other_hosts``,
            ``name`` and the request's own keyword arguments.
        interval: see ``session``.
        monitor: see ``session``.
        convention: see ``session``.
        request_timeout: see ``session``.
        other_hosts: see ``session``.
        name: see ``session``.
        **requests_kwargs: see ``session``.

    Returns:
        The operation's :class:`~osfutures.OperationFuture`; ``attempts`` lists
        every attempt.

    Raises:
        TypeError, ValueError: an argument is wrong (nothing was sent).
        requests.HTTPError, requests.RequestException: the first attempt's, when
            ``retry`` does not cover it (a 400).
        MonitorShutdown, MonitorCrashed: as for :func:`request_async`.
    """
    monitor = _checked(
        method, url, session, timeout, interval, monitor, convention,
        request_timeout, other_hosts, name, requests_kwargs,
    )  # fmt: skip
    check_policy(retry=retry)  # the others are checked by retrying(), before it starts
    method = method.upper()

    def start(attempt_timeout: float | None) -> OperationFuture[Any]:
        return request_async(
            method,
            url,
            session=session,
            timeout=attempt_timeout,
            interval=interval,
            monitor=monitor,
            convention=convention,
            request_timeout=request_timeout,
            other_hosts=other_hosts,
            name=name,
            **requests_kwargs,
        )

    return retrying(
        start,
        cleanup,
        try_count=try_count,
        tout=tout,
        timeout=timeout,
        retry=retry or HTTP_RETRY,
        stop=stop,
        wait=wait,
        before=before,
        after=after,
        before_sleep=before_sleep,
        retry_error_callback=retry_error_callback,
        reraise=reraise,
        cleanup_last=cleanup_last,
        name=name or f"{method} {safe_url(url)}",
        request=_record(method, url),
        monitor=monitor,
    )


def _checked(
    method: Any,
    url: Any,
    session: Any,
    timeout: Any,
    interval: Any,
    monitor: Any,
    convention: Any,
    request_timeout: Any,
    other_hosts: Any,
    name: Any,
    options: dict[str, Any],
) -> Monitor:
    """Check every argument, before anything is sent; return the monitor to use.

    Raises:
        TypeError, ValueError: an argument is wrong (the message names it).
    """
    require_instance("method", method, str)
    if not _TOKEN.match(method):
        raise ValueError(f"method: expected an HTTP method such as 'POST', got {method!r}")
    check_url("url", url)
    if not (
        session is None or isinstance(session, requests.Session) or is_keystone_session(session)
    ):
        raise TypeError(
            "session: expected a requests.Session, a keystoneauth1 Session or Adapter, or"
            f" None, got {type(session).__name__}"
        )
    check_timeout("timeout", timeout)
    require_instance("monitor", monitor, Monitor, optional=True)
    chosen: Monitor = monitor or default_monitor()
    PollInterval.coerce(interval, chosen.default_interval)
    require_instance("convention", convention, StatusConvention, optional=True)
    limits = request_timeout if isinstance(request_timeout, tuple) else (request_timeout,)
    if not 1 <= len(limits) <= 2:
        raise ValueError(
            f"request_timeout: expected seconds or a (connect, read) pair, got {request_timeout!r}"
        )
    for limit in limits:
        check_number("request_timeout", limit)
        check_timeout("request_timeout", limit, allow_inf=False)
    require_instance("other_hosts", other_hosts, bool)
    require_instance("name", name, str, optional=True)
    if "raise_exc" in options:
        raise TypeError(
            "raise_exc: request_async reads error answers itself (keystoneauth's"
            " raise_exc=False); a 4xx or 5xx raises requests.HTTPError at the call"
        )
    return chosen


def _record(method: str, url: str) -> dict[str, str]:
    """What ``future.request`` says: no query (it may hold a signature), no user,
    no header, no body."""
    return {"method": method, "url": safe_url(url)}


def _follow(
    response: requests.Response,
    client: Client,
    *,
    method: str,
    url: str,
    convention: StatusConvention,
    timeout: float | None,
    interval: PollInterval | float | None,
    monitor: Monitor,
    name: str | None,
) -> OperationFuture[Any]:
    """What the starting request's answer means: see the module's docstring."""
    code = response.status_code
    request = _record(method, url)
    label = name or f"{method} {request['url']}"
    if code >= 400:
        response.raise_for_status()
    if code == 303:
        try:
            poll = Poller(client, convention, url).see_other(response)
        except Exception as error:
            return _over(monitor, label, request, response, error=error)
        return _over(monitor, label, request, response, result=poll.result)
    if not 200 <= code < 300:
        where = response.headers.get("Location")
        raise requests.HTTPError(
            f"{code} {response.reason or ''} from {label}"
            f"{f' to {_safe_location(url, where)}' if where else ''}: redirects of the"
            " starting request are not followed (they could carry its credentials to"
            " another host); send it to the final URL, or pass allow_redirects=True",
            response=response,
        )
    if code != 202:
        make = convention.result
        return _over(monitor, label, request, response, result=lambda: _made(response, make))
    try:
        status_url = _status_url(response, url, convention, client)
    except Exception as error:
        return _over(monitor, label, request, response, error=error)
    try:
        final_url, final_first = convention._final_url(method, url, response)
        if final_url is not None:
            final_url = absolute(url, final_url)
        member = collection_member(client, convention, status_url)
    except Exception as error:
        return _over(monitor, label, request, response, error=error)
    poller = Poller(client, convention, status_url, final_url, final_first)
    return monitor.watch(
        poller.poll,
        ready=ready,
        failed=failed,
        reader=READER,
        on_gone=_DELETE_SUCCEEDS if method == "DELETE" else _GONE_FAILS,
        endpoint=origin(status_url),
        timeout=timeout,
        interval=interval,
        name=label,
        request=request,
        sync_res=response,
        initial=poller.accepted(response),
        is_fatal=is_fatal,
        batch=member,
    )


def _status_url(
    response: requests.Response, url: str, convention: StatusConvention, client: Client
) -> str:
    """The absolute status URL a 202 answer names.

    Raises:
        ValueError: it names none, or one on another host that is not allowed.
    """
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    found = convention._find_status_url(response, body)
    if not found:
        places = [f"header {h}" for h in convention.status_headers]
        places += [f"a link with rel {r!r}" for r in convention.status_links]
        places += [f"field {f!r}" for f in convention.status_fields]
        looked = "its convention's status_url" if convention.status_url else ", ".join(places)
        raise ValueError(f"the 202 Accepted answer names no status URL (looked for {looked})")
    status_url = absolute(url, found)
    if origin(status_url) != client.origin and not client.other_hosts:
        raise ValueError(
            f"the status URL {safe_url(status_url)} is on another host than the request"
            f" ({client.origin}): the request's credentials are not sent there; pass"
            " other_hosts=True to poll it without them"
        )
    return status_url


def _safe_location(url: str, location: str) -> str:
    try:
        return safe_url(absolute(url, location))
    except ValueError:
        return "a URL that is not http(s)"


def _made(response: requests.Response, make: Any) -> Any:
    return response if make is None else make(response)


def _over(
    monitor: Monitor,
    name: str,
    request: dict[str, str],
    response: requests.Response,
    *,
    result: Any = None,
    error: BaseException | None = None,
) -> OperationFuture[Any]:
    """A future over at once: resolved with ``result()`` (made when first read), or
    failed with :class:`~osfutures.PollingFailed` caused by ``error``."""
    future: OperationFuture[Any] = OperationFuture(
        name=name, request=request, sync_res=response, runner=monitor._runner
    )
    if error is not None:
        failure = PollingFailed(name, elapsed=0.0)
        failure.__cause__ = error
        future.set_exception(failure)
    else:
        future.set_result(Unmade(None, lambda _: result()))
    return future
