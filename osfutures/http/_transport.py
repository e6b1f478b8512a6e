"""Where an HTTP operation's requests go, and which credentials go with them.

One :class:`Client` per operation sends its starting request on the caller's thread,
then its polls on the monitor's probe threads (one at a time: the monitor never has
two polls of one operation in flight). The rule it enforces: the request's
credentials (its session's auth, headers and cookies, the ``auth``, ``cookies``,
``cert`` and headers the caller passed, a keystoneauth token) go only to the
request's own origin (scheme, host and port). A status URL, redirect or result
location on another origin is refused, or, when the caller allows other hosts,
fetched with a bare session that carries none of them.

Nothing here follows a redirect by itself: requests and keystoneauth would re-send
credentials to wherever a redirect points (requests strips only ``Authorization``).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

__all__ = [
    "REDIRECTS",
    "Client",
    "check_url",
    "is_keystone_session",
    "origin",
    "safe_url",
    "transient",
]

#: Redirects a status URL may answer with (303 See Other is read on its own: the
#: operation is over and its result is there).
REDIRECTS = frozenset({301, 302, 307, 308})
#: How many redirects one GET follows.
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: What of the caller's keyword arguments a poll of the request's origin sends too:
#: the credentials and the transport's settings, never the body or its query.
_POLL_KEYS = (
    "headers",
    "auth",
    "cookies",
    "cert",
    "verify",
    "proxies",
    # keystoneauth's own
    "requests_auth",
    "authenticated",
    "user_agent",
)


def origin(url: str) -> str:
    """``scheme://host:port`` of an absolute http(s) URL, lowercased, the port
    always given: what the credentials rule and the rate cap compare."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    return f"{scheme}://{host}:{port}"


def safe_url(url: str) -> str:
    """``url`` fit for messages and records: no user or password, no query (it may
    hold a signature or token: ``?sig=``), no fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme}://{netloc}{parts.path}"


def check_url(name: str, url: Any) -> str:
    """Return ``url`` if it is an absolute http(s) URL with a host.

    Raises:
        TypeError: ``url`` is not a string.
        ValueError: it is not an absolute http(s) URL (the message names ``name``).
    """
    if not isinstance(url, str):
        raise TypeError(f"{name}: expected an http(s) URL as a string, got {type(url).__name__}")
    problem = _url_problem(url)
    if problem:
        raise ValueError(f"{name}: expected an absolute http(s) URL, got {problem}")
    return url


def _url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as an absolute http(s) URL (words, without its
    query), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        return "a URL that cannot be parsed"
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        return f"scheme {parts.scheme!r}" if parts.scheme else "a URL with no scheme"
    if not parts.hostname:
        return "a URL with no host"
    return None


def absolute(base: str, reference: str) -> str:
    """``reference`` (a header's or a body's URL, maybe relative) resolved against
    ``base``.

    Raises:
        ValueError: the result is not an absolute http(s) URL.
    """
    if not isinstance(reference, str) or not reference.strip():
        raise ValueError(f"expected a URL, got {type(reference).__name__} {reference!r}")
    url = urljoin(base, reference.strip())
    problem = _url_problem(url)
    if problem:
        raise ValueError(
            f"{safe_url(url) if '://' in url else 'the URL'} is not http(s): {problem}"
        )
    return url


def is_keystone_session(session: Any) -> bool:
    """Whether ``session`` is a keystoneauth1 ``Session`` or ``Adapter`` (whose
    ``request(url, method, ...)`` adds the token itself). keystoneauth1 is imported
    only when the object comes from it."""
    if not any(k.__module__.startswith("keystoneauth1.") for k in type(session).__mro__):
        return False
    from keystoneauth1 import adapter
    from keystoneauth1 import session as ks_session

    return isinstance(session, (ks_session.Session, adapter.Adapter))


def transient(error: BaseException) -> bool | None:
    """Whether a request's error may pass if the request is made again: True for
    connection failures and timeouts (requests' and keystoneauth's), False for
    requests' other errors (an invalid URL, a body that cannot be decoded), None
    when this module cannot tell (an HTTP status, anything else)."""
    if isinstance(error, requests.RequestException) and not isinstance(error, requests.HTTPError):
        return isinstance(
            error,
            (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError),
        )
    ks_exceptions = sys.modules.get("keystoneauth1.exceptions")
    if ks_exceptions is not None and isinstance(error, ks_exceptions.RetriableConnectionFailure):
        return True
    return None


class Client:
    """Sends one operation's requests with its session, by the credentials rule.

    Args:
        session: a :class:`requests.Session`, or a keystoneauth1 ``Session`` or
            ``Adapter``.
        owned: the session was made for this operation: :meth:`close` closes it.
        request_url: the starting request's URL: its origin is the one
            credentials go to.
        options: the caller's keyword arguments for the starting request.
        request_timeout: each request's own time limit (requests' ``timeout``).
        other_hosts: fetch URLs on other origins without credentials, instead of
            refusing them.

    Attributes:
        poll_options: what a GET of the request's origin sends besides the session:
            the caller's credentials and transport settings.
    """

    def __init__(
        self,
        session: Any,
        *,
        owned: bool,
        request_url: str,
        options: Mapping[str, Any],
        request_timeout: float | tuple[float, float],
        other_hosts: bool,
    ) -> None:
        self.session = session
        self.keystone = is_keystone_session(session)
        self.owned = owned
        self.origin = origin(request_url)
        self.options = dict(options)
        self.request_timeout = request_timeout
        self.other_hosts = other_hosts
        # What a poll of the request's origin sends: credentials and transport
        # settings, without the body's headers or the request's preconditions.
        poll = {k: self.options[k] for k in _POLL_KEYS if k in self.options}
        if "headers" in poll and poll["headers"] is not None:
            poll["headers"] = {
                k: v for k, v in dict(poll["headers"]).items() if not _body_header(str(k))
            }
        self.poll_options = poll
        self._bare: requests.Session | None = None
        self._lock = threading.Lock()

    def start(self, method: str, url: str) -> requests.Response:
        """Send the starting request; redirects are not followed unless the caller
        asked for it (``allow_redirects``, or keystoneauth's ``redirect``)."""
        options = dict(self.options)
        options.setdefault("timeout", self.request_timeout)
        if self.keystone:
            options.setdefault("redirect", False)
            response: requests.Response = self.session.request(
                url, method, raise_exc=False, **options
            )
        else:
            options.setdefault("allow_redirects", False)
            response = self.session.request(method, url, **options)
        return response

    def get(self, url: str) -> requests.Response:
        """One GET of ``url``, redirects not followed, credentials only to the
        request's origin.

        Raises:
            ValueError: ``url`` is on another origin and other hosts are not
                allowed.
            Exception: the transport's error.
        """
        if origin(url) == self.origin:
            options = dict(self.poll_options)
            options["timeout"] = self.request_timeout
            if self.keystone:
                response: requests.Response = self.session.request(
                    url, "GET", raise_exc=False, redirect=False, **options
                )
                return response
            return self.session.request("GET", url, allow_redirects=False, **options)  # type: ignore[no-any-return]
        if not self.other_hosts:
            raise ValueError(
                f"{safe_url(url)} is on another host than the request ({self.origin}):"
                " its credentials are not sent there, and it is not fetched; pass"
                " other_hosts=True to fetch it without them"
            )
        return self._bare_session().get(
            url,
            allow_redirects=False,
            timeout=self.request_timeout,
            # Transport settings only: a CA bundle and proxies are no credentials
            # (a client certificate is, and stays home).
            verify=self.options.get("verify", getattr(self.session, "verify", True)),
            proxies=self.options.get("proxies") or getattr(self.session, "proxies", None),
        )

    def fetch(self, url: str, *, see_other: bool) -> requests.Response:
        """GET ``url``, following its redirects (and a 303 if ``see_other``), each
        hop by the credentials rule. Returns the last answer.

        Raises:
            ValueError: a hop is refused, a redirect points nowhere sensible, or
                there are more than :data:`MAX_REDIRECTS`.
            Exception: the transport's error.
        """
        for _ in range(MAX_REDIRECTS + 1):
            response = self.get(url)
            code = response.status_code
            location = response.headers.get("Location")
            if not (code in REDIRECTS or (see_other and code == 303)) or not location:
                return response
            url = absolute(url, location)
        raise ValueError(f"more than {MAX_REDIRECTS} redirects from {safe_url(url)}")

    def _bare_session(self) -> requests.Session:
        with self._lock:
            if self._bare is None:
                self._bare = requests.Session()
            return self._bare

    def close(self) -> None:
        """Close the sessions made for this operation (never the caller's)."""
        with self._lock:
            bare, self._bare = self._bare, None
        if bare is not None:
            bare.close()
        if self.owned:
            self.session.close()


def _body_header(name: str) -> bool:
    """Whether a header of the starting request is about its body or preconditions
    (``Content-Type``, ``If-Match``, ...): not for a GET of its status."""
    lower = name.lower()
    return lower.startswith(("content-", "if-")) or lower in ("transfer-encoding", "expect")
