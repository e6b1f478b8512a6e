"""Listing many OpenStack objects of one kind in as few requests as the API allows.

A lister is the ``fetch_many`` behind a :class:`~osfutures.Batch`: the monitor calls
it once per poll cycle with the ids of every watched object of one kind on one
connection. Three strategies, from best to plainest:

* :class:`ChangesSinceLister` (servers): ``GET /servers/detail?changes-since=T``
  returns only servers changed since the last poll, deleted ones included with
  status ``DELETED`` (Nova's api-guide, "Efficient polling"). Unchanged servers are
  answered from the last copy seen; the pages are read as JSON and a ``Server`` is
  built only for a watched server whose state moved. The cost follows what changes,
  not the size of the project. What real Nova does here: ``NOVA_NOTES.md``.
* :class:`IdFilterLister` (images): ``GET /v2/images?id=in:a,b,c`` lists exactly the
  watched images.
* :class:`ProjectLister` (volumes, snapshots, backups, stacks, load balancers,
  shares): one paged list of the project's objects of that kind.

An id a lister does not return is fetched on its own by the monitor (through
:meth:`Lister.fetch_one`), which settles whether it is gone or just not listed; the
proof of concept took "missing from this page" for "deleted". Only an object that a
complete listing showed before and no longer shows is taken as gone without a GET.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from openstack import exceptions as os_exc
from openstack.compute.v2.server import Server
from openstack.resource import Resource

from osfutures.openstack.records import public_fields
from osfutures.watch import GONE, NOT_LISTED

__all__ = [
    "ChangesSinceLister",
    "IdFilterLister",
    "ListedServer",
    "Lister",
    "ProjectLister",
    "as_server",
]

#: How far before "now" (client clock) the first ``changes-since`` query reaches,
#: allowing for a cloud whose clock runs behind ours. Later queries are anchored on
#: the cloud's own ``updated`` timestamps, so skew no longer matters.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)


class Lister:
    """Base of the listers: keeps the last copy seen of each watched object.

    Args:
        conn: the openstacksdk Connection to list through.
        service: the connection attribute of the proxy (``"compute"``).
        get: the proxy method fetching one object by id.
    """

    def __init__(self, conn: Any, service: str, get: str) -> None:
        self._proxy = getattr(conn, service)
        self._get = get
        self._lock = threading.Lock()
        self._seen: dict[Hashable, Any] = {}
        self._listed: set[Hashable] = set()
        # Cluster mode (observing): the state each object had in the last listing,
        # and what moved since take_observed() was last called.
        self._observed: dict[Hashable, Any] = {}
        self._observations: dict[Hashable, Any] = {}
        self._complete: set[Hashable] | None = None

    #: Whether each listing also keeps, for other processes, every object it showed
    #: (watched or not) whose state moved: :meth:`take_observed` (cluster mode).
    observing = False
    #: Whether other processes may be answered from this lister's listings: it lists
    #: what they watch too (a project's objects), not only this process's ids.
    shareable = True

    def observe(self, on: bool) -> None:
        """Start (or stop) keeping what listings show for others, from a clean slate:
        the first listing after this keeps everything it shows."""
        with self._lock:
            self.observing = on
            self._observed = {}
            self._observations = {}

    def take_observed(self) -> tuple[dict[Hashable, Any], set[Hashable] | None]:
        """What the listings since the last call showed moved, watched or not: each
        object's :meth:`record`, or :data:`~osfutures.watch.GONE` (a complete listing
        stopped showing it) or :data:`~osfutures.watch.NOT_LISTED`; and, for a
        complete listing, every id the last one showed (what it lacks is gone,
        whatever an earlier leader wrote), else ``None``."""
        with self._lock:
            taken, self._observations = self._observations, {}
            complete, self._complete = self._complete, None
            return taken, complete

    def position(self) -> str | None:
        """Where the next listing starts, for another process to go on from
        (:meth:`go_on_from`); ``None``: every listing lists everything."""
        return None

    def go_on_from(self, position: str) -> None:
        """Start the next listing where another process's lister said it would
        (:meth:`position`)."""

    def record(self, obj: Any) -> dict[str, Any]:
        """A listed object as a JSON-able record (what :meth:`from_record` rebuilds)."""
        cls = type(obj)
        return {
            "resource": f"{cls.__module__}:{cls.__qualname__}",
            "attrs": public_fields(obj.to_dict(computed=False, original_names=True)),
        }

    def from_record(self, record: Any) -> Any:
        """The object a :meth:`record` (another process's listing) describes.

        Raises:
            ValueError: the record is not one this osfutures writes.
        """
        try:
            module, _, name = record["resource"].partition(":")
            attrs = dict(record["attrs"])
        except (KeyError, TypeError, AttributeError):
            raise ValueError(f"not a listed object's record: {record!r}") from None
        # Only a class already loaded, of openstacksdk: a row names no code to import.
        cls = (
            getattr(sys.modules.get(module), name, None)
            if module.startswith("openstack.")
            else None
        )
        if not (isinstance(cls, type) and issubclass(cls, Resource)):
            raise ValueError(f"not an openstacksdk resource this process knows: {module}:{name}")
        connection = self._proxy._get_connection()
        return cls.existing(connection=connection, **attrs)

    def fetch_one(self, resource_id: str) -> Any:
        """GET one object (``GONE`` on 404) and remember it."""
        try:
            obj = getattr(self._proxy, self._get)(resource_id)
        except os_exc.NotFoundException:
            with self._lock:
                self._not_found(resource_id)
            return GONE
        with self._lock:
            # A listing may have brought a newer copy while this GET was on its way.
            known = self._seen.get(resource_id)
            if known is None or not _older(obj, known):
                self._seen[resource_id] = obj
            self._fetched(obj)
        return self._seen[resource_id]

    def _fetched(self, obj: Any) -> None:
        """Hook: ``obj`` was just read on its own (called under the lock)."""

    def _not_found(self, resource_id: str) -> None:
        """Hook: a GET of ``resource_id`` answered 404 (called under the lock)."""

    #: True when a listing holds only what changed (the rest is as last seen);
    #: False when it holds everything that exists (what it lacks may be gone).
    incremental = False
    #: True when a listing asks for exactly the watched ids: one it lacks is gone.
    exact = False

    def fetch_many(self, ids: Sequence[Hashable]) -> Mapping[Hashable, Any]:
        """The current copy of each of ``ids`` that one cycle of listing found."""
        wanted = set(ids)
        with self._lock:
            everything = {obj.id: obj for obj in self._list(wanted)}
            if self.observing:
                self._observe(everything)
            listed = {i: everything[i] for i in wanted if i in everything}
            gone: set[Hashable] = set()
            if not self.incremental:
                # What a listing of exactly these ids lacks, or what a complete listing
                # no longer shows though the previous one did, is gone (a GET each
                # would only say 404). One a complete listing never showed may be too
                # new, or outside it (another project's): the monitor fetches it.
                gone = (wanted if self.exact else self._listed & wanted) - everything.keys()
                self._listed = set(everything)
                self._seen.clear()
            self._seen.update(listed)
            # Forget what nobody watches any more, so the cache stays small.
            for stale in self._seen.keys() - wanted:
                del self._seen[stale]
            found: dict[Hashable, Any] = dict.fromkeys(gone, GONE)
            found.update((i, self._seen[i]) for i in ids if i in self._seen)
            return found

    def _observe(self, everything: dict[Hashable, Any]) -> None:
        """Keep what moved in a complete listing (under the lock)."""
        states = {}
        for oid, obj in everything.items():
            record = self.record(obj)
            state = json.dumps(record, sort_keys=True, default=str)
            states[oid] = state
            if self._observed.get(oid) != state:
                self._observations[oid] = record
        if not self.exact:
            for oid in self._observed.keys() - everything.keys():
                self._observations[oid] = GONE
            self._complete = set(everything)
        self._observed = states

    def fetch_changes(self, ids: Sequence[Hashable]) -> Mapping[Hashable, Any]:
        """Only the ids whose copy moved since an answer last carried it: the
        ``fetch_many`` of a ``Batch(changes_only=True)``, for :attr:`incremental`
        listers."""
        raise NotImplementedError(f"{type(self).__name__} lists everything; use fetch_many")

    def _list(self, wanted: set[Hashable]) -> Iterable[Any]:
        raise NotImplementedError


class ChangesSinceLister(Lister):
    """Servers, through ``changes-since``: one small paged request per cycle.

    The pages are read as JSON. A server nobody watches costs a dict lookup; a watched
    one gets a new :class:`ListedServer` (its JSON record) only when its state moved
    since its last copy (:func:`_state_of_body`), so a server listed again unchanged
    costs nothing more. The openstacksdk ``Server`` (about 3 ms of CPU each) is built
    once, from the last record, when the operation ends (the kind's
    :attr:`~osfutures.Reader.result`).

    The window: each listing asks for ``changes-since`` the newest ``updated`` the
    previous one showed, to the second, and no further back. Nova compares
    ``updated_at >= changes-since`` with the microseconds its database keeps and shows
    ``updated`` cut to the whole second, so the second of the newest update is listed
    again (a change made later within that second is not missed) and what it lists
    twice is recognised by its state, not rebuilt. See ``NOVA_NOTES.md``.

    Guarantees (under the assumption below):

    * every change committed after a listing is listed by a later one;
    * a change after a GET (:meth:`fetch_one`) is listed by the next cycle: the GET
      pulls the window back to that server's ``updated``;
    * a cloud whose clock runs behind ours is caught up with: the first window reaches
      :data:`CLOCK_SKEW_ALLOWANCE` back, later ones are anchored on the cloud's own
      timestamps, and a GET pulls the window back however far the cloud is behind.

    What it assumes: a change committed after a listing carries an ``updated_at`` no
    earlier than the whole second of the newest ``updated`` that listing showed.
    Nova's compute hosts do not stamp instances: ``nova-compute`` saves an instance
    through the conductor (``NovaObject.indirection_api``), and the timestamp is
    SQLAlchemy's ``onupdate=timeutils.utcnow()``, evaluated by the conductor or API
    process that writes the row. So the assumption holds when those hosts' clocks
    agree (NTP) and a transaction commits soon after it stamps; the slack is the part
    of the second after the newest stamp. A deployment whose API and conductor clocks
    disagree by more, or whose database holds instance updates long before commit,
    sets :attr:`step_back` to that much (a change would otherwise be missed until the
    server changes again).

    One thing no window can show: Nova deletes a server that is still a build request
    without a trace, so it vanishes without a ``DELETED`` entry. Nova lists every
    build request whatever ``changes-since`` says, so a watched server listed while
    ``scheduling`` that a later listing lacks was deleted, or became an instance that
    no compute host has saved yet (Nova stamps none before: ``changes-since`` misses it
    for a moment). Such a server is answered :data:`~osfutures.watch.NOT_LISTED` until a
    listing or a GET shows it again: the monitor GETs it, and a 404 is believed as for
    any new object.

    Nor can a window show what a listing left out without saying so: Nova skips a cell
    whose query fails or times out (``list_records_by_skipping_down_cells``, on by
    default; a filtered listing such as ``changes-since`` gets no placeholders for it,
    whatever the microversion), answers 200, and the window moves past the changes
    made there meanwhile. So silence is not taken as proof for ever: a watched server
    that no listing or GET has shown for :attr:`recheck_after` seconds is answered
    ``NOT_LISTED`` too, and its GET also pulls the window back to it.
    """

    incremental = True
    #: How far before the second of the newest update each window also reaches back
    #: (see the class's "What it assumes"). Nova's own precision needs none.
    step_back: timedelta = timedelta(0)
    #: Seconds after which a watched server no listing has shown is looked at with a
    #: GET (see the class's last paragraph): longer than most operations' quiet
    #: stretches, so that it costs a GET per minute of a long one, not per poll.
    recheck_after: float = 60.0

    def __init__(self, conn: Any, service: str, get: str) -> None:
        super().__init__(conn, service, get)
        self._since = _second(datetime.now(timezone.utc) - CLOCK_SKEW_ALLOWANCE)
        # The state of each copy in _seen (what moving means), the ids whose copy moved
        # since an answer last carried it, and the ids a GET fetched in this cycle and
        # the one before (kept while their watch is out of the batch for that GET).
        self._state: dict[Hashable, tuple[Any, ...]] = {}
        self._moved: set[Hashable] = set()
        self._fresh: set[Hashable] = set()
        self._fresh_before: set[Hashable] = set()
        # The watched ids the last listing showed while scheduling (build requests,
        # which every listing shows); those no listing can vouch for (answered
        # NOT_LISTED until a listing or GET shows them: see the class's two last
        # paragraphs); and when a listing or GET last showed each watched id.
        self._scheduling: set[Hashable] = set()
        self._unsure: set[Hashable] = set()
        self._heard: dict[Hashable, float] = {}
        self._next_recheck = 0.0
        #: Listing requests made, and the server records they returned (for tests and
        #: benchmarks).
        self.requests = 0
        self.records = 0

    def fetch_many(self, ids: Sequence[Hashable]) -> Mapping[Hashable, Any]:
        """The current copy of each of ``ids`` seen so far (listed now or before)."""
        with self._lock:
            self._cycle(ids)
            self._moved.difference_update(ids)
            seen = self._seen
            found = {i: seen[i] for i in ids if i in seen}
            return self._with_unsure(ids, found)

    def fetch_changes(self, ids: Sequence[Hashable]) -> Mapping[Hashable, Any]:
        """Like :meth:`fetch_many`, but only the ids whose copy moved since an answer
        last carried it: the ``fetch_many`` of a ``Batch(changes_only=True)``."""
        with self._lock:
            self._cycle(ids)
            seen = self._seen
            found = {i: seen[i] for i in ids if i in self._moved and i in seen}
            self._moved.difference_update(found)
            return self._with_unsure(ids, found)

    def _with_unsure(
        self, ids: Sequence[Hashable], found: dict[Hashable, Any]
    ) -> dict[Hashable, Any]:
        if self._unsure:
            found.update((i, NOT_LISTED) for i in ids if i in self._unsure)
        return found

    def _cycle(self, ids: Sequence[Hashable]) -> None:
        """List the changes since the window's start; move the window (under the lock)."""
        wanted = set(ids)
        seen, state, moved = self._seen, self._state, self._moved
        # A copy fetched by a GET is kept up to date even while its watch is out of the
        # batch for that GET, so a change listed meanwhile is not lost.
        watched = wanted.union(seen)
        newest, newest_text = self._since, ""
        shown: set[Hashable] = set()
        scheduling: set[Hashable] = set()
        connection = self._proxy._get_connection()
        microversion = Server._get_microversion(self._proxy)
        observing = self.observing
        listed: dict[Hashable, tuple[Any, ...]] = {}
        for page in self._pages(_iso(self._since - self.step_back), microversion):
            self.records += len(page)
            for body in page:
                task = body.get("OS-EXT-STS:task_state")
                updated = body.get("updated")
                # A server still scheduling may be a build request, whose ``updated``
                # Nova renders as the time of the listing: it does not move the window.
                if updated and task != "scheduling" and updated != newest_text:
                    when = _parse_time(updated)
                    if when is not None and when > newest:
                        newest, newest_text = when, updated
                sid = body.get("id")
                ours = sid in watched
                if not (ours or observing):
                    continue
                now = _state_of_body(body)
                if observing:
                    listed[sid] = now
                    if self._observed.get(sid) != now:
                        self._observations[sid] = public_fields(body)
                    if not ours:
                        continue
                shown.add(sid)
                if task == "scheduling":
                    scheduling.add(sid)
                if state.get(sid) == now:
                    continue  # listed again unchanged
                seen[sid] = ListedServer(body, microversion, connection)
                state[sid] = now
                moved.add(sid)
        self._since = _second(newest)
        if observing:
            self._observe_build_requests(listed)
        heard, clock = self._heard, time.monotonic()
        for sid in shown:
            heard[sid] = clock
        silent: set[Hashable] = set()
        if clock >= self._next_recheck:  # a pass over every watched id: now and then
            self._next_recheck = clock + self.recheck_after / 4
            since = clock - self.recheck_after
            silent = {i for i in wanted if heard.setdefault(i, clock) <= since}
        self._unsure = (self._unsure | self._scheduling | silent) - shown
        self._scheduling = scheduling
        # Forget what nobody watches any more, so the cache stays small.
        keep = wanted | self._fresh | self._fresh_before
        self._unsure &= keep
        for stale in seen.keys() - keep:
            del seen[stale]
            state.pop(stale, None)
            moved.discard(stale)
        for stale in heard.keys() - keep:
            del heard[stale]
        self._fresh_before, self._fresh = self._fresh, set()

    def _observe_build_requests(self, listed: dict[Hashable, tuple[Any, ...]]) -> None:
        """A build request the previous listing showed and this one lacks vanished
        (or is an instance no host saved yet): NOT_LISTED, for every process."""
        for sid, state in self._observed.items():
            if state[1] == "scheduling" and sid not in listed:
                self._observations[sid] = NOT_LISTED
        self._observed = listed

    def position(self) -> str:
        """The start of the next ``changes-since`` window."""
        with self._lock:
            return self._since.isoformat()

    def go_on_from(self, position: str) -> None:
        """Take the window another process's listings reached: a new leader lists
        what changed since its predecessor's last listing, not since it started."""
        when = _parse_time(position)
        if when is not None:
            with self._lock:
                self._since = _second(when)

    def record(self, obj: Any) -> dict[str, Any]:
        """A listed server's record: its JSON as the listing gave it, less what may
        hold secrets (as its listing keeps it for others)."""
        return public_fields(obj.body)

    def from_record(self, record: Any) -> Any:
        """The :class:`ListedServer` of another process's listing's record.

        Raises:
            ValueError: the record is not a server's.
        """
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise ValueError(f"not a listed server's record: {record!r}")
        microversion = Server._get_microversion(self._proxy)
        return ListedServer(record, microversion, self._proxy._get_connection())

    def _pages(self, since: str, microversion: str | None) -> Iterator[list[dict[str, Any]]]:
        """The pages of ``GET /servers/detail?changes-since=...``, as Nova pages them
        (its default page is ``osapi_max_limit``, 1000; the next page's link carries
        the same query and a ``marker``, the last id, in Nova's created_at order)."""
        params: dict[str, Any] = {"changes-since": since}
        while True:
            response = self._proxy.get(
                "/servers/detail",
                params=params,
                microversion=microversion,
                headers={"Accept": "application/json"},
            )
            self.requests += 1
            os_exc.raise_from_response(response)
            data = response.json()
            page: list[dict[str, Any]] = data.get("servers") or []
            yield page
            following = _next_page(data)
            if not page or following is None:
                return
            if following.get("marker") == params.get("marker"):
                raise os_exc.SDKException("Endless pagination loop detected, aborting")
            params = following

    def _not_found(self, resource_id: str) -> None:
        # Still unsure: the next answers say NOT_LISTED again (until enough 404s in a
        # row end its watch), even if a cycle ran while its GET was on its way.
        self._unsure.add(resource_id)

    def _fetched(self, obj: Any) -> None:
        sid = obj.id
        self._fresh.add(sid)
        self._unsure.discard(sid)
        self._heard[sid] = time.monotonic()
        now = _state_of_server(self._seen[sid])
        if self._state.get(sid) == now:
            # As listed before: the window, anchored on the cloud's own times, stands
            # (pulling it back to a server quiet for a day would list the day again).
            return
        self._state[sid] = now
        self._moved.add(sid)
        # New to the lister, or changed unlisted: the window must reach back to what
        # the GET saw, so that what else changed then is listed (a cell Nova skipped),
        # and a cloud whose clock is behind ours (beyond the allowance) is caught up.
        updated = _parse_time(getattr(obj, "updated_at", None))
        if updated is not None and updated < self._since:
            self._since = _second(updated)


class ListedServer:
    """A server as a listing page showed it: what the monitor reads of it, and the
    JSON record to build the openstacksdk ``Server`` from when it is handed to the
    caller (:meth:`build`; ``get_server`` would return the same but
    ``server_groups``, which only a GET shows).

    Attributes:
        body: the server's record in the listing.
    """

    __slots__ = ("_connection", "_microversion", "body")

    def __init__(self, body: dict[str, Any], microversion: str | None, connection: Any) -> None:
        self.body = body
        self._microversion = microversion
        self._connection = connection

    @property
    def id(self) -> Any:
        return self.body.get("id")

    @property
    def status(self) -> Any:
        return self.body.get("status")

    @property
    def task_state(self) -> Any:
        return self.body.get("OS-EXT-STS:task_state")

    @property
    def vm_state(self) -> Any:
        return self.body.get("OS-EXT-STS:vm_state")

    @property
    def power_state(self) -> Any:
        return self.body.get("OS-EXT-STS:power_state")

    @property
    def progress(self) -> Any:
        return self.body.get("progress")

    @property
    def fault(self) -> Any:
        return self.body.get("fault")

    @property
    def updated_at(self) -> Any:
        return self.body.get("updated")

    def build(self) -> Server:
        """The openstacksdk ``Server`` of this record, built as ``get_server`` builds it."""
        server: Server = Server.existing(
            microversion=self._microversion, connection=self._connection, **self.body
        )
        return server

    def __repr__(self) -> str:
        return f"<ListedServer {self.id} {self.status}>"


def as_server(obj: Any) -> Any:
    """The openstacksdk ``Server`` a caller gets for a fetched server (a
    :class:`ListedServer` is built; a ``Server`` from a GET is already one)."""
    return obj.build() if isinstance(obj, ListedServer) else obj


class IdFilterLister(Lister):
    """Images, with Glance's ``id=in:...`` filter: exactly the watched ones. Not
    shared in cluster mode: it lists this process's ids only."""

    exact = True
    shareable = False

    #: ids per request: about 3.7 KB of URL, under common 8 KB limits.
    CHUNK = 100

    def _list(self, wanted: set[Hashable]) -> Iterable[Any]:
        ids = sorted(str(i) for i in wanted)
        for start in range(0, len(ids), self.CHUNK):
            chunk = ids[start : start + self.CHUNK]
            # With a limit the whole chunk comes in one page (glance's default page of
            # 25 would split it); openstacksdk then asks once more and gets an empty
            # page: two requests per hundred images instead of four.
            yield from self._proxy.images(id="in:" + ",".join(chunk), limit=len(chunk))


class ProjectLister(Lister):
    """One paged list of the project's objects of a kind."""

    def __init__(
        self, conn: Any, service: str, get: str, method: str, query: dict[str, Any]
    ) -> None:
        super().__init__(conn, service, get)
        self._method = method
        self._query = query

    @classmethod
    def factory(cls, method: str, **query: Any) -> Callable[[Any, str, str], ProjectLister]:
        """A constructor for the kind table: ``factory("volumes", details=True)``."""
        return lambda conn, service, get: cls(conn, service, get, method, query)

    def _list(self, wanted: set[Hashable]) -> Iterable[Any]:
        listing: Iterable[Any] = getattr(self._proxy, self._method)(**self._query)
        return listing


def _older(candidate: Any, known: Any) -> bool:
    """Whether ``candidate`` is an older copy than ``known`` (by ``updated_at``)."""
    mine = _parse_time(getattr(candidate, "updated_at", None))
    theirs = _parse_time(getattr(known, "updated_at", None))
    return mine is not None and theirs is not None and mine < theirs


def _state_of_body(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What moving means for a listed server: its status, task, vm and power states,
    progress, and ``updated`` (every write of the instance row moves it), except while
    it is scheduling: a build request's ``updated`` is the time of the listing."""
    task = body.get("OS-EXT-STS:task_state")
    return (
        body.get("status"),
        task,
        body.get("OS-EXT-STS:vm_state"),
        body.get("OS-EXT-STS:power_state"),
        body.get("progress"),
        None if task == "scheduling" else body.get("updated"),
    )


def _state_of_server(server: Any) -> tuple[Any, ...]:
    """:func:`_state_of_body` of an openstacksdk ``Server``."""
    task = getattr(server, "task_state", None)
    return (
        getattr(server, "status", None),
        task,
        getattr(server, "vm_state", None),
        getattr(server, "power_state", None),
        getattr(server, "progress", None),
        None if task == "scheduling" else getattr(server, "updated_at", None),
    )


def _next_page(data: Mapping[str, Any]) -> dict[str, list[str]] | None:
    """The query of the next page that Nova's ``servers_links`` names, or None."""
    for link in data.get("servers_links") or ():
        if link.get("rel") == "next" and link.get("href"):
            return urllib.parse.parse_qs(urllib.parse.urlsplit(link["href"]).query)
    return None


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
