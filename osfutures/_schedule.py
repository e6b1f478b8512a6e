"""Which operation is polled when: the monitor's tables, with no thread and no lock.

The monitor thread alone calls a :class:`Schedule`, and passes it the time: every
method that depends on time takes ``now``, so the scheduling can be tested on its own,
without a clock or a thread.

Four heaps, each ordered by time:

* due: when each unbatched operation, or each batch group, is next to be polled;
* ready, one per endpoint: polls that fell due and wait for a probe thread or their
  endpoint's rate cap, served in the order they fell due, except that an operation
  whose deadline is near goes ahead (:data:`URGENT`); a capped endpoint holds back
  only its own polls;
* deadlines: when each operation times out;
* timers: callables to run at a time (a retry's pause).

Entries are never removed early (lazy deletion): an entry that no longer stands is
skipped when it comes up, and the heaps are rebuilt when such entries outnumber the
live ones.

A batch group is scheduled as a whole: one entry in the due heap, one cadence, one
count of failed listings. A cycle's work follows what its answer holds, not how many
operations the group has: with a ``changes_only`` batch, a hundred thousand pending
operations of which one percent changed cost a thousand verdicts.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
from collections.abc import Callable, Container, Hashable, Iterator, Mapping
from typing import Any

from osfutures._probes import Answer, BatchContractError, Fetched, Listed
from osfutures._watch import Watch
from osfutures.future import OperationFuture
from osfutures.policy import PollInterval, retry_after
from osfutures.watch import NOT_LISTED, NOT_YET, Batch

__all__ = ["SWEEP", "URGENT", "Group", "Schedule", "endpoint_of"]

log = logging.getLogger(__name__)

#: Waiting polls are served in the order they fell due, except that an operation
#: whose deadline is this close goes ahead: round robin keeps every operation
#: polled, and the nearest deadlines are not the ones a backlog makes late.
URGENT = 10.0
#: How often (seconds) batch groups drop members cancelled by their users and
#: recompute their soonest deadline: a cancelled member whose object never changes
#: would otherwise stay until its deadline, and no cycle looks at every member.
SWEEP = 30.0


class Group:
    """The members of one batch that its next ``fetch_many`` asks for.

    A member that goes solo (left out of an answer, or its listing keeps failing)
    leaves the group until its own fetch has answered.

    Attributes:
        batch: the batch.
        items: the members, by item (a second watch of the same item, rare, waits
            in ``twins``).
        due: time of the group's live entry in the due heap, if any.
        busy: its request is in flight.
        interval: the tightest polling interval among its members.
        quiet: polls in a row in which no member changed status or joined.
        stirred: something outside it changed while its request was in flight
            (:meth:`Schedule.poll_now`): its answer does not count as quiet.
        failures: failed listings in a row.
        answered_at: when its last listing answered (``-inf``: never).
        unseen: members no answer has carried yet: left out of a ``changes_only``
            answer, they are fetched on their own.
        asked: the members that were unseen when the request in flight was made.
        final_looks: members granted one more look at their deadline.
        deadline: the soonest deadline among its members (recomputed by the sweep;
            until then it may be that of a member gone already).
    """

    __slots__ = (
        "answered_at",
        "asked",
        "batch",
        "busy",
        "deadline",
        "due",
        "failures",
        "final_looks",
        "interval",
        "items",
        "quiet",
        "stirred",
        "twins",
        "unseen",
    )

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.items: dict[Hashable, Watch] = {}
        self.twins: dict[Hashable, list[Watch]] = {}
        self.due: float | None = None
        self.busy = False
        self.interval: PollInterval | None = None
        self.quiet = 0
        self.stirred = False
        self.failures = 0
        self.answered_at = -math.inf
        self.unseen: set[Watch] = set()
        self.asked: set[Watch] = set()
        self.final_looks: set[Watch] = set()
        self.deadline = math.inf

    def __len__(self) -> int:
        return len(self.items) + sum(len(t) for t in self.twins.values())

    def join(self, watch: Watch) -> None:
        """Add ``watch`` as a member."""
        item = watch.item
        if item in self.items:
            self.twins.setdefault(item, []).append(watch)
        else:
            self.items[item] = watch
        # Until the batch (or its own fetch) has answered for it: an initial object
        # (a create call's result) is not what the listing knows.
        self.unseen.add(watch)
        if self.interval is None or watch.interval.initial < self.interval.initial:
            self.interval = watch.interval
        self.deadline = min(self.deadline, watch.deadline)
        self.quiet = 0

    def leave(self, watch: Watch) -> None:
        """Remove ``watch`` (a no-op if it is not a member)."""
        item = watch.item
        twins = self.twins.get(item)
        if self.items.get(item) is watch:
            if twins:
                self.items[item] = twins.pop(0)
            else:
                del self.items[item]
        elif twins and watch in twins:
            twins.remove(watch)
        else:
            return
        if twins is not None and not twins:
            del self.twins[item]
        # Usually empty: a hundred thousand resolutions in one cycle go through here.
        if self.unseen:
            self.unseen.discard(watch)
            self.asked.discard(watch)
        if self.final_looks:
            self.final_looks.discard(watch)

    def members(self) -> Iterator[Watch]:
        """Every member (one pass over the group: for rare events only)."""
        yield from self.items.values()
        for twins in self.twins.values():
            yield from twins

    def answered(self, item: Hashable) -> list[Watch]:
        """The members an answer for ``item`` is about."""
        watch = self.items.get(item)
        if watch is None:
            return []
        twins = self.twins.get(item)
        return [watch, *twins] if twins else [watch]


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
        # By endpoint: (key: poll time, or earlier when the deadline is near;
        # sequence; poll time; what is due)
        self._ready: dict[Hashable, list[tuple[float, int, float, Watch | Group]]] = {}
        self._head: Hashable = None  # the endpoint of what next_ready returned
        self._deadlines: list[tuple[float, int]] = []
        self._timers: list[tuple[float, int, Callable[[], object], OperationFuture[Any]]] = []
        self._seq = itertools.count()
        self._next_sweep = -math.inf
        #: Why due polls are waiting now, in words for a timeout's message: every
        #: probe thread busy (``held_by``), or an endpoint's rate cap (``capped``,
        #: by endpoint). Set by the monitor, which knows the limits.
        self.held_by: str | None = None
        self.capped: dict[Hashable, str] = {}
        self._listing_warned: set[Hashable] = set()

    # -- operations and timers coming and going ----------------------------------

    def add(self, watch: Watch) -> None:
        """Take in a watch: its first poll after the interval, its deadline."""
        if watch.future.done():  # cancelled before the monitor saw it
            return
        key = watch.future.id
        watch.deadline = watch.started + watch.timeout
        self.watches[key] = watch
        first = watch.started + watch.interval.delay(0, self._rng)
        if watch.inquiry_due:  # its initial object stalled already: ask first
            watch.solo = watch.batch is not None
            self._poll_at(watch, watch.started)
        elif watch.batch is not None:
            group = self._groups.get(watch.batch.key)
            if group is None:
                group = self._groups[watch.batch.key] = Group(watch.batch)
            group.join(watch)
            self._group_at(group, first)
        else:
            # Not before the service asked (a Retry-After on the initial object).
            self._poll_at(watch, max(first, watch.not_before))
        if math.isfinite(watch.deadline):
            heapq.heappush(self._deadlines, (watch.deadline, key))

    def forget(self, watch: Watch) -> None:
        """Drop a watch whose operation is over (its heap entries lapse)."""
        self.watches.pop(watch.future.id, None)
        if watch.batch is not None and not watch.solo:
            group = self._groups.get(watch.batch.key)
            if group is not None:
                group.leave(watch)
                if not group.items:
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
        self._groups.clear()
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
            held_by = self.held_by or self.capped.get(self._endpoint_of(watch))
            if held_by is not None and watch.final_look is None and self._waiting(watch, now):
                # Still within the cap; a batch member's look is through its batch.
                watch.final_look = held_by
                group = self._group_of(watch)
                if group is not None:
                    group.final_looks.add(watch)
                    self._group_at(group, now)
                else:
                    self._poll_at(watch, now)
                heapq.heappush(deadlines, (now + self._final_look, key))
                continue
            group = self._group_of(watch)
            if group is not None and group.batch.changes_only and watch not in group.unseen:
                # Each answer that left it out said it was unchanged: a look too.
                watch.seen_at = max(watch.seen_at or -math.inf, group.answered_at)
            watch.time_out(now)
            self.forget(watch)

    def _waiting(self, watch: Watch, now: float) -> bool:
        """Whether ``watch``'s poll is overdue and not on its way."""
        group = self._group_of(watch)
        if group is not None:
            return not group.busy and group.due is not None and group.due < now
        return not watch.inflight and watch.next_poll < now

    def _endpoint_of(self, watch: Watch) -> Hashable:
        group = self._group_of(watch)
        return watch.endpoint if group is None else group.batch.endpoint

    def _group_of(self, watch: Watch) -> Group | None:
        if watch.batch is None or watch.solo:
            return None
        return self._groups.get(watch.batch.key)

    # -- polls ----------------------------------------------------------------------

    def next_ready(self, now: float, blocked: Container[Hashable] = ()) -> Watch | Group | None:
        """The poll to make next, if any is due at ``now`` for an endpoint not in
        ``blocked``; it stays first in line until :meth:`board` takes it."""
        due, ready = self._due, self._ready
        while due and due[0][0] <= now:
            when, seq, item = heapq.heappop(due)
            if self._is_current(when, item):
                entry = (min(when, item.deadline - URGENT), seq, when, item)
                heapq.heappush(ready.setdefault(endpoint_of(item), []), entry)
        first: tuple[float, int, float, Watch | Group] | None = None
        for endpoint, heap in ready.items():
            if endpoint in blocked:
                continue
            while heap:
                _, _, when, item = heap[0]
                if not self._is_current(when, item):
                    heapq.heappop(heap)
                elif isinstance(item, Watch) and item.future._over:  # cancelled by its user
                    heapq.heappop(heap)
                    self.forget(item)
                else:
                    if first is None or heap[0] < first:
                        first, self._head = heap[0], endpoint
                    break
        return None if first is None else first[3]

    def oldest_ready(self, endpoint: Hashable) -> float:
        """When the longest-waiting ready poll of ``endpoint`` fell due (``inf``: none)."""
        return min((e[2] for e in self._ready.get(endpoint, ())), default=math.inf)

    def waiting(self, endpoint: Hashable) -> int:
        """How many ready polls of ``endpoint`` wait (stale entries included)."""
        return len(self._ready.get(endpoint, ()))

    def board(self) -> tuple[Watch | list[Hashable], Group | None]:
        """Take the poll :meth:`next_ready` returned off the line: a watch to fetch on
        its own, or the items of a group to list (with the group).

        What it takes is in flight until :meth:`answered` or :meth:`given_up` is
        called for it.
        """
        _, _, _, item = heapq.heappop(self._ready[self._head])
        if isinstance(item, Watch):
            item.inflight = True
            return item, None
        item.due = None
        item.busy = True
        item.asked = set(item.unseen)
        return list(item.items), item

    def answered(self, polled: Watch | Group, answer: Answer, now: float) -> None:
        """Take in what a probe request saw (``polled`` is what :meth:`board` gave),
        and schedule the next poll."""
        if isinstance(polled, Watch):
            assert isinstance(answer, Fetched)
            self._fetched(polled, answer, now)
        else:
            assert isinstance(answer, Listed)
            self._listed(polled, answer, now)

    def _fetched(self, watch: Watch, answer: Fetched, now: float) -> None:
        """Take in what a watch's own fetch saw, and schedule its next poll."""
        watch.inflight = False
        if self.watches.get(watch.future.id) is not watch:
            return
        if watch.future._over:  # cancelled by its user
            self.forget(watch)
            return
        if answer.inquiry:
            watch.take_inquiry(answer.value, answer.error, now)
        else:
            watch.polls += 1
            watch.last_error = watch.judge(answer.value, answer.error, now)
        if watch.future._over:
            self.forget(watch)
        elif watch.final_look:
            watch.time_out(now)  # it had its one more look
            self.forget(watch)
        elif watch.inquiry_due:
            self._poll_at(watch, now)  # its own fetch asks; it stays out of its batch
        elif watch.solo:
            self._rejoin(watch, now)
        else:
            self._schedule(watch, now)

    def _listed(self, group: Group, answer: Listed, now: float) -> None:
        """Take in what a batch's ``fetch_many`` answered, and schedule its next poll."""
        group.busy = False
        if self._groups.get(group.batch.key) is not group:
            self.late(group.batch, answer, now)  # every member ended meanwhile
            return
        error = answer.error
        if error is not None and not isinstance(error, BatchContractError):
            self._listing_failed(group, error, now)
            self._release(group, now, error)
            return
        group.failures = 0
        group.answered_at = now
        moved = False
        if error is not None:  # a bug in fetch_many: each member judges it
            for watch in list(group.members()):
                moved |= self._judge(group, watch, None, error, now)
        items, twins = group.items, group.twins
        waiting: set[Watch] = set()
        for item, value in answer.found.items():
            member = items.get(item)
            if member is None:
                continue
            if value is NOT_YET:
                waiting.update(group.answered(item))  # still unseen: asked again
                continue
            if value is NOT_LISTED:
                for watch in group.answered(item):
                    self._go_solo(group, watch, now)  # its own fetch says what it is
                continue
            if twins and item in twins:
                for twin in list(twins[item]):  # one that ends leaves the list
                    moved |= self._judge(group, twin, value, None, now)
            moved |= self._judge(group, member, value, None, now)
        if error is None:
            if group.batch.changes_only:
                # Left out means unchanged, except for a member never seen yet.
                missing = [w for w in group.asked if w in group.unseen and w not in waiting]
            else:
                missing = [
                    w for i in answer.items if i not in answer.found for w in group.answered(i)
                ]
            for watch in missing:
                # Gone, or not listed: its own fetch, as soon as allowed, says which.
                self._go_solo(group, watch, now)
        for watch in list(group.final_looks):
            if not watch.future._over:
                watch.time_out(now)  # it had its one more look, listed or unchanged
            self.forget(watch)
        group.quiet = 0 if moved or group.stirred else group.quiet + 1
        group.stirred = False
        self._release(group, now)

    def _judge(
        self, group: Group, watch: Watch, value: Any, error: BaseException | None, now: float
    ) -> bool:
        """Judge one member's answer; True if its status changed or it ended."""
        before = watch.future.status
        if group.unseen:
            group.unseen.discard(watch)
        watch.last_error = watch.judge(value, error, now)
        if watch.future._over:
            self.forget(watch)
            return True
        if watch.inquiry_due:
            self._go_solo(group, watch, now)  # its own fetch asks
        return watch.future.status != before

    def _listing_failed(self, group: Group, error: BaseException, now: float) -> None:
        """A listing's error is no verdict on its members. A transient one is polled
        through in the batch (falling back to a request per member would multiply the
        load on a struggling cloud); one polling again cannot fix is believed only
        after it happens twice in a row, and then each member asks for itself, which
        settles it."""
        group.failures += 1
        for watch in list(group.members()):
            if watch.future._over:
                self.forget(watch)
                continue
            watch.last_error = error
            if group.failures >= 2 and _fatal(watch, error):
                self._warn_listing(group.batch, error)
                self._go_solo(group, watch, now)

    def given_up(self, polled: Watch | Group, error: BaseException, now: float) -> None:
        """A probe request was given up on (it did not answer in time): what it
        polled is polled again, with ``error`` as the last error."""
        if isinstance(polled, Watch):
            polled.inflight = False
            if self.watches.get(polled.future.id) is polled:
                polled.last_error = error
                self._schedule(polled, now)
            return
        polled.busy = False
        if self._groups.get(polled.batch.key) is polled:
            for watch in polled.members():
                watch.last_error = error
            self._release(polled, now)

    def late(self, batch: Batch, answer: Answer, now: float) -> None:
        """Take in a listing's answer that came after it was given up on (or after
        its group was gone). A ``changes_only`` answer is the only word on what it
        carries (the next one leaves it out as unchanged): its objects are judged.
        What it leaves out, or its error, says nothing now."""
        group = self._groups.get(batch.key)
        if (
            group is None
            or not batch.changes_only
            or not isinstance(answer, Listed)
            or answer.error is not None
        ):
            return
        for item, value in answer.found.items():
            if value is NOT_LISTED or value is NOT_YET:
                continue  # says nothing; the next answer says it again
            for watch in group.answered(item):
                if watch not in group.unseen:  # those are asked for again anyway
                    self._judge(group, watch, value, None, now)

    def _go_solo(self, group: Group, watch: Watch, now: float) -> None:
        group.leave(watch)
        if not group.items and self._groups.get(group.batch.key) is group:
            # Not polled empty: its members rejoin a new one (solo ones that end
            # never come back to it).
            del self._groups[group.batch.key]
        watch.solo = True
        self._poll_at(watch, now)

    def _rejoin(self, watch: Watch, now: float) -> None:
        """A solo member's own fetch answered: back into its batch."""
        assert watch.batch is not None
        watch.solo = False
        group = self._groups.get(watch.batch.key)
        if group is None:
            group = self._groups[watch.batch.key] = Group(watch.batch)
        group.join(watch)
        # Its own fetch answered for it: a changes_only answer that leaves it out
        # now means unchanged (else it would be sent on its own every other cycle).
        group.unseen.discard(watch)
        self._group_at(group, now + self._delay(watch))

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

    def _release(self, group: Group, now: float, error: BaseException | None = None) -> None:
        """The probe of ``group`` is over: it is due again after its cadence."""
        if group.interval is None or self._groups.get(group.batch.key) is not group:
            return
        delay = group.interval.delay(group.quiet, self._rng)
        if error is not None:
            delay = max(delay, retry_after(error) or 0.0)
        self._group_at(group, now + delay)

    def _delay(self, watch: Watch) -> float:
        delay = watch.interval.delay(watch.polls, self._rng)
        if watch.last_error is not None:
            delay = max(delay, retry_after(watch.last_error) or 0.0)
        return delay

    def _schedule(self, watch: Watch, now: float) -> None:
        # Not before the service asked (Reader.retry_after), nor before the interval.
        self._poll_at(watch, max(now + self._delay(watch), watch.not_before))

    def _poll_at(self, watch: Watch, when: float) -> None:
        watch.next_poll = when
        heapq.heappush(self._due, (when, next(self._seq), watch))

    def poll_now(self, key: Hashable, now: float, *, at_once: bool = True) -> None:
        """The batch ``key``'s group is due now (or, not ``at_once``, after its
        tightest interval), its back-off over (a no-op for a key with no group)."""
        group = self._groups.get(key)
        if group is not None:
            group.quiet = 0
            if at_once:
                self._group_at(group, now)
            elif group.busy:
                group.stirred = True
            elif group.interval is not None:
                self._group_at(group, now + group.interval.delay(0, self._rng))

    def _group_at(self, group: Group, when: float) -> None:
        # A member only moves its group earlier; a busy group is rescheduled when its
        # request is over (_release).
        if not group.busy and (group.due is None or when < group.due):
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

    def next_wake(self, polls_allowed: bool, not_before: Mapping[Hashable, float]) -> float | None:
        """When something here is next due: a poll (if ``polls_allowed``; for a
        capped endpoint not before ``not_before[endpoint]``, its next token), a
        deadline or a timer."""
        candidates = []
        if polls_allowed:
            if self._due:
                candidates.append(self._due[0][0])
            candidates.extend(
                not_before.get(endpoint, -math.inf)
                for endpoint, heap in self._ready.items()
                if heap
            )
        if self._deadlines:
            candidates.append(self._deadlines[0][0])
        if self._timers:
            candidates.append(self._timers[0][0])
        finite = [c for c in candidates if math.isfinite(c)]
        return min(finite) if finite else None

    def compact(self, now: float) -> bool:
        """Rebuild the heaps when lapsed entries outnumber the live ones; every
        :data:`SWEEP` seconds, drop the members of batch groups that their users
        cancelled. True when it swept (the monitor tidies its own tables then)."""
        swept = now >= self._next_sweep
        if swept:
            self._next_sweep = now + SWEEP
            self._sweep()
        live = len(self.watches)
        if len(self._deadlines) > 2 * live + 1024:
            self._deadlines = [e for e in self._deadlines if e[1] in self.watches]
            heapq.heapify(self._deadlines)
        if len(self._due) > 2 * (live + len(self._groups)) + 1024:
            self._due = [e for e in self._due if self._is_current(e[0], e[2])]
            heapq.heapify(self._due)
        for endpoint, heap in list(self._ready.items()):
            if not heap:
                del self._ready[endpoint]
            elif len(heap) > 2 * (live + len(self._groups)) + 1024:
                self._ready[endpoint] = [e for e in heap if self._is_current(e[2], e[3])]
                heapq.heapify(self._ready[endpoint])
        return swept

    def _sweep(self) -> None:
        for group in list(self._groups.values()):
            for watch in list(group.members()):
                if watch.future._over:
                    self.forget(watch)
            group.deadline = min((w.deadline for w in group.members()), default=math.inf)


def endpoint_of(item: Watch | Group) -> Hashable:
    """What a poll of ``item`` (a watch's own fetch, or a group's listing) goes to."""
    return item.endpoint if isinstance(item, Watch) else item.batch.endpoint


def _fatal(watch: Watch, error: BaseException) -> bool:
    try:
        return watch.is_fatal(error)
    except Exception:
        return True  # the member's own fetch will judge it, this time for real
