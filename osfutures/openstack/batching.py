"""Listing many OpenStack objects of one kind in as few requests as the API allows.

A lister is the ``fetch_many`` behind a :class:`~osfutures.Batch`: the monitor calls
it once per poll cycle with the ids of every watched object of one kind on one
connection. Three strategies, from best to plainest:

* :class:`ChangesSinceLister` (servers): ``GET /servers/detail?changes-since=T``
  returns only servers changed since the last poll, deleted ones included with
  status ``DELETED`` (Nova's api-guide, "Efficient polling"). Unchanged servers are
  answered from the last copy seen. The cost follows what changes, not the size of
  the project.
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

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from openstack import exceptions as os_exc

from osfutures.watch import GONE

__all__ = ["ChangesSinceLister", "IdFilterLister", "Lister", "ProjectLister"]

#: How far before "now" (client clock) the first ``changes-since`` query reaches,
#: allowing for a cloud whose clock runs behind ours. Later queries are anchored on
#: the cloud's own ``updated`` timestamps, so skew no longer matters.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)
#: How far each window reaches back before the newest update the last one saw.
STEP_BACK = timedelta(seconds=2)


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

    def fetch_one(self, resource_id: str) -> Any:
        """GET one object (``GONE`` on 404) and remember it."""
        try:
            obj = getattr(self._proxy, self._get)(resource_id)
        except os_exc.NotFoundException:
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

    def _list(self, wanted: set[Hashable]) -> Iterable[Any]:
        raise NotImplementedError


class ChangesSinceLister(Lister):
    """Servers, through ``changes-since`` (one small paged request per cycle).

    Every change after the window's start is listed by some cycle, and a server
    first seen through :meth:`fetch_one` is current as of that GET, so a server
    absent from a cycle's changes is as it was last seen.
    """

    incremental = True

    def __init__(self, conn: Any, service: str, get: str) -> None:
        super().__init__(conn, service, get)
        self._since: datetime | None = None

    def _list(self, wanted: set[Hashable]) -> Iterable[Any]:
        since = self._since or datetime.now(timezone.utc) - CLOCK_SKEW_ALLOWANCE
        newest = since
        changed = []
        for server in self._proxy.servers(details=True, changes_since=_iso(since)):
            changed.append(server)
            updated = _parse_time(getattr(server, "updated_at", None))
            if updated is not None and updated > newest:
                newest = updated
        # changes-since compares with >=, timestamps have one-second precision in some
        # deployments, and each compute host stamps updates with its own clock: step
        # back a little so nothing updated "at" the edge is missed.
        self._since = newest - STEP_BACK
        return changed

    def _fetched(self, obj: Any) -> None:
        # The window must reach back to what a GET saw: a change after that GET is
        # listed by the next cycle even if the window had moved past it, and a cloud
        # whose clock is behind ours (beyond the allowance) is caught up with.
        updated = _parse_time(getattr(obj, "updated_at", None))
        if updated is not None and (self._since is None or updated - STEP_BACK < self._since):
            self._since = updated - STEP_BACK


class IdFilterLister(Lister):
    """Images, with Glance's ``id=in:...`` filter: exactly the watched ones."""

    exact = True

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
