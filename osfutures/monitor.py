"""The monitor: one thread that watches every pending operation.

Work arrives on an intake queue (a deque under the monitor's condition). The monitor
thread alone owns the table of watches, the polling heap, the deadline heap and the
timers; other threads only append to the intake. Idle, the thread waits on the
condition until the next due time; it never spins.

Probes (the requests that fetch state) run on a small bounded pool, never on the
monitor thread, and each has a time limit: a cloud that stops answering ties up probe
threads, not the deadlines of everything else. Operations that share a
:class:`~osfutures.watch.Batch` key are polled by one ``fetch_many`` call per cycle.

If the thread dies anyway, every pending future fails with
:class:`~osfutures.errors.MonitorCrashed`; nothing is left waiting forever.
"""

from __future__ import annotations

import atexit
import functools
import heapq
import itertools
import logging
import math
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Collection, Hashable
from typing import Any, TypeVar

from osfutures._checks import (
    check_count,
    check_number,
    check_timeout,
    require_callable,
    require_instance,
)
from osfutures.callbacks import CallbackRunner
from osfutures.clock import Clock, SystemClock
from osfutures.errors import MonitorCrashed, MonitorShutdown, OperationTimeout, ProbeTimeout
from osfutures.future import OperationFuture
from osfutures.policy import PollInterval, RateLimiter, is_transient, retry_after
from osfutures.probes import NOT_LISTED, BatchContractError, ProbePool, Results, probe
from osfutures.watch import Batch, Getter, States, Watch, attribute_getter

__all__ = ["DEFAULT_TIMEOUT", "Monitor", "default_monitor"]

log = logging.getLogger("osfutures")

T = TypeVar("T")

#: The deadline of an operation given no ``timeout`` (an hour). Pass ``math.inf`` to
#: wait with no deadline at all; a silent default of "forever" is how waits hang.
DEFAULT_TIMEOUT = 3600.0

_STATUS = attribute_getter("status")
_PROGRESS = attribute_getter("progress")


#: A probe running longer than this (or a quarter of ``probe_timeout``, if less) is
#: presumed hung: it no longer holds one of the ``probe_workers`` slots, and the pool
#: may start a spare thread, so operations that are ready meanwhile are still polled.
SLOW_PROBE = 5.0
#: When an operation's polls were delayed (by the rate cap or busy probe threads), it
#: gets one more look at its deadline before it times out: this long at most.
FINAL_LOOK = 5.0
#: Polls this late (seconds past their time) because of the rate cap get a warning.
LATE_WARNING = 1.0
#: Waiting polls are served in the order they fell due, except that an operation
#: whose deadline is this close goes ahead: round robin keeps every operation
#: polled, and the nearest deadlines are not the ones a backlog makes late.
URGENT = 10.0


class _Flight:
    """A probe request on its way: who rides on it, and when it counts as slow or lost."""

    __slots__ = ("group", "limit", "members", "slow", "slow_at")

    def __init__(
        self, members: list[Watch], group: _Group | None, slow_at: float, limit: float
    ) -> None:
        self.members = members
        self.group = group
        self.slow_at = slow_at
        self.limit = limit
        self.slow = False  # presumed hung: its thread no longer counts as a worker


def _not_transient(error: BaseException) -> bool:
    return not is_transient(error)


class _Group:
    """The watches one batch request polls, and when that request is next due.

    A group has one entry in the poll heap, not one per member: at ten thousand
    watched servers a cycle costs one heap push, not ten thousand.
    """

    __slots__ = ("batch", "busy", "due", "members")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.members: dict[int, Watch] = {}
        self.due: float | None = None  # time of its live heap entry, if any
        self.busy = False  # its request is in flight


class Monitor:
    """Watches many long-running operations from one thread.

    Args:
        clock: where time comes from (:class:`~osfutures.SystemClock` by default;
            :class:`~osfutures.ManualClock` in tests).
        default_timeout: deadline of operations submitted without ``timeout``.
        default_interval: polling cadence of operations submitted without
            ``interval``.
        max_probes_per_second: cap on probe calls (requests) this monitor makes per
            second, across all operations; ``None`` for no cap.
        probe_timeout: how long one probe call may take before the monitor stops
            waiting for it and polls again later.
        probe_workers: threads that run probe calls. A probe abandoned after
            ``probe_timeout`` may be replaced by a new thread, up to four times
            this number, so hung requests do not starve the others.
        callback_workers: threads that run user callbacks and chained work.
        seed: seeds the jitter of polling intervals (for reproducible runs).
        name: the monitor thread's name.

    Raises:
        ValueError, TypeError: an argument is out of range (the message names it).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        default_timeout: float = DEFAULT_TIMEOUT,
        default_interval: PollInterval | float | None = None,
        max_probes_per_second: float | None = 50.0,
        probe_timeout: float = 60.0,
        probe_workers: int = 8,
        callback_workers: int = 4,
        seed: int | None = None,
        name: str = "osfutures-monitor",
    ) -> None:
        _check_clock(clock)
        check_timeout("default_timeout", default_timeout, allow_none=False)
        check_timeout("probe_timeout", probe_timeout, allow_none=False)
        check_count("probe_workers", probe_workers)
        check_count("callback_workers", callback_workers)
        require_instance("name", name, str)
        self._clock: Clock = clock or SystemClock()
        self.default_timeout = default_timeout
        self.default_interval = PollInterval.coerce(
            default_interval, PollInterval(), name="default_interval"
        )
        self.probe_timeout = probe_timeout
        self.name = name
        self._limiter = (
            RateLimiter(max_probes_per_second, now=self._clock.now())
            if max_probes_per_second is not None
            else None
        )
        self._rng = random.Random(seed)
        self._runner = CallbackRunner(callback_workers, name=f"{name}-callback", on_idle=self._wake)
        self._probe_workers = probe_workers
        self._probes = ProbePool(probe_workers, 4 * probe_workers, name=f"{name}-probe")

        # Shared with other threads, guarded by _cond.
        self._cond = threading.Condition()
        self._intake: deque[tuple[str, Any]] = deque()
        self._stopping = False
        self._cancelling = False
        self._exited = False
        self._crashed: BaseException | None = None
        self._idle = False
        self._thread: threading.Thread | None = None

        # Owned by the monitor thread alone. The heaps hold watch ids, not watches,
        # so an entry left behind by a finished operation keeps nothing alive.
        self._watches: dict[int, Watch] = {}
        self._groups: dict[Hashable, _Group] = {}
        # (time, sequence, what is due): an unbatched watch, or a whole batch group.
        self._due: list[tuple[float, int, Watch | _Group]] = []
        self._deadlines: list[tuple[float, int]] = []
        self._taking: list[tuple[str, Any]] = []
        self._timers: list[tuple[float, int, Callable[[], object], OperationFuture[Any]]] = []
        # Due polls waiting for a probe slot or a token, in the order they fell due
        # unless a deadline is near (URGENT): (key, sequence, poll time, what is due).
        self._ready: list[tuple[float, int, float, Watch | _Group]] = []
        self._inflight: dict[int, _Flight] = {}
        self._slow = 0  # flights presumed hung
        # Probes given up on -> whether their thread was counted lost to the pool.
        self._abandoned: dict[int, bool] = {}
        self._seq = itertools.count()
        self._throttled_until = -math.inf
        # Why due polls are waiting now ("cap" or "threads"), or None: none are.
        self._held_by: str | None = None
        self._warned_late = False
        self._listing_warned: set[Hashable] = set()
        self._slow_after = min(probe_timeout / 4, SLOW_PROBE)

    # -- public API -----------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock this monitor measures deadlines and intervals with."""
        return self._clock

    def watch(
        self,
        fetch: Callable[[], Any],
        *,
        ready: Callable[[Any], bool] | None = None,
        failed: Callable[[Any], bool] | None = None,
        states: States | None = None,
        settled: Callable[[Any], bool] | None = None,
        timeout: float | None = None,
        interval: PollInterval | float | None = None,
        name: str = "operation",
        request: Any = None,
        sync_res: Any = None,
        resource_id: str | None = None,
        initial: Any = None,
        status: str | Getter = "status",
        progress: str | Getter = "progress",
        fault: Getter | None = None,
        gone_ok: bool = False,
        gone_after: int = 1,
        batch: Batch | None = None,
        batch_item: Hashable = None,
        is_fatal: Callable[[BaseException], bool] | None = None,
    ) -> OperationFuture[Any]:
        """Watch anything whose state can be fetched; return its future.

        The monitor calls ``fetch()`` every interval until ``failed(obj)`` (the
        future fails with :class:`~osfutures.OperationFailed`) or ``ready(obj)``
        (the future's result is ``obj``), the object disappears, or the deadline
        passes (:class:`~osfutures.OperationTimeout`). Instead of ``ready`` and
        ``failed``, ``states`` may say the same with state sets (see
        :meth:`watch_states`).

        Args:
            fetch: returns the current object; ``None`` or :data:`~osfutures.GONE`
                when it no longer exists. Errors it raises are judged by
                ``is_fatal``.
            ready: true when the operation succeeded.
            failed: true when the operation failed (checked before ``ready``).
            states: :class:`~osfutures.States` to judge the object's status by,
                instead of ``ready`` and ``failed``.
            settled: with ``states``: true once nothing is in progress on the
                object; until then its state does not count (Nova keeps a stopping
                server ACTIVE until it is SHUTOFF).
            timeout: seconds until the deadline; ``None`` for the monitor's
                ``default_timeout``; ``math.inf`` for none.
            interval: seconds between polls, or a :class:`~osfutures.PollInterval`.
            name: what the operation is, for messages and records.
            request: JSON-able description of what was asked (no secrets).
            sync_res: the preliminary result of the starting call.
            resource_id: id of the watched object, for messages and records.
            initial: an object already in hand (e.g. ``sync_res``), judged at once
                so that an operation that is already done costs no request.
            status: attribute/key name or getter giving the object's state.
            progress: attribute/key name or getter giving its progress.
            fault: getter giving the cloud's failure explanation, for
                :class:`~osfutures.OperationFailed`.
            gone_ok: disappearance is success (deletions); the result is the last
                object seen.
            gone_after: how many "gone" answers in a row are believed (tolerates a
                404 right after creation under eventual consistency).
            batch: poll together with every operation of the same batch key.
            batch_item: this operation's item for ``batch.fetch_many``.
            is_fatal: decides whether an error raised by a probe fails the
                operation at once (True) or is retried at the next poll; by
                default connection errors, timeouts, 408, 429 and 5xx are retried.

        Returns:
            The operation's :class:`~osfutures.OperationFuture`.

        Raises:
            TypeError: ``fetch``, ``ready`` or another callable argument is not
                callable; neither or both of ``ready`` and ``states`` are given;
                ``states`` is not a :class:`~osfutures.States` or ``batch`` not a
                :class:`~osfutures.Batch`; a number argument is not a number; or
                ``batch.key`` or ``batch_item`` is not hashable.
            ValueError: ``timeout`` or ``interval`` is not > 0, ``gone_after`` < 1,
                or ``batch`` is given without ``batch_item``.
            MonitorShutdown: the monitor was shut down.
            MonitorCrashed: the monitor thread died.
        """
        require_callable("fetch", fetch)
        if states is not None and not isinstance(states, States):
            raise TypeError(
                f"states: expected States (from States.of(...)), got {type(states).__name__}"
                f" {states!r}; for plain state sets use watch_states(target=..., failure=...)"
            )
        if (ready is None) == (states is None):
            raise TypeError("watch: give either ready (and failed) or states, not both or neither")
        require_callable("ready", ready, optional=True)
        require_callable("failed", failed, optional=True)
        require_callable("settled", settled, optional=True)
        require_callable("fault", fault, optional=True)
        require_callable("is_fatal", is_fatal, optional=True)
        deadline = check_timeout("timeout", timeout)
        poll_interval = PollInterval.coerce(interval, self.default_interval)
        check_count("gone_after", gone_after)
        require_instance("name", name, str)
        require_instance("batch", batch, Batch, optional=True)
        require_instance("resource_id", resource_id, str, optional=True)
        if batch is not None:
            require_callable("batch.fetch_many", batch.fetch_many)
            if batch_item is None:
                raise ValueError("batch_item: required with batch (the item fetch_many looks up)")
            _require_hashable("batch.key", batch.key)
            _require_hashable("batch_item", batch_item)
        future: OperationFuture[Any] = OperationFuture(
            name=name,
            request=request,
            sync_res=sync_res,
            resource_id=resource_id,
            runner=self._runner,
        )
        watch = Watch(
            future,
            fetch,
            ready=ready,
            failed=failed,
            states=states,
            settled=settled,
            status_of=_getter("status", status),
            progress_of=_getter("progress", progress),
            fault_of=fault,
            gone_ok=gone_ok,
            gone_after=gone_after,
            is_fatal=is_fatal or _not_transient,
            interval=poll_interval,
            timeout=deadline if deadline is not None else self.default_timeout,
            batch=batch,
            item=batch_item,
        )
        # The deadline runs from the call, not from when the monitor thread wakes up.
        watch.started = self._clock.now()
        if initial is not None:
            watch.judge(initial, None, watch.started)
            if future.done():
                return future
        self._submit("watch", watch)
        return future

    def watch_states(
        self,
        fetch: Callable[[], Any],
        *,
        target: Collection[str],
        pending: Collection[str] = (),
        failure: Collection[str] = ("ERROR",),
        status: str | Getter = "status",
        **options: Any,
    ) -> OperationFuture[Any]:
        """Watch until the object's state is in ``target`` (declarative form).

        Like Terraform's StateChangeConf: states in ``failure`` fail the operation;
        with a non-empty ``pending``, a state in none of the sets fails it too
        ("unexpected state"). States compare case-insensitively.

        Args:
            fetch: as for :meth:`watch`.
            target: the states that mean success.
            pending: the states expected on the way.
            failure: the states that mean failure.
            status: attribute/key name or getter giving the state.
            **options: any other argument of :meth:`watch` (``timeout``,
                ``interval``, ``name``, ``fault``, ``batch``, ...).

        Raises:
            ValueError: ``target`` is empty, or a state is in two sets.
            TypeError: a state set is a string; others as :meth:`watch`.
        """
        states = States.of(target, pending, failure)
        return self.watch(fetch, states=states, status=status, **options)

    def call_later(
        self, delay: float, fn: Callable[[], object], *, owner: OperationFuture[Any]
    ) -> None:
        """Run ``fn`` on the callback pool after ``delay`` seconds of this clock.

        ``owner`` is the future the timer works for: if the monitor is shut down with
        ``cancel_futures=True`` or crashes before the timer fires, the owner is
        cancelled or failed instead, so it cannot hang.

        Raises:
            TypeError: ``delay`` is not a number, ``fn`` is not callable or ``owner``
                is not an :class:`~osfutures.OperationFuture`.
            ValueError: ``delay`` is negative or NaN.
            MonitorShutdown, MonitorCrashed: as for :meth:`watch`.
        """
        check_number("delay", delay)
        require_callable("fn", fn)
        require_instance("owner", owner, OperationFuture)
        if not (delay >= 0):
            raise ValueError(f"delay: need a number of seconds >= 0, got {delay!r}")
        self._submit("timer", (self._clock.now() + delay, fn, owner))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work, as :meth:`concurrent.futures.Executor.shutdown` does.

        Operations already submitted are watched to their end (result, failure or
        deadline), unless ``cancel_futures`` is true, in which case they are
        cancelled (nothing is deleted in the cloud). Submitting after this raises
        :class:`~osfutures.MonitorShutdown`. Calling it again is harmless.

        Args:
            wait: block until the monitor thread has finished and the callbacks
                have run (not when called from a callback, which would wait for
                itself).
            cancel_futures: cancel every pending operation instead of finishing it.
        """
        with self._cond:
            self._stopping = True
            if cancel_futures:
                # Follow-ups (a retry's relaunch, a chained step) are refused too:
                # cancelling means no more work, not the end of what is in the tables.
                self._cancelling = True
                self._intake.append(("cancel_all", None))
            self._cond.notify_all()
        if not wait or self._runner.in_worker() or threading.current_thread() is self._thread:
            return  # waiting here would wait for this very thread
        if self._thread is not None:
            self._thread.join()
        self._runner.shutdown(wait=True)

    def is_alive(self) -> bool:
        """False once the monitor is shut down or has crashed."""
        with self._cond:
            return not self._stopping and self._crashed is None

    def pending_count(self) -> int:
        """How many operations are being watched (or waiting in the intake); a
        cancelled one no longer counts."""
        with self._cond:
            queued = sum(
                1 for kind, item in self._intake if kind == "watch" and not item.future._over
            )
            return queued + sum(1 for w in list(self._watches.values()) if not w.future._over)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until nothing is due at the clock's current time; for tests.

        With a :class:`~osfutures.ManualClock`, call this after ``advance()`` to
        let the monitor finish the work that advance made due (probes, callbacks,
        resolutions) before asserting. A probe abandoned after ``probe_timeout``
        does not count. Returns False if ``timeout`` (real seconds) passed first.
        """
        end = time.monotonic() + timeout
        while True:
            # The monitor, then the callbacks (which may submit to the monitor), then
            # the monitor again: quiet in all three reads means quiet.
            if self._quiet() and self._runner.is_idle() and self._quiet():
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.002)

    def _quiet(self) -> bool:
        with self._cond:
            if self._thread is None:
                return not self._intake
            if not self._idle or self._intake or self._inflight:
                return False
            # Parked in its wait, the monitor thread touches none of its tables until
            # it gets this lock back: reading its next wake-up time here is safe.
            wake = self._next_wake()
            return wake is None or wake > self._clock.now()

    # -- intake -----------------------------------------------------------------

    def _check_open(self) -> None:
        """Raise unless work submitted now would be taken.

        For callers that must know before they change anything in the cloud (a
        twin asks before its plain call, so a refusal orphans nothing).

        Raises:
            MonitorShutdown, MonitorCrashed: as for :meth:`watch`.
        """
        with self._cond:
            self._refuse_if_closed()

    def _refuse_if_closed(self) -> None:
        # Called with _cond held.
        if self._crashed is not None:
            raise MonitorCrashed(
                f"monitor {self.name!r} crashed; create a new Monitor"
            ) from self._crashed
        # After shutdown, the follow-ups of operations already running (a retry's
        # cleanup and relaunch, a chained step) still come in: they run on the
        # callback pool. New work from anywhere else is refused.
        if self._stopping and (self._exited or self._cancelling or not self._runner.in_worker()):
            raise MonitorShutdown(f"monitor {self.name!r} is shut down; it takes no new work")

    def _submit(self, kind: str, item: Any) -> None:
        with self._cond:
            self._refuse_if_closed()
            self._intake.append((kind, item))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
                _running.add(self)
            self._cond.notify_all()

    def _post(self, kind: str, item: Any) -> None:
        # From probe threads: results are accepted even while stopping.
        with self._cond:
            self._intake.append((kind, item))
            self._cond.notify_all()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- the monitor thread -------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._cycle():
                pass
        except BaseException as error:
            self._crash(error)
        self._probes.shutdown()
        self._runner.shutdown(wait=False)

    def _cycle(self) -> bool:
        """One turn of the loop: take in work, act on what is due. False to exit."""
        clock = self._clock
        with self._cond:
            while not self._intake:
                if self._stopping and self._finished():
                    self._exited = True  # decided under the lock: no work slips in after
                    return False
                now = clock.now()
                wake = self._next_wake()
                if wake is not None and wake <= now:
                    break
                self._idle = True
                clock.wait(self._cond, None if wake is None else wake - now)
                self._idle = False
            # Until taken in, these are in no table: _crash finds them here.
            self._taking = list(self._intake)
            self._intake.clear()
        now = clock.now()
        for kind, item in self._taking:
            self._take(kind, item, now)
        self._taking = []
        self._expire(now)
        self._fire_timers(now)
        self._abandon_slow_probes(now)
        self._dispatch_due(now)
        self._compact()
        return True

    def _finished(self) -> bool:
        # A future cancelled by its user stays in the tables until its poll, timer or
        # deadline comes up; it must not hold up a shutdown until then.
        return (
            all(w.future._over for w in self._watches.values())
            and all(owner._over for *_, owner in self._timers)
            and not self._inflight
            and self._runner.is_idle()
        )

    def _take(self, kind: str, item: Any, now: float) -> None:
        if kind == "watch":
            self._add(item)
        elif kind == "probed":
            self._take_results(*item, now=now)
        elif kind == "timer":
            when, fn, owner = item
            heapq.heappush(self._timers, (when, next(self._seq), fn, owner))
        elif kind == "cancel_all":
            self._cancel_all()

    def _cancel_all(self) -> None:
        for watch in list(self._watches.values()):
            watch.future.cancel()
            self._forget(watch)
        for *_, owner in self._timers:
            owner.cancel()
        self._timers.clear()
        # Probes still out can only report on cancelled work: stop waiting for them.
        self._abandoned.update((token, f.slow) for token, f in self._inflight.items())
        self._inflight.clear()
        self._slow = 0
        self._ready.clear()
        for group in self._groups.values():
            group.busy = False

    def _add(self, watch: Watch) -> None:
        if watch.future.done():  # cancelled before the monitor saw it
            return
        key = watch.future.id
        watch.deadline = watch.started + watch.timeout
        self._watches[key] = watch
        if watch.batch is not None:
            group = self._groups.get(watch.batch.key)
            if group is None:
                group = self._groups[watch.batch.key] = _Group(watch.batch)
            group.members[key] = watch
        self._poll_at(watch, watch.started + watch.interval.delay(0, self._rng))
        if math.isfinite(watch.deadline):
            heapq.heappush(self._deadlines, (watch.deadline, key))

    def _forget(self, watch: Watch) -> None:
        key = watch.future.id
        self._watches.pop(key, None)
        if watch.batch is not None:
            group = self._groups.get(watch.batch.key)
            if group is not None:
                group.members.pop(key, None)
                if not group.members:
                    del self._groups[watch.batch.key]

    def _compact(self) -> None:
        # Entries of finished operations stay in the heaps until they come up; when
        # they outnumber the live ones, rebuild rather than let the heaps grow.
        live = len(self._watches)
        if len(self._deadlines) > 2 * live + 1024:
            self._deadlines = [e for e in self._deadlines if e[1] in self._watches]
            heapq.heapify(self._deadlines)
        if len(self._due) > 2 * (live + len(self._groups)) + 1024:
            self._due = [e for e in self._due if self._is_current(e[0], e[2])]
            heapq.heapify(self._due)
        if len(self._ready) > 2 * (live + len(self._groups)) + 1024:
            self._ready = [e for e in self._ready if self._is_current(e[2], e[3])]
            heapq.heapify(self._ready)

    def _is_current(self, when: float, item: Watch | _Group) -> bool:
        """Whether a poll-heap entry still stands (entries are never removed early)."""
        if isinstance(item, _Group):
            return item.due == when and not item.busy and self._groups.get(item.batch.key) is item
        return (
            self._watches.get(item.future.id) is item
            and not item.inflight
            and item.next_poll == when
        )

    def _expire(self, now: float) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, key = heapq.heappop(deadlines)
            watch = self._watches.get(key)
            if watch is None:
                continue
            if watch.future._over:
                self._forget(watch)
                continue
            held = (
                self._held_by is not None
                and watch.final_look is None
                and not watch.inflight
                and watch.next_poll < now
            )
            if held:
                # Its polls were held back (the cap, or every probe thread busy): what
                # it last saw is stale. Its deadline puts it at the head of the queue
                # for one more look (still within the cap; a batch member's through
                # its batch) before the deadline is called on an observation that old.
                watch.final_look = self._held_by
                self._poll_at(watch, now)
                heapq.heappush(deadlines, (now + min(FINAL_LOOK, self.probe_timeout), key))
                continue
            self._time_out(watch, now)

    def _time_out(self, watch: Watch, now: float) -> None:
        delayed_by = None
        if watch.final_look == "cap" and self._limiter is not None:
            delayed_by = f"the monitor's cap of {self._limiter.rate:g} probes/s"
        elif watch.final_look == "threads":
            delayed_by = f"all {self._probe_workers} probe threads being busy"
        error = OperationTimeout(
            watch.describe(),
            status=watch.future.status,
            elapsed=now - watch.started,
            timeout=watch.timeout,
            last_seen=None if watch.seen_at is None else now - watch.seen_at,
            delayed_by=delayed_by,
        )
        error.__cause__ = watch.last_error
        watch.future._set_exception_if_pending(error)
        self._forget(watch)

    def _fire_timers(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, fn, owner = heapq.heappop(timers)
            if not owner.done():
                self._runner.submit(owner, fn)

    def _abandon_slow_probes(self, now: float) -> None:
        for token, flight in list(self._inflight.items()):
            if not flight.slow and flight.slow_at <= now:
                # Presumed hung: free its slot, and let the pool start a spare thread.
                flight.slow = True
                self._slow += 1
                self._probes.lost()
            if flight.limit > now:
                continue
            # The probe thread may come back one day; its answer will be ignored. It
            # was marked slow above (slow_at comes before limit), so the pool already
            # counts its thread as lost.
            del self._inflight[token]
            self._abandoned[token] = True
            self._slow -= 1
            error = ProbeTimeout(f"probe did not answer within {self.probe_timeout}s")
            for watch in flight.members:
                watch.inflight = False
                if self._watches.get(watch.future.id) is watch:
                    watch.last_error = error
                    self._schedule(watch, now)
            self._release(flight.group)

    def _has_probe_slot(self) -> bool:
        busy = len(self._inflight) - self._slow
        # Abandoned probes still hold their threads: launching past the pool's cap
        # would only queue tasks that flood the cloud once it answers again.
        threads = len(self._inflight) + len(self._abandoned)
        return busy < self._probe_workers and threads < 4 * self._probe_workers

    def _dispatch_due(self, now: float) -> None:
        due, ready = self._due, self._ready
        while due and due[0][0] <= now:
            when, seq, item = heapq.heappop(due)
            if self._is_current(when, item):
                heapq.heappush(ready, (min(when, self._urgency(item) - URGENT), seq, when, item))
        while ready:
            _, _, when, item = ready[0]
            if not self._is_current(when, item):
                heapq.heappop(ready)
                continue
            if isinstance(item, Watch) and item.future._over:  # cancelled by its user
                heapq.heappop(ready)
                self._forget(item)
                continue
            if not self._has_probe_slot():
                self._held_by = "threads"
                return  # every probe thread is busy; a result will wake us
            if self._limiter is not None:
                wait = self._limiter.take(now)
                if wait > 0:
                    self._throttled_until = now + wait
                    self._held_by = "cap"
                    if not self._warned_late:
                        self._warn_late(now - min(e[2] for e in ready))
                    return
            heapq.heappop(ready)
            self._launch(item, now)
        self._held_by = None

    def _urgency(self, item: Watch | _Group) -> float:
        if isinstance(item, Watch):
            return item.deadline
        return min((w.deadline for w in item.members.values()), default=math.inf)

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

    def _warn_late(self, lateness: float) -> None:
        if self._warned_late or lateness < LATE_WARNING or self._limiter is None:
            return
        self._warned_late = True
        log.warning(
            "osfutures: monitor %r polls %.1fs late: its operations ask for more than its"
            " cap of %g probes/s (max_probes_per_second), with %d polls waiting. Batch"
            " them, poll less often (interval), or raise the cap; an operation whose"
            " polls were held back gets one more look at its deadline.",
            self.name,
            lateness,
            self._limiter.rate,
            len(self._ready),
        )

    def _launch(self, item: Watch | _Group, now: float) -> None:
        group: _Group | None = None
        batch = None
        if isinstance(item, Watch):
            members = [item]
        else:
            # One request for the whole group: every member rides along.
            group, batch = item, item.batch
            members = []
            for watch in list(group.members.values()):
                if watch.future._over:  # cancelled by its user
                    self._forget(watch)
                elif not watch.inflight and not watch.solo:
                    members.append(watch)
            group.due = None
            if not members:
                return
            group.busy = True
        for member in members:
            member.inflight = True
        token = next(self._seq)
        self._inflight[token] = _Flight(
            members, group, now + self._slow_after, now + self.probe_timeout
        )
        self._probes.submit(functools.partial(self._probe_and_report, token, batch, members))

    def _probe_and_report(self, token: int, batch: Batch | None, members: list[Watch]) -> None:
        # A task that waited in the pool may be for operations over by now: no request.
        live = [w for w in members if not w.future._over]
        self._post("probed", (token, probe(batch, live) if live else []))

    def _take_results(self, token: int, results: Results, *, now: float) -> None:
        if token in self._abandoned:
            if self._abandoned.pop(token):
                self._probes.recovered()
            return
        flight = self._inflight.pop(token, None)
        if flight is None:
            return
        if flight.slow:
            self._slow -= 1
            self._probes.recovered()
        batched = flight.group is not None
        for watch, value, error in results:
            watch.inflight = False
            if self._watches.get(watch.future.id) is not watch:
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
                self._forget(watch)
            elif watch.final_look:
                self._time_out(watch, now)  # it had its one more look
            else:
                self._schedule(watch, now)
        self._release(flight.group)

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

    def _release(self, group: _Group | None) -> None:
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

    def _push_group(self, group: _Group, when: float) -> None:
        group.due = when
        heapq.heappush(self._due, (when, next(self._seq), group))

    def _next_wake(self) -> float | None:
        candidates = []
        if self._has_probe_slot():
            if self._due:
                candidates.append(max(self._due[0][0], self._throttled_until))
            if self._ready:
                candidates.append(self._throttled_until)
        if self._deadlines:
            candidates.append(self._deadlines[0][0])
        if self._timers:
            candidates.append(self._timers[0][0])
        for flight in self._inflight.values():
            candidates.append(flight.limit if flight.slow else flight.slow_at)
        finite = [c for c in candidates if math.isfinite(c)]
        return min(finite) if finite else None

    def _crash(self, error: BaseException) -> None:
        log.critical("osfutures: monitor %r crashed", self.name, exc_info=error)
        with self._cond:
            self._crashed = error
            queued = self._taking + list(self._intake)
            self._intake.clear()
        futures = [w.future for w in self._watches.values()]
        futures += [owner for *_, owner in self._timers]
        for kind, item in queued:
            if kind == "watch":
                futures.append(item.future)
            elif kind == "timer":
                futures.append(item[2])
        for future in futures:
            failure = MonitorCrashed(f"monitor {self.name!r} crashed while watching {future.name}")
            failure.__cause__ = error
            future._set_exception_if_pending(failure)
        self._watches.clear()
        self._timers.clear()


def _check_clock(clock: object) -> None:
    if clock is None:
        return
    missing = [m for m in ("now", "wall", "wait") if not callable(getattr(clock, m, None))]
    if missing:
        raise TypeError(
            f"clock: expected a Clock (with now(), wall() and wait()), got"
            f" {type(clock).__name__} without {', '.join(m + '()' for m in missing)}"
        )


def _require_hashable(name: str, value: object) -> None:
    try:
        hash(value)
    except TypeError:
        raise TypeError(
            f"{name}: must be hashable (a string, number or tuple), got {type(value).__name__}"
        ) from None


def _getter(arg: str, value: str | Getter) -> Getter:
    if isinstance(value, str):
        return {"status": _STATUS, "progress": _PROGRESS}.get(value) or attribute_getter(value)
    if not callable(value):
        raise TypeError(f"{arg}: expected an attribute name or a callable, got {value!r}")
    return value


# Monitors whose thread has started, for the exit report.
_running: weakref.WeakSet[Monitor] = weakref.WeakSet()


@atexit.register
def _report_abandoned() -> None:
    # The monitor threads are daemons (a process must be able to exit while the cloud
    # still works): futures pending now are abandoned, and the caller should hear so.
    pending = {m.name: m.pending_count() for m in list(_running)}
    count = sum(pending.values())
    if count:
        log.warning(
            "osfutures: exiting with %d operation(s) still in flight (%s); their futures"
            " will never resolve, though the cloud goes on with the work",
            count,
            ", ".join(f"{n} on monitor {name!r}" for name, n in pending.items() if n),
        )


_default_lock = threading.Lock()
_default: Monitor | None = None


def default_monitor() -> Monitor:
    """The process-wide monitor the library uses unless given another.

    Created on first use; if it was shut down or crashed, a fresh one replaces it.
    """
    global _default
    with _default_lock:
        if _default is None or not _default.is_alive():
            _default = Monitor()
        return _default
