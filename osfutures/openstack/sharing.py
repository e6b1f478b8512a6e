"""Cluster mode for the twins: every process of a PostgreSQL journal shares each
listing (see :doc:`/cluster`).

A :class:`SharedListing` is the ``fetch_many`` of one kind's batch on one connection
when the connection's journal is a PostgreSQL one. Each time the monitor polls the
batch it asks the cluster who lists the share (the service endpoint, the project and
the kind) and plays its part:

* **leader**: it lists as a lone process would, and writes what the listing showed
  moved (every object of the project, not only its own) to the journal, telling the
  others;
* **follower**: it reads what the leader wrote since its last read, and answers its
  own members from that: no request to the cloud. A member no observation has shown
  yet waits (:data:`~osfutures.NOT_YET`) for the leader's next listings, then is
  fetched on its own; one of an incremental kind that no observation has shown for
  the lister's ``recheck_after`` is fetched on its own too, as a lone lister does;
* **alone**: the database cannot be reached. It lists on its own, says so once, and
  takes its part again once the database answers.

A notification wakes a follower's batch at once (:meth:`Monitor.poll_now
<osfutures.Monitor.poll_now>`); a follower with new members asks the leader to
quicken its polling; a leader that watches nothing more resigns, and the followers
it tells race to lead next.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from osfutures.journal.errors import JournalUnavailable
from osfutures.journal.observations import GONE as SEEN_GONE
from osfutures.journal.observations import LISTED, Observation
from osfutures.journal.observations import NOT_LISTED as SEEN_NOT_LISTED
from osfutures.monitor import Monitor
from osfutures.openstack.batching import Lister
from osfutures.watch import GONE, NOT_LISTED, NOT_YET, Gone

if TYPE_CHECKING:  # needs psycopg, which only a PostgreSQL journal brings
    from osfutures.journal.sharing import SharedPolling

__all__ = [
    "ASK",
    "FIRST_SIGHT_LISTINGS",
    "FIRST_SIGHT_SECONDS",
    "LEADER_SILENT",
    "SharedListing",
    "share_of",
]

log = logging.getLogger("osfutures.cluster")

#: How many of the leader's listings a follower's new member waits for its first
#: observation (one may have been on its way when the member joined), before it is
#: fetched on its own.
FIRST_SIGHT_LISTINGS = 2
#: Seconds at most a follower's new member waits for its first observation.
FIRST_SIGHT_SECONDS = 10.0
#: Seconds without a listing of its share after which a follower lists on its own
#: (its leader lives but does not list: a stuck process), until listings resume.
LEADER_SILENT = 60.0
#: The id a follower sends to ask its share's leader to quicken its polling.
ASK = "*"

_Answer = Callable[[Sequence[Hashable]], Mapping[Hashable, Any]]


def share_of(conn: Any, kind: str, endpoint: Hashable) -> str | None:
    """The share of a connection's listings of ``kind``: what they would list, the
    same in every process (the endpoint names cloud, region and service); ``None``
    when the project cannot be told."""
    try:
        project = conn.current_project_id
    except Exception:  # no token to read it from: this connection lists alone
        return None
    if not project:
        return None
    return f"{kind} {endpoint} {project}"


class SharedListing:
    """The ``fetch_many`` of one kind's batch on one connection, in cluster mode.

    Args:
        lister: the kind's lister on this connection.
        own: its answer when this process lists (``fetch_changes`` or
            ``fetch_many``).
        sharing: the journal's cluster side.
        share: what the listing lists (:func:`share_of`).
        key: the batch's key, which a notification polls at once.
        busy: whether this process still watches anything in the batch (one that
            does not gives the lead up, and does not take it).
    """

    def __init__(
        self,
        lister: Lister,
        own: _Answer,
        sharing: SharedPolling,
        share: str,
        key: Hashable,
        busy: Callable[[], bool],
    ) -> None:
        self._lister = lister
        self._busy = busy
        self._own = own
        self._changes_only = lister.incremental
        self._recheck_after: float | None = getattr(lister, "recheck_after", None)
        self._sharing = sharing
        self.share = share
        self._key = key
        self._lock = threading.Lock()
        self._monitors: weakref.WeakSet[Monitor] = weakref.WeakSet()
        #: "leader", "follower" or "alone" (or "" before the first poll).
        self.role = ""
        self._subscribed = False
        # A follower's state: the highest observation read, the newest value of each
        # member, the members whose value moved since an answer carried it, the
        # listings the share had when each member was first asked for, and when an
        # observation or a GET last showed each member.
        self._cursor = 0
        self._latest: dict[Hashable, Any] = {}
        self._moved: set[Hashable] = set()
        self._first: dict[Hashable, tuple[int, float]] = {}
        self._heard: dict[Hashable, float] = {}
        self._watched: frozenset[Hashable] = frozenset()
        # The share's listings as last read, and since when (a silent leader).
        self._listings = (0, time.monotonic())
        self._silence_told = False

    def serves(self, monitor: Monitor) -> None:
        """``monitor`` polls this batch: a notification wakes it there."""
        with self._lock:
            self._monitors.add(monitor)

    # -- the answer -----------------------------------------------------------------

    def __call__(self, ids: Sequence[Hashable]) -> Mapping[Hashable, Any]:
        if not self._busy():
            # A poll under way as its last member ended: it must not take the lead
            # it would never give up.
            self.idle()
            return {}
        lead = self._sharing.lead(self.share)
        if lead is None:
            return self._alone(ids, "it cannot be reached")
        if lead:
            return self._lead(ids)
        try:
            return self._follow(ids)
        except JournalUnavailable as error:
            return self._alone(ids, str(error))

    def _become(self, role: str) -> None:
        if role == self.role:
            return
        if self.role == "alone":
            log.warning(
                "osfutures: cluster mode: the journal answers again; %s is %s again",
                self.share,
                "listed here for the cluster" if role == "leader" else "read from the cluster",
            )
        # What a follower knew may be older than what this process saw meanwhile, and
        # what a leader last published may have been overwritten by another: start
        # both afresh (a follower then reads each member's newest observation by id).
        self._lister.observe(role == "leader")
        if role == "leader":
            self._go_on()
        self._latest.clear()
        self._moved.clear()
        self._first.clear()
        self.role = role
        if role != "alone" and not self._subscribed:
            self._sharing.subscribe(self.share, self._heard_of)
            self._subscribed = True

    def _go_on(self) -> None:
        """A new leader lists from where the last one stopped (or, with no word of
        it, from where its own lister stands)."""
        try:
            position = self._sharing.position(self.share)
        except JournalUnavailable:
            return
        if position is not None:
            self._lister.go_on_from(position)

    def _alone(self, ids: Sequence[Hashable], why: str) -> Mapping[Hashable, Any]:
        if self.role != "alone":
            log.warning(
                "osfutures: cluster mode: the journal's database does not answer (%s);"
                " this process lists %s on its own until it does",
                why,
                self.share,
            )
            self._become("alone")
        return self._own(ids)

    def _lead(self, ids: Sequence[Hashable]) -> Mapping[Hashable, Any]:
        taking = self.role != "leader"
        self._become("leader")
        answer = dict(self._own(ids))
        if taking:
            # What the last leader wrote since this process last read (as a
            # follower, or ever) is behind the window it goes on from: read it.
            self._catch_up(ids, answer)
        observed, complete = self._lister.take_observed()
        observations = [_observation(i, value) for i, value in observed.items()]
        listed = None if complete is None else [str(i) for i in complete]
        try:
            self._sharing.publish(self.share, observations, listed, self._lister.position())
        except (LookupError, JournalUnavailable) as error:
            # The lead was lost meanwhile: the next poll finds out who lists now, and
            # a leader again publishes everything its listing shows.
            log.info("osfutures: cluster mode: %s not published (%s)", self.share, error)
            self._lister.observe(True)
            self.role = ""
        else:
            wanted = set(ids)
            if any(i not in wanted for i in observed):
                # Others' objects change: ours may be next, so no back-off yet.
                self._poke(at_once=False)
        if not self._busy():
            self.idle()
        return answer

    def _catch_up(self, ids: Sequence[Hashable], answer: dict[Hashable, Any]) -> None:
        named = [str(i) for i in ids]
        try:
            reading = self._sharing.read(self.share, 0, named, named)
        except JournalUnavailable:
            return  # its own listing's answer stands; a GET settles what it lacks
        for observation in reading.observations:
            rid = observation.resource_id
            if rid not in answer:
                answer[rid] = self._value(observation)

    def _follow(self, ids: Sequence[Hashable]) -> Mapping[Hashable, Any]:
        fresh = self.role != "follower"
        new = list(ids) if fresh else [i for i in ids if i not in self._first]
        # Read first: a database that elects but cannot be read leaves the role be.
        reading = self._sharing.read(
            self.share, self._cursor, [str(i) for i in ids], [str(i) for i in new]
        )
        self._become("follower")
        wanted = frozenset(ids)
        self._cursor = reading.cursor
        now = time.monotonic()
        for observation in reading.observations:
            rid = observation.resource_id
            if rid in wanted:
                self._latest[rid] = self._value(observation)
                self._moved.add(rid)
                self._heard[rid] = now
        for i in new:
            self._first[i] = (reading.listings, now)
            self._heard.setdefault(i, now)
        for i in list(self._first):
            if i not in wanted:  # no longer watched: forget it
                del self._first[i]
                self._latest.pop(i, None)
                self._heard.pop(i, None)
                self._moved.discard(i)
        with self._lock:
            self._watched = wanted
        if new:
            self._sharing.ask(self.share, ASK)
        if reading.listings != self._listings[0]:
            self._listings = (reading.listings, now)
            self._silence_told = False
        elif now - self._listings[1] > LEADER_SILENT:
            if not self._silence_told:
                self._silence_told = True
                log.warning(
                    "osfutures: cluster mode: the process that lists %s for the cluster"
                    " has not listed for %.0f s; this process lists on its own until it"
                    " does",
                    self.share,
                    now - self._listings[1],
                )
            return self._own(ids)
        return self._answer(ids, reading.listings, now)

    def _answer(self, ids: Sequence[Hashable], listings: int, now: float) -> dict[Hashable, Any]:
        latest = self._latest
        answered = self._moved if self._changes_only else ids
        found = {i: latest[i] for i in answered if i in latest}
        self._moved = set()
        for i, value in list(found.items()):
            if value is NOT_LISTED:
                del latest[i]  # said once: its own fetch says what it is
        recheck = self._recheck_after
        for i in ids:
            if i in found:
                continue
            first, since = self._first[i]
            if (
                i not in latest
                and listings < first + FIRST_SIGHT_LISTINGS
                and now - since < FIRST_SIGHT_SECONDS
            ):
                found[i] = NOT_YET  # the leader has not had its chance yet
            elif recheck is not None and now - self._heard[i] > recheck:
                found[i] = NOT_LISTED  # silent too long: as a lone lister, a GET
                self._heard[i] = now
        return found

    def _value(self, observation: Observation) -> Any:
        if observation.seen == SEEN_GONE:
            return GONE
        if observation.seen == SEEN_NOT_LISTED:
            return NOT_LISTED
        try:
            return self._lister.from_record(observation.record)
        except ValueError as error:  # another osfutures's record: its own GET says
            log.warning("osfutures: cluster mode: %s", error)
            return NOT_LISTED

    def fetched(self, resource_id: Hashable, value: Any) -> None:
        """A member was fetched on its own: what it is now (answered until an
        observation says more)."""
        if resource_id in self._heard:
            self._heard[resource_id] = time.monotonic()
            if self.role == "follower" and value is not None and not isinstance(value, Gone):
                self._latest[resource_id] = value

    # -- the others --------------------------------------------------------------------

    def _heard_of(self, ids: list[str] | None) -> None:
        """A notification about the share (on the channel's thread)."""
        if self.role == "leader":
            if ids is not None and ASK in ids:
                self._poke(at_once=False)  # a follower has new members
            return
        with self._lock:
            watched = self._watched
        if ids is None or not ids or any(i in watched for i in ids):
            # Missed notifications, a leader that resigned, or news of ours.
            self._poke(at_once=True)

    def _poke(self, *, at_once: bool) -> None:
        with self._lock:
            monitors = list(self._monitors)
        for monitor in monitors:
            if monitor.is_alive():
                monitor.poll_now(self._key, at_once=at_once)

    def idle(self) -> None:
        """This process watches nothing more here: another may lead."""
        if self.role == "leader" and not self._busy():
            self._sharing.resign(self.share)
            self.role = ""


def _observation(resource_id: Hashable, value: Any) -> Observation:
    rid = str(resource_id)
    if value is NOT_LISTED:
        return Observation(rid, SEEN_NOT_LISTED)
    if value is GONE or isinstance(value, Gone):
        return Observation(rid, SEEN_GONE)
    return Observation(rid, LISTED, value)
