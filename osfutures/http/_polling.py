"""Reading an operation's status URL: each answer becomes one observation.

A :class:`Poller` runs on the monitor's probe threads. It makes every decision an
answer allows there (the state, the verdict, the GET of a result the answer points
to), so the monitor only judges a :class:`Poll` by its ``verdict``, and errors
reach it as what they are: an error answer (:class:`requests.HTTPError`: a 5xx or a
429 is polled through, a 401 or 403 fails the operation with
:class:`~osfutures.PollingFailed`), a transport error (polled through), or a
:class:`ValueError` naming what was wrong with the answer (it cannot be polled
away: :class:`~osfutures.PollingFailed`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from osfutures.errors import OperationFailed, OperationTimeout
from osfutures.http._convention import StatusConvention
from osfutures.http._transport import REDIRECTS, Client, absolute, safe_url, transient
from osfutures.policy import is_transient, seconds_to_wait
from osfutures.watch import GONE, Gone, Reader, Verdict

__all__ = [
    "READER",
    "Poll",
    "Poller",
    "error_answer",
    "failed",
    "is_fatal",
    "json_of",
    "ready",
    "retryable",
    "wait_of",
]

_GONE_STATUSES = frozenset({404, 410})


@dataclass(frozen=True, slots=True)
class Poll:
    """One observation of an HTTP operation.

    Attributes:
        response: the answer the operation's result is made from: the status
            answer, or the answer of the GET of the result it points to.
        verdict: READY, FAILED or UNEXPECTED when the operation is over; None while
            it runs.
        state: the state the service gave, if any.
        progress: the progress it gave, if any.
        fault: its explanation of a failure.
        details: the status body a failure was read from.
        wait: the seconds its ``Retry-After`` asked for.
        make: makes the result from ``response`` (the convention's ``result``).
    """

    response: requests.Response
    verdict: Verdict | None = None
    state: str | None = None
    progress: Any = None
    fault: str | None = None
    details: Mapping[str, Any] | None = None
    wait: float | None = None
    make: Callable[[requests.Response], Any] | None = None

    def result(self) -> Any:
        """What the caller gets for this observation (see ``StatusConvention.result``)."""
        return self.response if self.make is None else self.make(self.response)


def ready(poll: Poll) -> bool:
    """The monitor's test for success."""
    return poll.verdict is Verdict.READY


def failed(poll: Poll) -> bool:
    """The monitor's test for failure."""
    return poll.verdict is Verdict.FAILED or poll.verdict is Verdict.UNEXPECTED


#: How the monitor reads a :class:`Poll`.
READER = Reader(
    status="state",
    progress="progress",
    fault="fault",
    details="details",
    retry_after="wait",
    result=Poll.result,
)


def _transient(error: BaseException) -> bool:
    known = transient(error)
    return is_transient(error) if known is None else known


def is_fatal(error: BaseException) -> bool:
    """Whether a poll's error ends the operation (:class:`~osfutures.PollingFailed`):
    all but connection failures, timeouts, 408, 425, 429 and 5xx answers."""
    return not _transient(error)


def retryable(error: BaseException) -> bool:
    """``request_async_r``'s default retry decision: an operation that failed or
    timed out, a connection failure or timeout of the starting request, or its 408,
    425, 429 or 5xx answer."""
    return isinstance(error, (OperationFailed, OperationTimeout)) or _transient(error)


class Poller:
    """Reads one operation's status URL.

    Args:
        client: sends the GETs, by the credentials rule.
        convention: how the service answers.
        url: the status URL (absolute).
        final_url: where a successful operation's result is fetched (absolute), or
            None for its final status answer (see ``StatusConvention.final_state``).
        final_first: ``final_url`` comes before a status body's result location.
    """

    def __init__(
        self,
        client: Client,
        convention: StatusConvention,
        url: str,
        final_url: str | None = None,
        final_first: bool = False,
    ) -> None:
        self.client = client
        self.convention = convention
        self.url = url
        self.final_url = final_url
        self.final_first = final_first

    def accepted(self, response: requests.Response) -> Poll:
        """The 202 answer as the first observation: the state and ``Retry-After``
        it gives, never a verdict (the status URL's answers decide)."""
        state = progress = None
        body = json_of(response)
        if body is not None:
            try:
                state = self.convention._state_of(body)
                progress = self.convention._progress_of(body)
            except Exception:  # a convention's reader that trips: the polls will say so
                state = progress = None
        return Poll(response, None, state, progress, wait=wait_of(response))

    def poll(self) -> Poll | Gone:
        """GET the status URL once and read its answer (the monitor's ``fetch``).

        Raises:
            requests.HTTPError: an error answer other than 404 and 410.
            ValueError: an answer that says nothing readable (not JSON, a state in
                no set, a redirect to nowhere, a URL on another host).
            Exception: the transport's error.
        """
        response = self.client.fetch(self.url, see_other=False)
        code = response.status_code
        if code == 303:
            return self.see_other(response)
        if code in _GONE_STATUSES:
            return GONE  # an operation over, or one that never was: OnGone decides
        if code >= 400:
            raise error_answer(response, "status URL")
        if not 200 <= code < 300:
            where = "a redirect without a Location" if code in REDIRECTS else f"a {code}"
            raise ValueError(f"status URL {safe_url(self.url)} answered {where}")
        wait = wait_of(response)
        if code == 204:
            return self._done(response, wait)
        body = json_of(response)
        if body is None and code != 202:
            content = response.headers.get("Content-Type") or "no Content-Type"
            raise ValueError(
                f"status URL {safe_url(self.url)} answered {code} with {content}"
                f" ({len(response.content)} bytes), not JSON"
            )
        convention = self.convention
        state = None if body is None else convention._state_of(body)
        progress = None if body is None else convention._progress_of(body)
        if state is None:
            if code == 202:  # still accepted, nothing more said
                return Poll(response, None, None, progress, wait=wait)
            return self._done(response, wait)  # no state: the answer is the result
        verdict = convention._verdict(state)
        if verdict is Verdict.READY:
            location = convention._result_location_of(body)
            if location is not None and not (self.final_url and self.final_first):
                return self._result_at(absolute(self.url, location), state, progress)
            return self._done(response, wait, state, progress)
        if verdict is None:
            return Poll(response, None, state, progress, wait=wait)
        fault = convention._fault_of(body)
        if verdict is Verdict.UNEXPECTED:
            declared = ", ".join(
                f"{name} {sorted(getattr(convention, name))}"
                for name in ("succeeded", "failed", "pending")
            )
            unexpected = f"unexpected state {state!r} (declared: {declared})"
            fault = f"{unexpected}: {fault}" if fault else unexpected
        details = body if isinstance(body, Mapping) else None
        return Poll(response, verdict, state, progress, fault, details, wait, convention.result)

    def see_other(self, response: requests.Response) -> Poll:
        """A 303 See Other: the operation is over and its result is at the
        ``Location`` named; GET it.

        Raises:
            ValueError: no ``Location``, or one refused by the credentials rule.
            requests.HTTPError: the result's GET answered an error.
        """
        location = response.headers.get("Location")
        if not location:
            raise ValueError(
                f"{safe_url(response.url or self.url)} answered 303 without a Location"
            )
        return self._result_at(absolute(response.url or self.url, location), None, None)

    def _result_at(self, url: str, state: str | None, progress: Any) -> Poll:
        response = self.client.fetch(url, see_other=True)
        if not 200 <= response.status_code < 300:
            if response.status_code >= 400:
                raise error_answer(response, "result location")
            raise ValueError(f"result location {safe_url(url)} answered {response.status_code}")
        return self._ready(response, None, state, progress)

    def _done(
        self,
        response: requests.Response,
        wait: float | None,
        state: str | None = None,
        progress: Any = None,
    ) -> Poll:
        """Success, with this answer as the result, or the GET of the final URL."""
        if self.final_url is not None:
            return self._result_at(self.final_url, state, progress)
        return self._ready(response, wait, state, progress)

    def _ready(
        self,
        response: requests.Response,
        wait: float | None,
        state: str | None,
        progress: Any,
    ) -> Poll:
        return Poll(
            response, Verdict.READY, state, progress, wait=wait, make=self.convention.result
        )


def json_of(response: requests.Response) -> Any:
    """The answer's body as JSON, or None if it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:  # requests' JSONDecodeError too
        return None


def wait_of(response: requests.Response) -> float | None:
    """The seconds the answer's ``Retry-After`` asks for, or None."""
    return seconds_to_wait(response.headers.get("Retry-After"))


def error_answer(response: requests.Response, what: str) -> requests.HTTPError:
    """An error answer as an error naming it, without the URL's query (a signed
    status URL carries its signature there)."""
    reason = response.reason or ""
    return requests.HTTPError(
        f"{response.status_code} {reason} from {what} {safe_url(response.url or '')}".replace(
            "  ", " "
        ),
        response=response,
    )
