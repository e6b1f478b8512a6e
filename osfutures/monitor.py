"""The monitor: one thread that watches every pending operation.

Work arrives on an intake queue (a deque under the monitor's condition) as typed work
items. The monitor thread alone owns the :class:`~osfutures._schedule.Schedule` (which
operation is polled when, deadlines, timers) and the account of probe requests in
flight (:class:`~osfutures._probes.Probes`); other threads only append to the intake.
Idle, the thread waits on the condition until the next due time; it never spins.

Probes (the requests that fetch state) run on a small bounded pool, never on the
monitor thread, and each has a time limit: a cloud that stops answering ties up probe
threads, not the deadlines of everything else. Operations that are members of one
:class:`~osfutures.Batch` are polled by one ``fetch_many`` call per cycle.

If the thread dies anyway, every pending future fails with
:class:`~osfutures.errors.MonitorCrashed`; nothing is left waiting forever.
"""

from __future__ import annotations

import atexit
import logging
import math
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from osfutures._callbacks import CallbackRunner
from osfutures._checks import (
    check_count,
    check_number,
    check_timeout,
    require_callable,
    require_clock,
    require_hashable,
    require_instance,
)
from osfutures._probes import Answer, Flight, Probes
from osfutures._schedule import Schedule, endpoint_of
from osfutures._watch import Watch
from osfutures.clock import Clock, SystemClock
from osfutures.errors import MonitorCrashed, MonitorShutdown, ProbeTimeout
from osfutures.future import OperationFuture
from osfutures.policy import PollInterval, RateLimiter, is_transient
from osfutures.watch import BatchMember, OnGone, Reader, States

__all__ = ["DEFAULT_TIMEOUT", "Monitor", "default_monitor"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The deadline of an operation given no ``timeout`` (an hour). Pass ``math.inf`` to
#: wait with no deadline at all; a silent default of "forever" is how waits hang.
DEFAULT_TIMEOUT = 3600.0

#: A probe running longer than this (or a quarter of ``probe_timeout``, if less) is
#: presumed hung: it no longer holds one of the ``probe_workers`` slots, and the pool
#: may start a spare thread, so operations that are ready meanwhile are still polled.
SLOW_PROBE = 5.0
#: When an operation's polls were delayed (by the rate cap or busy probe threads), it
#: gets one more look at its deadline before it times out: this long at most.
FINAL_LOOK = 5.0
#: Polls this late (seconds past their time) because of the rate cap get a warning.
LATE_WARNING = 1.0

_READER = Reader()
_GONE_FAILS = OnGone()


def _not_transient(error: BaseException) -> bool:
    return not is_transient(error)


# -- the work items of the intake ------------------------------------------------------


@dataclass(slots=True)
class _NewWatch:
    watch: Watch

    @property
    def owner(self) -> OperationFuture[Any]:
        return self.watch.future


@dataclass(slots=True)
class _NewTimer:
    when: float
    fn: Callable[[], object]
    owner: OperationFuture[Any]


@dataclass(slots=True)
class _Probed:
    token: int
    answer: Answer
    owner: None = None


@dataclass(slots=True)
class _CancelAll:
    owner: None = None


@dataclass(slots=True)
class _PollNow:
    key: Hashable
    at_once: bool
    owner: None = None


_WorkItem = _NewWatch | _NewTimer | _Probed | _CancelAll | _PollNow


class Monitor:
    """Watches many long-running operations from one thread.

    Args:
        clock: where time comes from (:class:`~osfutures.SystemClock` by default;
            :class:`~osfutures.ManualClock` in tests).
        default_timeout: deadline of operations submitted without ``timeout``.
        default_interval: polling cadence of operations submitted without
            ``interval``.
        max_probes_per_second: cap on the probe requests this monitor makes per
            second to each endpoint (what a :class:`~osfutures.Batch` or
            :meth:`watch` names: a cloud service's URL); ``None`` for no cap.
            Probes that name no endpoint (in-process fetches) are not capped.
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
        if clock is not None:
            require_clock("clock", clock)
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
        if max_probes_per_second is not None:
            RateLimiter(max_probes_per_second)  # checks it here, where it is given
        self._rate = max_probes_per_second
        self._runner = CallbackRunner(callback_workers, name=f"{name}-callback", on_idle=self._wake)

        # Shared with other threads, guarded by _cond.
        self._cond = threading.Condition()
        self._intake: deque[_WorkItem] = deque()
        self._stopping = False
        self._cancelling = False
        self._exited = False
        self._crashed: BaseException | None = None
        self._idle = False
        self._thread: threading.Thread | None = None

        # Owned by the monitor thread alone.
        self._schedule = Schedule(random.Random(seed), final_look=min(FINAL_LOOK, probe_timeout))
        self._probes = Probes(
            probe_workers,
            probe_timeout,
            slow_after=min(probe_timeout / 4, SLOW_PROBE),
            name=f"{name}-probe",
        )
        # Work items taken off the intake and not yet in the schedule: _crash finds
        # them here.
        self._taking: list[_WorkItem] = []
        # By endpoint: its request budget, and when its next request is allowed.
        self._limiters: dict[Hashable, RateLimiter] = {}
        self._throttled_until: dict[Hashable, float] = {}
        self._warned_late = False

    # -- public API -----------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock this monitor measures deadlines and intervals with."""
        return self._clock

    def watch(
        self,
        fetch: Callable[[], Any],
        *,
        states: States | None = None,
        ready: Callable[[Any], bool] | None = None,
        failed: Callable[[Any], bool] | None = None,
        reader: Reader | None = None,
        on_gone: OnGone | None = None,
        batch: BatchMember | None = None,
        endpoint: Hashable = None,
        timeout: float | None = None,
        interval: PollInterval | float | None = None,
        name: str = "operation",
        request: Any = None,
        sync_res: Any = None,
        resource_id: str | None = None,
        initial: Any = None,
        is_fatal: Callable[[BaseException], bool] | None = None,
        inquire: Callable[[Any], Any] | None = None,
        confirm: bool = False,
    ) -> OperationFuture[Any]:
        """Watch anything whose state can be fetched; return its future.

        The monitor calls ``fetch()`` every interval until the object's state is in
        ``states``' failure set (the future fails with
        :class:`~osfutures.OperationFailed`) or its target set (the future's result
        is the object), the object disappears (see ``on_gone``), or the deadline
        passes (:class:`~osfutures.OperationTimeout`). Instead of ``states``, the
        tests ``ready`` and ``failed`` may judge the object.

        Args:
            fetch: returns the current object; ``None`` or :data:`~osfutures.GONE`
                when it no longer exists. Errors it raises are judged by
                ``is_fatal``.
            states: :class:`~osfutures.States` to judge the object's status by (see
                also :meth:`watch_states`).
            ready: instead of ``states``: true when the operation succeeded.
            failed: with ``ready``: true when the operation failed (checked first).
            reader: where status, progress, fault and "settled" are read from
                (default: the ``status`` and ``progress`` attributes or keys), and
                a failure's ``details`` and a service's ``retry_after`` wish.
            on_gone: what the object's disappearance means (default: failure,
                :class:`~osfutures.ResourceGone`, at the first "gone" answer).
            batch: poll together with the other members of a
                :class:`~osfutures.Batch`: ``batch=the_batch.member(item)``.
            endpoint: what ``fetch``'s requests go to (a URL): the rate cap is per
                endpoint. Default: the batch's endpoint, else none (an in-process
                fetch, not capped).
            timeout: seconds until the deadline; ``None`` for the monitor's
                ``default_timeout``; ``math.inf`` for none.
            interval: seconds between polls, or a :class:`~osfutures.PollInterval`.
            name: what the operation is, for messages and records.
            request: JSON-able description of what was asked (no secrets).
            sync_res: the preliminary result of the starting call.
            resource_id: id of the watched object, for messages and records.
            initial: an object already in hand (e.g. ``sync_res``), judged at once
                so that an operation that is already done costs no request.
            is_fatal: decides whether an error raised by a probe fails the
                operation at once (True) or is retried at the next poll; by
                default connection errors, timeouts, 408, 429 and 5xx are retried.
            inquire: asks the cloud what happened, when the object alone cannot
                say: called with the last object, it returns an
                :class:`~osfutures.Explanation` of a failure, or ``None`` for none
                found. Asked when the operation fails (the explanation joins the
                :class:`~osfutures.OperationFailed`: Cinder's user messages), and
                when it stalls: the object settled (``reader.settled``, with
                ``states``) in a state that gives no verdict, as when a cloud undoes
                a failed action (Nova puts a server whose stop failed back to ACTIVE
                and shows no fault); an explanation then fails the operation, once
                per stall. It runs on a probe thread, as one more request of this
                operation to ``endpoint``; an error it raises adds nothing.
            confirm: with ``inquire``: a target state is believed only once the
                inquiry finds nothing wrong, for an action whose failure leaves the
                object in a target state (Nova's failed live migration leaves the
                server ACTIVE where it was). One more request per operation.

        Returns:
            The operation's :class:`~osfutures.OperationFuture`.

        Raises:
            TypeError: ``fetch`` or another callable argument is not callable;
                neither or both of ``states`` and ``ready`` are given; ``confirm``
                without ``inquire``; ``states``,
                ``reader``, ``on_gone`` or ``batch`` is not of its type;
                ``endpoint`` is not hashable; or a number argument is not a number.
            ValueError: ``timeout`` or ``interval`` is not > 0.
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
            raise TypeError("watch: give either states or ready (and failed), not both or neither")
        require_callable("ready", ready, optional=True)
        require_callable("failed", failed, optional=True)
        require_instance("reader", reader, Reader, optional=True)
        require_instance("on_gone", on_gone, OnGone, optional=True)
        if batch is not None and not isinstance(batch, BatchMember):
            raise TypeError(
                f"batch: expected a BatchMember (from Batch(...).member(item)), got"
                f" {type(batch).__name__} {batch!r}"
            )
        require_callable("is_fatal", is_fatal, optional=True)
        require_callable("inquire", inquire, optional=True)
        require_instance("confirm", confirm, bool)
        if confirm and inquire is None:
            raise TypeError("confirm: a success is confirmed by asking inquire; give one")
        require_hashable("endpoint", endpoint)
        deadline = check_timeout("timeout", timeout)
        poll_interval = PollInterval.coerce(interval, self.default_interval)
        require_instance("name", name, str)
        require_instance("resource_id", resource_id, str, optional=True)
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
            states=states,
            ready=ready,
            failed=failed,
            reader=reader or _READER,
            on_gone=on_gone or _GONE_FAILS,
            is_fatal=is_fatal or _not_transient,
            interval=poll_interval,
            timeout=deadline if deadline is not None else self.default_timeout,
            batch=None if batch is None else batch.batch,
            item=None if batch is None else batch.item,
            endpoint=endpoint if endpoint is not None or batch is None else batch.batch.endpoint,
            # The deadline runs from the call, not from when the monitor thread wakes.
            started=self._clock.now(),
            inquire=inquire,
            confirm=confirm,
        )
        if initial is not None:
            watch.judge(initial, None, watch.started)
            if future.done():
                return future
        self._submit(_NewWatch(watch))
        return future

    def watch_states(
        self,
        fetch: Callable[[], Any],
        *,
        target: Collection[str],
        pending: Collection[str] = (),
        failure: Collection[str] = ("ERROR",),
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
            **options: any other argument of :meth:`watch` (``reader``,
                ``timeout``, ``interval``, ``name``, ``batch``, ...).

        Raises:
            ValueError: ``target`` is empty, or a state is in two sets.
            TypeError: a state set is a string; others as :meth:`watch`.
        """
        return self.watch(fetch, states=States.of(target, pending, failure), **options)

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
        self._submit(_NewTimer(self._clock.now() + delay, fn, owner))

    def poll_now(self, key: Hashable, *, at_once: bool = True) -> None:
        """Poll the operations of the :class:`~osfutures.Batch` ``key`` without waiting
        for their next poll: something says their objects changed (a notification
        from the cloud, or from another process). The poll still waits for a free
        probe thread and the endpoint's rate cap, and the batch's polling interval
        starts again from its tightest. A key with no operation watched is ignored.

        Args:
            key: the batch's key.
            at_once: False to only restart the back-off: the batch is polled after
                its tightest interval, or sooner if already due sooner (things it
                does not watch are changing: its own may be next).

        Raises:
            TypeError: ``key`` is not hashable, or ``at_once`` not a bool.
            MonitorShutdown, MonitorCrashed: as for :meth:`watch`.
        """
        require_hashable("key", key)
        require_instance("at_once", at_once, bool)
        self._submit(_PollNow(key, at_once))

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
                self._intake.append(_CancelAll())
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
                1 for item in self._intake if isinstance(item, _NewWatch) and not item.owner._over
            )
            return queued + self._schedule.pending_count()

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
            if not self._idle or self._intake or len(self._probes):
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

    def _submit(self, item: _WorkItem) -> None:
        with self._cond:
            self._refuse_if_closed()
            self._intake.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
                _running.add(self)
            self._cond.notify_all()

    def _report(self, token: int, answer: Answer) -> None:
        # From probe threads: answers are accepted even while stopping.
        with self._cond:
            self._intake.append(_Probed(token, answer))
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
            self._taking = list(self._intake)
            self._intake.clear()
        now = clock.now()
        schedule = self._schedule
        for item in self._taking:
            self._take(item, now)
        self._taking = []
        schedule.expire(now)
        for fn, owner in schedule.due_timers(now):
            self._runner.submit(owner, fn)
        for flight in self._probes.overdue(now):
            error = ProbeTimeout(f"probe did not answer within {self.probe_timeout}s")
            schedule.given_up(flight.polled, error, now)
        self._dispatch(now)
        if schedule.compact(now):
            self._prune(now)
        return True

    def _prune(self, now: float) -> None:
        """Drop the rate limiters of endpoints with no poll waiting whose budget is
        full again (a new one would be the same): endpoints come and go."""
        for endpoint, limiter in list(self._limiters.items()):
            if limiter.full(now) and not self._schedule.waiting(endpoint):
                del self._limiters[endpoint]
                self._throttled_until.pop(endpoint, None)

    def _finished(self) -> bool:
        return self._schedule.finished() and not len(self._probes) and self._runner.is_idle()

    def _take(self, item: _WorkItem, now: float) -> None:
        if isinstance(item, _NewWatch):
            self._schedule.add(item.watch)
        elif isinstance(item, _Probed):
            # Given up on: what it polled was polled again since; a listing's late
            # answer may still carry what no other answer will.
            landed = self._probes.land(item.token)
            if isinstance(landed, Flight):
                self._schedule.answered(landed.polled, item.answer, now)
            elif landed is not None:
                self._schedule.late(landed, item.answer, now)
        elif isinstance(item, _NewTimer):
            self._schedule.add_timer(item.when, item.fn, item.owner)
        elif isinstance(item, _PollNow):
            self._schedule.poll_now(item.key, now, at_once=item.at_once)
        else:
            self._schedule.cancel_all()
            # Probes still out can only report on cancelled work: stop waiting for them.
            self._probes.abandon_all()

    def _dispatch(self, now: float) -> None:
        """Start the polls that are due, as probe threads and the rate caps allow."""
        schedule, probes = self._schedule, self._probes
        schedule.held_by = None
        schedule.capped.clear()
        while (item := schedule.next_ready(now, schedule.capped)) is not None:
            if not probes.has_slot():
                schedule.held_by = f"all {probes.workers} probe threads being busy"
                return  # a result will wake us
            endpoint = endpoint_of(item)
            limiter = self._limiter(endpoint, now)
            if limiter is not None:
                wait = limiter.take(now)
                if wait > 0:
                    # Only this endpoint's polls wait; the others' go on.
                    self._throttled_until[endpoint] = now + wait
                    schedule.capped[endpoint] = f"the monitor's cap of {limiter.rate:g} probes/s"
                    self._warn_late(endpoint, now - schedule.oldest_ready(endpoint))
                    continue
            polled, group = schedule.board()
            probes.launch(polled, group, now, self._report)

    def _limiter(self, endpoint: Hashable, now: float) -> RateLimiter | None:
        if endpoint is None or self._rate is None:
            return None
        limiter = self._limiters.get(endpoint)
        if limiter is None:
            limiter = self._limiters[endpoint] = RateLimiter(self._rate, now=now)
        return limiter

    def _warn_late(self, endpoint: Hashable, lateness: float) -> None:
        if self._warned_late or lateness < LATE_WARNING:
            return
        self._warned_late = True
        log.warning(
            "osfutures: monitor %r polls %s %.1fs late: its operations ask for more than"
            " its cap of %g probes/s (max_probes_per_second), with %d polls waiting."
            " Batch them, poll less often (interval), or raise the cap; an operation"
            " whose polls were held back gets one more look at its deadline.",
            self.name,
            endpoint,
            lateness,
            self._rate,
            self._schedule.waiting(endpoint),
        )

    def _next_wake(self) -> float | None:
        wake = self._schedule.next_wake(self._probes.has_slot(), self._throttled_until)
        flights = self._probes.next_wake()
        if wake is None:
            return flights if math.isfinite(flights) else None
        return min(wake, flights)

    def _crash(self, error: BaseException) -> None:
        log.critical("osfutures: monitor %r crashed", self.name, exc_info=error)
        with self._cond:
            self._crashed = error
            queued = self._taking + list(self._intake)
            self._intake.clear()
        futures = self._schedule.futures()
        futures += [item.owner for item in queued if item.owner is not None]
        for future in futures:
            failure = MonitorCrashed(f"monitor {self.name!r} crashed while watching {future.name}")
            failure.__cause__ = error
            future._set_exception_if_pending(failure)
        self._schedule.clear()


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
