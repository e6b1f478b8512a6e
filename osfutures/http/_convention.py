"""How a service says where an operation's status is, and what its status means."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from osfutures._checks import check_count, require_callable, require_instance
from osfutures.watch import States, Verdict

__all__ = ["DEFAULT_CONVENTION", "StatusCollection", "StatusConvention"]


@dataclass(frozen=True)
class StatusCollection:
    """A service's endpoint that answers for many operations in one GET: with it,
    the monitor lists the operations it watches there instead of GETting each status
    URL, as it lists OpenStack servers.

    ``StatusCollection("/v1/operations", param="id")`` polls the operations at
    ``/v1/operations/a``, ``/v1/operations/b``, ... with ``GET
    /v1/operations?id=a,b``, and reads each entry of the answer's list as that
    operation's status answer. Only operations that share the request's origin, the
    session they were started with (pass the same ``session=``: operations started
    each on a session of its own are polled each on its own), the credentials passed
    with it and the convention are listed together: a listing is sent with the
    first one's credentials.

    An entry says only that an operation still runs: once an entry shows a state
    that ends it (or no state), or the answer leaves an operation out, that
    operation's own status URL is read, and its answer (its result, its failure's
    explanation, the GET of a result it points to) is the operation's, exactly as
    without a collection. The saving is every poll while operations run.

    Attributes:
        url: the collection's URL, resolved against each operation's status URL
            (``"/v1/operations"``, ``"../operations"``, or absolute).
        param: the query parameter naming the operations listed; ``None``: the
            collection lists every operation (of the caller) without being told
            which, paged by :attr:`next_link`.
        separator: joins the ids in one value of ``param`` (``?id=a,b``); ``None``
            repeats the parameter (``?id=a&id=b``).
        operation_id: an operation's id in the collection, from its absolute
            status URL; default: the URL's last path segment.
        items: the field(s) of the answer's JSON body holding the list of entries
            (a body that is a list is the list itself), or a callable taking the
            body.
        entry_id: the field of an entry holding its operation's id.
        next_link: the field(s) of the body holding the URL of the next page, if
            any (only followed for a collection that lists every operation).
        max_ids: how many ids one request names; more operations take several
            requests.

    Raises:
        TypeError: a field is of the wrong type.
        ValueError: ``url`` or a list of names is empty, ``max_ids`` is not a
            positive integer.
    """

    url: str
    param: str | None = "id"
    separator: str | None = ","
    operation_id: Callable[[str], str] | None = None
    items: Sequence[str] | Callable[[Any], Any] = ("value", "operations", "items", "data")
    entry_id: str = "id"
    next_link: Sequence[str] = ("nextLink", "next")
    max_ids: int = 50

    def __post_init__(self) -> None:
        require_instance("StatusCollection(url)", self.url, str)
        if not self.url.strip():
            raise ValueError("StatusCollection(url): need the collection's URL, got ''")
        require_instance("StatusCollection(param)", self.param, str, optional=True)
        if self.param == "":
            raise ValueError("StatusCollection(param): need a parameter name or None, got ''")
        require_instance("StatusCollection(separator)", self.separator, str, optional=True)
        require_callable("StatusCollection(operation_id)", self.operation_id, optional=True)
        if not callable(self.items):
            items = _names("StatusCollection(items)", self.items)
            if not items:
                raise ValueError("StatusCollection(items): need at least one field name")
            object.__setattr__(self, "items", items)
        require_instance("StatusCollection(entry_id)", self.entry_id, str)
        if not self.entry_id:
            raise ValueError("StatusCollection(entry_id): need the entries' id field, got ''")
        object.__setattr__(self, "next_link", _names("StatusCollection(next_link)", self.next_link))
        check_count("StatusCollection(max_ids)", self.max_ids)


@dataclass(frozen=True)
class StatusConvention:
    """Where a service puts an operation's status URL, and how to read its answers.

    The default covers the common conventions: Azure's long-running operations
    (``Operation-Location`` or ``Azure-AsyncOperation``, a ``status`` of NotStarted,
    Running, Succeeded, Failed or Canceled, an ``error: {code, message}``), the
    Asynchronous Operation Framework's (``Location``, a ``status`` of Created,
    InProgress, Completed or Failed, a ``resourceLocation`` once completed) and
    RFC 7231's 202 + ``Location``. Give only what differs::

        StatusConvention(state=("phase",), succeeded={"DONE"}, failed={"ERROR"},
                         pending={"QUEUED", "RUNNING"})

    Attributes:
        status_headers: headers of the 202 answer that may hold the status URL,
            looked at in this order (each list of names here may be one name).
        status_links: ``rel`` values of a ``links`` list in the 202 answer's JSON
            body (``{"links": [{"rel": "status", "href": ...}]}``), looked at after
            the headers.
        status_fields: fields of the 202 answer's JSON body that may hold the
            status URL, looked at last.
        status_url: instead of the three above: finds the status URL in the 202
            answer (a :class:`requests.Response`), or returns ``None``.
        state: the field(s) of a status answer's JSON body holding the state, the
            first one present counts; or a callable taking the body. A status
            answer without a state is the end of the operation (a 200 with the
            result).
        succeeded: the states that mean success (compared case-insensitively).
        failed: the states that mean failure.
        pending: the states expected on the way. Empty (the default): any other
            state means "still running" (the Asynchronous Operation Framework
            allows custom states). Given: a state in none of the three sets fails
            the operation ("unexpected state").
        progress: the field(s) of a status body holding the progress (shown as
            :attr:`~osfutures.OperationFuture.progress`), or a callable taking the
            body.
        fault: reads the failure's explanation from a failed status body; the
            default reads ``error`` (``{code, message}`` or a string), else
            ``message``, ``detail``, ``statusDescription`` or ``reason``.
        result_location: fields of a successful status body naming where the
            result is (fetched with a GET, which becomes the result).
        final_state: where a successful operation's result is, as Azure's
            ``final-state-via`` says it: ``"status"``, the final status answer (or
            the GET of its ``result_location``); ``"location"``, the GET of the 202's
            ``Location`` (when it has one); ``"original-uri"``, the GET of the
            request's URL. ``None`` (the default) does what Azure's SDKs do: a
            ``result_location`` first; then, when the 202 named its status with
            ``Operation-Location`` or ``Azure-AsyncOperation``, the request's URL
            for a ``PUT`` or ``PATCH`` and the 202's ``Location`` for a ``POST``;
            else the final status answer.
        result: makes the future's result from the final
            :class:`requests.Response` (e.g. ``lambda r: r.json()``); ``None``: the
            response itself. Made when first read, on the reading thread; it also
            makes an error's ``resource`` (keep it total for status answers).
        collection: an endpoint listing many operations' states in one request
            (see :class:`StatusCollection`); ``None``: each status URL is polled on
            its own.

    Raises:
        TypeError: a field is of the wrong type (a state set given as one string).
        ValueError: a state is in two of ``succeeded``, ``failed``, ``pending``, or
            a list of names is empty where one is needed.
    """

    status_headers: Sequence[str] = ("Operation-Location", "Azure-AsyncOperation", "Location")
    status_links: Sequence[str] = ("status", "monitor")
    status_fields: Sequence[str] = ("statusUrl", "status_url")
    status_url: Callable[[requests.Response], str | None] | None = None
    state: Sequence[str] | Callable[[Any], Any] = ("status", "state")
    succeeded: Collection[str] = ("Succeeded", "Completed")
    failed: Collection[str] = ("Failed", "Canceled", "Cancelled")
    pending: Collection[str] = ()
    progress: Sequence[str] | Callable[[Any], Any] = (
        "percentComplete",
        "percentageComplete",
        "progress",
    )
    fault: Callable[[Any], str | None] | None = None
    result_location: Sequence[str] = ("resourceLocation", "resource_location")
    final_state: str | None = None
    result: Callable[[requests.Response], Any] | None = None
    collection: StatusCollection | None = None
    _states: States = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("status_headers", "status_links", "status_fields", "result_location"):
            object.__setattr__(self, name, _names(f"StatusConvention({name})", getattr(self, name)))
        for name in ("state", "progress"):
            value = getattr(self, name)
            if not callable(value):
                value = _names(f"StatusConvention({name})", value)
                if not value:
                    raise ValueError(f"StatusConvention({name}): need at least one field name")
                object.__setattr__(self, name, value)
        require_callable("StatusConvention(status_url)", self.status_url, optional=True)
        if self.final_state not in _FINAL_STATES:
            raise ValueError(
                f"StatusConvention(final_state): expected one of"
                f" {', '.join(map(repr, _FINAL_STATES))}, got {self.final_state!r}"
            )
        require_callable("StatusConvention(fault)", self.fault, optional=True)
        require_callable("StatusConvention(result)", self.result, optional=True)
        require_instance(
            "StatusConvention(collection)", self.collection, StatusCollection, optional=True
        )
        sets = {}
        for name in ("succeeded", "failed", "pending"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Collection):
                raise TypeError(
                    f"StatusConvention({name}): expected a collection of states, got"
                    f" {type(value).__name__} {value!r}"
                )
            if not all(isinstance(state, str) for state in value):
                raise TypeError(f"StatusConvention({name}): states are strings, got {value!r}")
            sets[name] = frozenset(value)
            object.__setattr__(self, name, sets[name])
        try:
            states = States.of(
                sets["succeeded"], sets["pending"], sets["failed"], allow_no_target=True
            )
        except ValueError as error:  # States' words: target, pending, failure
            words = str(error).replace("target", "succeeded").replace("failure", "failed")
            raise ValueError(f"StatusConvention: {words}") from None
        object.__setattr__(self, "_states", states)

    # -- reading answers (for osfutures.http) ----------------------------------------

    def _find_status_url(self, response: requests.Response, body: Any) -> str | None:
        """The status URL the 202 answer names (maybe relative), or None."""
        if self.status_url is not None:
            return self.status_url(response)
        for name in self.status_headers:
            value = response.headers.get(name)
            if value:
                return str(value)
        if not isinstance(body, Mapping):
            return None
        links = body.get("links")
        if isinstance(links, Sequence) and not isinstance(links, str):
            for rel in self.status_links:
                for link in links:
                    if isinstance(link, Mapping) and _same(link.get("rel"), rel):
                        href = link.get("href")
                        if isinstance(href, str) and href:
                            return href
        for name in self.status_fields:
            value = body.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    def _final_url(
        self, method: str, url: str, response: requests.Response
    ) -> tuple[str | None, bool]:
        """Where a successful operation's result is fetched (maybe relative to
        ``url``), or None for its final status answer; and whether that comes before
        a status body's ``result_location`` (see ``final_state``)."""
        location = response.headers.get("Location") or None
        if self.final_state == "location":
            return location, True
        if self.final_state == "original-uri":
            return url, True
        if self.final_state is None and any(h in response.headers for h in _AZURE_HEADERS):
            if method in ("PUT", "PATCH"):
                return url, False
            if method == "POST":
                return location, False
        return None, False

    def _state_of(self, body: Any) -> str | None:
        """The state a status body gives, or None when it gives none."""
        value = _read(self.state, body)
        return None if value is None else str(value)

    def _verdict(self, state: str) -> Verdict | None:
        """What ``state`` means: ready, failed, unexpected, or None (still running)."""
        return self._states.verdict(state)

    def _progress_of(self, body: Any) -> Any:
        """The progress a status body gives, or None."""
        return _read(self.progress, body)

    def _fault_of(self, body: Any) -> str | None:
        """The explanation a failed status body gives, or None."""
        if self.fault is not None:
            return self.fault(body)
        return _default_fault(body)

    def _result_location_of(self, body: Any) -> str | None:
        """Where a successful status body says the result is, or None."""
        if isinstance(body, Mapping):
            for name in self.result_location:
                value = body.get(name)
                if isinstance(value, str) and value:
                    return value
        return None


#: The values of ``StatusConvention(final_state)``.
_FINAL_STATES = (None, "status", "location", "original-uri")
#: The headers that name an Azure operation's status (its "operation resource").
_AZURE_HEADERS = ("Operation-Location", "Azure-AsyncOperation")


def _names(arg: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)  # one name: unambiguous, unlike one state for a set of them
    if not isinstance(value, Sequence):
        raise TypeError(
            f"{arg}: expected a sequence of names such as ('status',), got"
            f" {type(value).__name__} {value!r}"
        )
    if not all(isinstance(name, str) and name for name in value):
        raise TypeError(f"{arg}: names are non-empty strings, got {value!r}")
    return tuple(value)


def _same(value: Any, name: str) -> bool:
    return isinstance(value, str) and value.lower() == name.lower()


def _read(where: Sequence[str] | Callable[[Any], Any], body: Any) -> Any:
    if callable(where):
        return where(body)
    if not isinstance(body, Mapping):
        return None
    for name in where:
        value = body.get(name)
        if value is not None:
            return value
    return None


def _default_fault(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if isinstance(error, Mapping):
        said = [str(error[k]) for k in ("code", "message") if error.get(k)]
        if said:
            return ": ".join(said)
    elif isinstance(error, str) and error:
        return error
    for key in ("message", "detail", "statusDescription", "reason"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


#: The convention ``request_async`` uses unless given another.
DEFAULT_CONVENTION = StatusConvention()
