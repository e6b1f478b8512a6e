"""Polling many operations with one request: a service's collection endpoint.

A :class:`~osfutures.http.StatusCollection` in the convention makes each operation a
member of a :class:`~osfutures.Batch` whose ``fetch_many`` is a
:class:`CollectionLister`: one GET of the collection answers for every operation
that still runs. What ends an operation is read from its own status URL (the
lister answers :data:`~osfutures.NOT_LISTED` for it), so its result and its
failure's explanation are those of a single operation's poll.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import requests

from osfutures.http._convention import StatusCollection, StatusConvention
from osfutures.http._polling import Poll, error_answer, json_of, wait_of
from osfutures.http._transport import Client, absolute, origin, safe_url
from osfutures.watch import NOT_LISTED, Batch, BatchMember

__all__ = ["CollectionLister", "collection_member"]

#: How many pages one listing of a collection that lists everything follows.
MAX_PAGES = 100


@dataclass(frozen=True)
class CollectionKey:
    """What operations must share to be listed together: the collection, the
    session, the credentials sent with it and the convention.

    Credentials that are plain values (headers, a ``(user, password)`` pair) count
    by value, through a digest (a key shows in logs); any other object (an auth
    object, a cookie jar) counts by identity, since its ``repr`` may hide the very
    secret that tells two apart. ``held`` keeps those objects alive, so that their
    identities stay theirs while the key is in use."""

    url: str
    session: int
    credentials: str
    convention: StatusConvention
    held: tuple[Any, ...] = field(default=(), compare=False)

    def __repr__(self) -> str:
        return f"<status collection {self.url}>"


def collection_member(
    client: Client, convention: StatusConvention, status_url: str
) -> BatchMember | None:
    """The batch membership of an operation whose status is at ``status_url``, or
    None when its convention has no collection or its session is its own (made for
    it: no other operation shares it, and a listing would cost as much as its GET).

    Raises:
        ValueError: the operation's id cannot be read from ``status_url``, or the
            collection's URL is not http(s).
        Exception: what the collection's ``operation_id`` raised.
    """
    collection = convention.collection
    if collection is None or client.owned:
        return None
    url = absolute(status_url, collection.url)
    operation_id = (collection.operation_id or _last_segment)(status_url)
    if not isinstance(operation_id, str) or not operation_id:
        raise ValueError(
            f"no operation id in status URL {safe_url(status_url)} for the collection"
            f" {safe_url(url)} (got {operation_id!r}); give StatusCollection(operation_id=...)"
        )
    credentials, held = _credentials(client.poll_options)
    key = CollectionKey(url, id(client.session), credentials, convention, held)
    lister = CollectionLister(client, collection, convention, url)
    return Batch(key, lister.fetch_many, endpoint=origin(url)).member(operation_id)


class CollectionLister:
    """Lists the operations one batch watches at one collection.

    Args:
        client: sends the GETs (the first member's: every member shares its
            session and credentials).
        collection: how the collection is asked and answers.
        convention: how an entry's state reads.
        url: the collection's absolute URL.
    """

    def __init__(
        self,
        client: Client,
        collection: StatusCollection,
        convention: StatusConvention,
        url: str,
    ) -> None:
        self.client = client
        self.collection = collection
        self.convention = convention
        self.url = url

    def fetch_many(self, ids: Sequence[Hashable]) -> dict[Hashable, Any]:
        """A :class:`~osfutures.http._polling.Poll` for each operation an entry
        shows still running; :data:`~osfutures.NOT_LISTED` for one an entry shows
        ended (or with no state), so its own status URL says how.

        Raises:
            requests.HTTPError: the collection answered an error.
            ValueError: an answer that is not JSON, holds no list of entries, or
                redirects nowhere.
            Exception: the transport's error.
        """
        wanted = {str(i): i for i in ids}
        found: dict[Hashable, Any] = {}
        id_field = self.collection.entry_id
        for response, entries in self._answers(list(wanted)):
            wait = wait_of(response)
            for entry in entries:
                item = wanted.get(str(entry.get(id_field))) if isinstance(entry, Mapping) else None
                if item is not None:
                    found[item] = self._read(entry, response, wait)
            if len(found) == len(wanted):
                break  # every one found: no more pages (or chunks) to read
        return found

    def _read(self, entry: Mapping[str, Any], response: requests.Response, wait: Any) -> Any:
        convention = self.convention
        state = convention._state_of(entry)
        if state is None or convention._verdict(state) is not None:
            return NOT_LISTED  # over (or saying nothing): its own answer tells
        return Poll(response, None, state, convention._progress_of(entry), wait=wait)

    def _answers(self, ids: list[str]) -> Iterator[tuple[requests.Response, list[Any]]]:
        collection = self.collection
        if collection.param is None:
            url: str | None = self.url
            seen: set[str] = set()
            while url is not None and len(seen) < MAX_PAGES:
                seen.add(url)
                response, body = self._get(url)
                yield response, self._entries(body, url)
                following = _first_text(body, collection.next_link)
                url = None if following is None else absolute(url, following)
                if url in seen:
                    raise ValueError(f"status collection {safe_url(url)} pages in a loop")
            return
        size = collection.max_ids
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            if collection.separator is None:
                query = urlencode([(collection.param, i) for i in chunk])
            else:
                query = urlencode({collection.param: collection.separator.join(chunk)})
            url = f"{self.url}{'&' if urlsplit(self.url).query else '?'}{query}"
            response, body = self._get(url)
            yield response, self._entries(body, url)

    def _get(self, url: str) -> tuple[requests.Response, Any]:
        response = self.client.fetch(url, see_other=False)
        code = response.status_code
        if code >= 400:
            raise error_answer(response, "status collection")
        body = json_of(response)
        if not 200 <= code < 300 or body is None:
            content = response.headers.get("Content-Type") or "no Content-Type"
            raise ValueError(
                f"status collection {safe_url(url)} answered {code} with {content}, not a"
                " JSON list of operations"
            )
        return response, body

    def _entries(self, body: Any, url: str) -> list[Any]:
        items = self.collection.items
        if isinstance(body, list):
            entries: Any = body
        elif callable(items):
            entries = items(body)
        else:
            entries = next(
                (body[name] for name in items if isinstance(body, Mapping) and name in body), None
            )
        if not isinstance(entries, list):
            raise ValueError(
                f"status collection {safe_url(url)} answered no list of operations"
                f" (looked for {items if not callable(items) else 'its items callable'})"
            )
        return entries


def _last_segment(status_url: str) -> str:
    return unquote(urlsplit(status_url).path.rstrip("/").rsplit("/", 1)[-1])


def _first_text(body: Any, names: Sequence[str]) -> str | None:
    if isinstance(body, Mapping):
        for name in names:
            value = body.get(name)
            if isinstance(value, str) and value:
                return value
    return None


def _credentials(options: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """What a poll sends besides the session (headers, auth, cookies), as a key: a
    digest of its plain values and of the identities of its other objects, and those
    objects (see :class:`CollectionKey`)."""
    held: list[Any] = []

    def described(value: Any) -> Any:
        if value is None or isinstance(value, (str, bytes, int, float, bool)):
            return value
        if isinstance(value, (tuple, list)):
            return tuple(described(v) for v in value)
        if type(value) is dict:
            return tuple(sorted((str(k), described(v)) for k, v in value.items()))
        held.append(value)
        return ("object", type(value).__qualname__, id(value))

    plain = repr(sorted((name, described(value)) for name, value in options.items()))
    return hashlib.sha256(plain.encode()).hexdigest(), tuple(held)
