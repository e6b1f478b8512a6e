"""Which operation is polled when: the monitor's tables, with no thread and no lock.

The monitor thread alone calls a :class:`Schedule`, and passes it the time: every
method that depends on time takes ``now``, so the scheduling can be tested on its own,
without a clock or a thread.

Four heaps, each ordered by time:

* due: when each unbatched operation, or each batch group, is next to be polled;
* ready: polls that fell due and wait for a probe thread or the rate cap, served in
  the order they fell due, except that an operation whose deadline is near goes
  ahead (:data:`URGENT`);
* deadlines: when each operation times out;
* timers: callables to run at a time (a retry's pause).

Entries are never removed early (lazy deletion): an entry that no longer stands is
skipped when it comes up, and the heaps are rebuilt when such entries outnumber the
live ones. The heaps hold watch ids and groups, never a finished operation's object
for longer than its entry stays.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
from collections.abc import Callable, Hashable
from typing import Any

from osfutures._probes import NOT_LISTED, BatchContractError, Results
from osfutures._watch import Watch
from osfutures.future import OperationFuture
from osfutures.policy import retry_after
from osfutures.watch import Batch

__all__ = ["URGENT", "Group", "Schedule"]

log = logging.getLogger(__name__)

#: Waiting polls are served in the order they fell due, except that an operation
#: whose deadline is this close goes ahead: round robin keeps every operation
#: polled, and the nearest deadlines are not the ones a backlog makes late.
URGENT = 10.0


class Group:
    """The watches one batch request polls, and when that request is next due.

    A group has one entry in the due heap, not one per member: at ten thousand
    watched servers a cycle costs one heap push, not ten thousand.
    """

    __slots__ = ("batch", "busy", "due", "members")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.members: dict[int, Watch] = {}
        self.due: float | None = None  # time of its live heap entry, if any
        self.busy = False  # its request is in flight


class Schedule:
    """The watched operations, and when each is polled, times out or fires a timer.

    Args:
        rng: the randomness of polling intervals' jitter.
        final_look: how long an operation whose polls were held back may wait, past
            its deadline, for one more look before it times out.
    """

    def __init__(self, rng: random.Random, final_look: float) -> None:
        self._rng = rng
        self._final_look = final_look
        self.watches: dict[int, Watch] = {}
        self._groups: dict[Hashable, Group] = {}
        # (time, sequence, what is due)
        self._due: list[tuple[float, int, Watch | Group]] = []
        # (key: poll time, or earlier when the deadline is near; sequence; poll time;
        # what is due)
        self._ready: list[tuple[float, int, float, Watch | Group]] = []
        self._deadlines: list[tuple[float, int]] = []
        self._timers: list[tuple[float, int, Callable[[], object], OperationFuture[Any]]] = []
        self._seq = itertools.count()
        #: Why due polls are waiting now, in words for a timeout's message (the rate
        #: cap, or every probe thread busy); None when they are not. Set by the
        #: monitor, which knows the limits.
        self.held_by: str | None = None
        self._listing_warned: set[Hashable] = set()

    # -- operations and timers coming and going ----------------------------------

    def add(self, watch: Watch) -> None:
        """Take in a watch: its first poll after the interval, its deadline."""
        if watch.future.done():  # cancelled before the monitor saw it
            return
        key = watch.future.id
        watch.deadline = watch.started + watch.timeout
        self.watches[key] = watch
        if watch.batch is not None:
            group = self._groups.get(watch.batch.key)
            if group is None:
                group = self._groups[watch.batch.key] = Group(watch.batch)
            group.members[key] = watch
        self._poll_at(watch, watch.started + watch.interval.delay(0, self._rng))
        if math.isfinite(watch.deadline):
            heapq.heappush(self._deadlines, (watch.deadline, key))

    def forget(self, watch: Watch) -> None:
        """Drop a watch whose operation is over (its heap entries lapse)."""
        key = watch.future.id
        self.watches.pop(key, None)
        if watch.batch is not None:
            group = self._groups.get(watch.batch.key)
            if group is not None:
                group.members.pop(key, None)
                if not group.members:
                    del self._groups[watch.batch.key]

    def add_timer(self, when: float, fn: Callable[[], object], owner: OperationFuture[Any]) -> None:
        """Run ``fn`` (for ``owner``) once the time is ``when``: see :meth:`due_timers`."""
        heapq.heappush(self._timers, (when, next(self._seq), fn, owner))

    def due_timers(self, now: float) -> list[tuple[Callable[[], object], OperationFuture[Any]]]:
        """The timers due at ``now`` whose owner is still pending, taken off the heap."""
        timers, due = self._timers, []
        while timers and timers[0][0] <= now:
            _, _, fn, owner = heapq.heappop(timers)
            if not owner.done():
                due.append((fn, owner))
        return due

    def cancel_all(self) -> None:
        """Cancel every watched operation and every timer's owner; requests still in
        flight are no longer waited for (no group stays busy)."""
        for watch in list(self.watches.values()):
            watch.future.cancel()
            self.forget(watch)
        for *_, owner in self._timers:
            owner.cancel()
        self._timers.clear()
        self._ready.clear()
        for group in self._groups.values():
            group.busy = False

    def futures(self) -> list[OperationFuture[Any]]:
        """The futures of every watch and timer, for a monitor that crashed."""
        return [w.future for w in self.watches.values()] + [t[3] for t in self._timers]

    def clear(self) -> None:
        """Forget everything (the futures are resolved elsewhere)."""
        self.watches.clear()
        self._timers.clear()

    def pending_count(self) -> int:
        """Operations still watched; a cancelled one no longer counts."""
        # Read from other threads: list() copies the values in one step.
        return sum(1 for w in list(self.watches.values()) if not w.future._over)

    def finished(self) -> bool:
        """Whether nothing pending is left (cancelled futures whose entries have not
        come up yet do not hold up a shutdown)."""
        return all(w.future._over for w in self.watches.values()) and all(
            owner._over for *_, owner in self._timers
        )

    # -- deadlines ------------------------------------------------------------------

    def expire(self, now: float) -> None:
        """Time out the operations whose deadline is ``now`` or earlier.

        An operation whose polls were held back (:attr:`held_by`) gets one more
        look first, at the head of the queue, instead of a verdict on a stale
        observation.
        """
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, key = heapq.heappop(deadlines)
            watch = self.watches.get(key)
            if watch is None:
                continue
            if watch.future._over:
                self.forget(watch)
                continue
            held = (
                self.held_by is not None
                and watch.final_look is None
                and not watch.inflight
                and watch.next_poll < now
            )
            if held:
                # Still within the cap; a batch member's look is through its batch.
                watch.final_look = self.held_by
                self._poll_at(watch, now)
                heapq.heappush(deadlines, (now + self._final_look, key))
                continue
            watch.time_out(now)
            self.forget(watch)

    # -- polls ----------------------------------------------------------------------

    def next_ready(self, now: float) -> Watch | Group | None:
        """The poll to make next, if any is due at ``now``; it stays first in line
        until :meth:`board` takes it."""
        due, ready = self._due, self._ready
        while due and due[0][0] <= now:
            when, seq, item = heapq.heappop(due)
            if self._is_current(when, item):
                heapq.heappush(ready, (min(when, _deadline_of(item) - URGENT), seq, when, item))
        while ready:
            _, _, when, item = ready[0]
            if not self._is_current(when, item):
                heapq.heappop(ready)
            elif isinstance(item, Watch) and item.future._over:  # cancelled by its user
                heapq.heappop(ready)
                self.forget(item)
            else:
                return item
        return None

    def oldest_ready(self) -> float:
        """When the longest-waiting ready poll fell due (``inf`` if none waits)."""
        return min((e[2] for e in self._ready), default=math.inf)

    def waiting(self) -> int:
        """How many ready polls wait (stale entries included)."""
        return len(self._ready)

    def board(self) -> tuple[list[Watch], Group | None] | None:
        """Take the first ready poll off the line: the watches one request polls,
        and their group if batched; None if every member of the group is gone.

        The watches are marked in flight until :meth:`observed` or
        :meth:`given_up` is called with them.
        """
        _, _, _, item = heapq.heappop(self._ready)
        group: Group | None = None
        if isinstance(item, Watch):
            members = [item]
        else:
            # One request for the whole group: every member rides along.
            group = item
            members = []
            for watch in list(group.members.values()):
                if watch.future._over:  # cancelled by its user
                    self.forget(watch)
                elif not watch.inflight and not watch.solo:
                    members.append(watch)
            group.due = None
            if not members:
                return None
            group.busy = True
        for member in members:
            member.inflight = True
        return members, group

    def observed(self, results: Results, group: Group | None, now: float) -> None:
        """Take in what one probe request saw, and schedule the next polls."""
        batched = group is not None
        for watch, value, error in results:
            watch.inflight = False
            if self.watches.get(watch.future.id) is not watch:
                continue
            if value is NOT_LISTED or (
                batched and error is not None and not isinstance(error, BatchContractError)
            ):
                self._batch_missed(watch, error, now)
                continue
            watch.solo = False
            if batched:
                watch.batch_errors = 0
            watch.polls += 1
            watch.last_error = watch.judge(value, error, now)
            if watch.future._over:
                self.forget(watch)
            elif watch.final_look:
                watch.time_out(now)  # it had its one more look
                self.forget(watch)
            else:
                self._schedule(watch, now)
        self._release(group)

    def given_up(
        self, members: list[Watch], group: Group | None, error: BaseException, now: float
    ) -> None:
        """A probe request was given up on (it did not answer in time): its
        watches are polled again, with ``error`` as their last error."""
        for watch in members:
            watch.inflight = False
            if self.watches.get(watch.future.id) is watch:
                watch.last_error = error
                self._schedule(watch, now)
        self._release(group)

    def _batch_missed(self, watch: Watch, error: BaseException | None, now: float) -> None:
        """Its batch's answer said nothing of ``watch``: it was left out, or the
        listing failed. Neither is a verdict; its own fetch, or the next listing, is."""
        if error is None or watch.batch_failed(error):
            # Gone, or not in the list, or the listing keeps being refused: its own
            # fetch, as soon as allowed, says which.
            if error is not None and watch.batch is not None:
                self._warn_listing(watch.batch, error)
            watch.solo = True
            self._poll_at(watch, now)
            return
        watch.last_error = error
        self._schedule(watch, now)

    def _warn_listing(self, batch: Batch, error: BaseException) -> None:
        if batch.key in self._listing_warned:
            return
        self._listing_warned.add(batch.key)
        log.warning(
            "osfutures: the listing of batch %r failed twice in a row (%s: %s); its"
            " operations are fetched one by one until it answers again",
            batch.key,
            type(error).__name__,
            error,
        )

    def _release(self, group: Group | None) -> None:
        """The probe of ``group`` is over: it is due again when its soonest member is."""
        if group is None:
            return
        group.busy = False
        polls = [w.next_poll for w in group.members.values() if not w.inflight and not w.solo]
        if polls:
            self._push_group(group, min(polls))

    def _schedule(self, watch: Watch, now: float) -> None:
        delay = watch.interval.delay(watch.polls, self._rng)
        if watch.last_error is not None:
            delay = max(delay, retry_after(watch.last_error) or 0.0)
        self._poll_at(watch, now + delay)

    def _poll_at(self, watch: Watch, when: float) -> None:
        watch.next_poll = when
        if watch.batch is None or watch.solo:
            heapq.heappush(self._due, (when, next(self._seq), watch))
            return
        group = self._groups[watch.batch.key]
        # A member only moves its group earlier; a busy group is rescheduled from
        # all its members' times when its request is over (_release).
        if not group.busy and (group.due is None or when < group.due):
            self._push_group(group, when)

    def _push_group(self, group: Group, when: float) -> None:
        group.due = when
        heapq.heappush(self._due, (when, next(self._seq), group))

    def _is_current(self, when: float, item: Watch | Group) -> bool:
        """Whether a poll-heap entry still stands (entries are never removed early)."""
        if isinstance(item, Group):
            return item.due == when and not item.busy and self._groups.get(item.batch.key) is item
        return (
            self.watches.get(item.future.id) is item
            and not item.inflight
            and item.next_poll == when
        )

    # -- upkeep ------------------------------------------------------------------------

    def next_wake(self, polls_allowed: bool, not_before: float) -> float | None:
        """When something here is next due: a poll (if ``polls_allowed``, and not
        before ``not_before``, the rate cap's next token), a deadline or a timer."""
        candidates = []
        if polls_allowed:
            if self._due:
                candidates.append(max(self._due[0][0], not_before))
            if self._ready:
                candidates.append(not_before)
        if self._deadlines:
            candidates.append(self._deadlines[0][0])
        if self._timers:
            candidates.append(self._timers[0][0])
        finite = [c for c in candidates if math.isfinite(c)]
        return min(finite) if finite else None

    def compact(self) -> None:
        """Rebuild the heaps when lapsed entries outnumber the live ones."""
        live = len(self.watches)
        if len(self._deadlines) > 2 * live + 1024:
            self._deadlines = [e for e in self._deadlines if e[1] in self.watches]
            heapq.heapify(self._deadlines)
        if len(self._due) > 2 * (live + len(self._groups)) + 1024:
            self._due = [e for e in self._due if self._is_current(e[0], e[2])]
            heapq.heapify(self._due)
        if len(self._ready) > 2 * (live + len(self._groups)) + 1024:
            self._ready = [e for e in self._ready if self._is_current(e[2], e[3])]
            heapq.heapify(self._ready)


def _deadline_of(item: Watch | Group) -> float:
    if isinstance(item, Watch):
        return item.deadline
    return min((w.deadline for w in item.members.values()), default=math.inf)
