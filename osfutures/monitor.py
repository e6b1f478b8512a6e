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

import heapq
import itertools
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from osfutures._checks import check_count, check_timeout, require_callable
from osfutures.callbacks import CallbackRunner
from osfutures.clock import Clock, SystemClock
from osfutures.errors import MonitorCrashed, MonitorShutdown, OperationTimeout
from osfutures.future import OperationFuture
from osfutures.policy import PollInterval, RateLimiter, is_transient, retry_after
from osfutures.watch import Batch, Getter, Watch, attribute_getter, state_tests

__all__ = ["DEFAULT_TIMEOUT", "Monitor", "default_monitor"]

log = logging.getLogger("osfutures")

T = TypeVar("T")

#: The deadline of an operation given no ``timeout`` (an hour). Pass ``math.inf`` to
#: wait with no deadline at all; a silent default of "forever" is how waits hang.
DEFAULT_TIMEOUT = 3600.0

_STATUS = attribute_getter("status")
_PROGRESS = attribute_getter("progress")


class ProbeTimeout(TimeoutError):
    """A probe request took longer than the monitor's ``probe_timeout``."""


def _not_transient(error: BaseException) -> bool:
    return not is_transient(error)


def _probe(batch: Batch | None, members: Sequence[Watch]) -> list[tuple[Watch, Any, Any]]:
    """Fetch the state of ``members``: (watch, value, error) for each. Never raises.

    Runs on a probe thread. A failing ``fetch_many`` fails only this poll of these
    members; the monitor decides per operation what the error means.
    """
    results: list[tuple[Watch, Any, Any]] = []
    missing: Iterable[Watch] = members
    if batch is not None:
        try:
            found = batch.fetch_many([w.item for w in members])
        except Exception as error:
            return [(w, None, error) for w in members]
        missing = [w for w in members if w.item not in found]
        results.extend((w, found[w.item], None) for w in members if w.item in found)
    for watch in missing:
        try:
            results.append((watch, watch.fetch(), None))
        except Exception as error:
            results.append((watch, None, error))
    return results


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
        probe_workers: threads that run probe calls.
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
        check_timeout("default_timeout", default_timeout, allow_none=False)
        check_timeout("probe_timeout", probe_timeout, allow_none=False)
        check_count("probe_workers", probe_workers)
        self._clock: Clock = clock or SystemClock()
        self.default_timeout = default_timeout
        self.default_interval = PollInterval.coerce(default_interval, PollInterval())
        self.probe_timeout = probe_timeout
        self.name = name
        self._limiter = (
            RateLimiter(max_probes_per_second, now=self._clock.now())
            if max_probes_per_second is not None
            else None
        )
        self._rng = random.Random(seed)
        self._runner = CallbackRunner(callback_workers, name=f"{name}-callback")
        self._probe_workers = probe_workers
        self._probes = ThreadPoolExecutor(probe_workers, thread_name_prefix=f"{name}-probe")

        # Shared with other threads, guarded by _cond.
        self._cond = threading.Condition()
        self._intake: deque[tuple[str, Any]] = deque()
        self._stopping = False
        self._crashed: BaseException | None = None
        self._idle = False
        self._thread: threading.Thread | None = None

        # Owned by the monitor thread alone.
        self._watches: dict[int, Watch] = {}
        self._groups: dict[Hashable, dict[int, Watch]] = {}
        self._due: list[tuple[float, int, Watch]] = []
        self._deadlines: list[tuple[float, int, Watch]] = []
        self._timers: list[tuple[float, int, Callable[[], object], OperationFuture[Any]]] = []
        self._inflight: dict[int, tuple[float, list[Watch]]] = {}
        self._abandoned: set[int] = set()
        self._seq = itertools.count()
        self._throttled_until = -math.inf

    # -- public API -----------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock this monitor measures deadlines and intervals with."""
        return self._clock

    def watch(
        self,
        fetch: Callable[[], Any],
        *,
        ready: Callable[[Any], bool],
        failed: Callable[[Any], bool] | None = None,
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
        passes (:class:`~osfutures.OperationTimeout`).

        Args:
            fetch: returns the current object; ``None`` or :data:`~osfutures.GONE`
                when it no longer exists. Errors it raises are judged by
                ``is_fatal``.
            ready: true when the operation succeeded.
            failed: true when the operation failed (checked before ``ready``).
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
                callable, or a number argument is not a number.
            ValueError: ``timeout`` or ``interval`` is not > 0, ``gone_after`` < 1,
                or ``batch`` is given without ``batch_item``.
            MonitorShutdown: the monitor was shut down.
            MonitorCrashed: the monitor thread died.
        """
        require_callable("fetch", fetch)
        require_callable("ready", ready)
        require_callable("failed", failed, optional=True)
        require_callable("fault", fault, optional=True)
        require_callable("is_fatal", is_fatal, optional=True)
        deadline = check_timeout("timeout", timeout)
        check_count("gone_after", gone_after)
        if batch is not None and batch_item is None:
            raise ValueError("batch_item: required with batch (the item fetch_many looks up)")
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
            status_of=_getter("status", status),
            progress_of=_getter("progress", progress),
            fault_of=fault,
            gone_ok=gone_ok,
            gone_after=gone_after,
            is_fatal=is_fatal or _not_transient,
            interval=PollInterval.coerce(interval, self.default_interval),
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
        status_of = _getter("status", status)
        ready, failed = state_tests(target, pending, failure, status_of)
        return self.watch(fetch, ready=ready, failed=failed, status=status_of, **options)

    def call_later(
        self, delay: float, fn: Callable[[], object], *, owner: OperationFuture[Any]
    ) -> None:
        """Run ``fn`` on the callback pool after ``delay`` seconds of this clock.

        ``owner`` is the future the timer works for: if the monitor is shut down with
        ``cancel_futures=True`` or crashes before the timer fires, the owner is
        cancelled or failed instead, so it cannot hang.

        Raises:
            ValueError: ``delay`` is negative or NaN.
            MonitorShutdown, MonitorCrashed: as for :meth:`watch`.
        """
        require_callable("fn", fn)
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
            wait: block until the monitor thread has finished.
            cancel_futures: cancel every pending operation instead of finishing it.
        """
        with self._cond:
            self._stopping = True
            if cancel_futures:
                self._intake.append(("cancel_all", None))
            self._cond.notify_all()
        thread = self._thread
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join()
        if wait:
            self._probes.shutdown(wait=False)
            self._runner.shutdown(wait=True)

    def is_alive(self) -> bool:
        """False once the monitor is shut down or has crashed."""
        with self._cond:
            return not self._stopping and self._crashed is None

    def pending_count(self) -> int:
        """How many operations are being watched (or waiting in the intake)."""
        with self._cond:
            queued = sum(1 for kind, _ in self._intake if kind == "watch")
            return queued + len(self._watches)

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

    def _submit(self, kind: str, item: Any) -> None:
        with self._cond:
            if self._crashed is not None:
                raise MonitorCrashed(
                    f"monitor {self.name!r} crashed; create a new Monitor"
                ) from self._crashed
            if self._stopping:
                raise MonitorShutdown(f"monitor {self.name!r} is shut down; it takes no new work")
            self._intake.append((kind, item))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _post(self, kind: str, item: Any) -> None:
        # From probe threads: results are accepted even while stopping.
        with self._cond:
            self._intake.append((kind, item))
            self._cond.notify_all()

    # -- the monitor thread -------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._cycle():
                pass
        except BaseException as error:
            self._crash(error)

    def _cycle(self) -> bool:
        """One turn of the loop: take in work, act on what is due. False to exit."""
        clock = self._clock
        with self._cond:
            while not self._intake:
                if self._stopping and self._finished():
                    return False
                now = clock.now()
                wake = self._next_wake()
                if wake is not None and wake <= now:
                    break
                self._idle = True
                clock.wait(self._cond, None if wake is None else wake - now)
                self._idle = False
            items = list(self._intake)
            self._intake.clear()
        now = clock.now()
        for kind, item in items:
            self._take(kind, item, now)
        self._expire(now)
        self._fire_timers(now)
        self._abandon_slow_probes(now)
        self._dispatch_due(now)
        return True

    def _finished(self) -> bool:
        return not self._watches and not self._timers and not self._inflight

    def _take(self, kind: str, item: Any, now: float) -> None:
        if kind == "watch":
            self._add(item, now)
        elif kind == "probed":
            self._take_results(*item, now=now)
        elif kind == "timer":
            when, fn, owner = item
            heapq.heappush(self._timers, (when, next(self._seq), fn, owner))
        elif kind == "cancel_all":
            for watch in list(self._watches.values()):
                watch.future.cancel()
                self._forget(watch)
            for *_, owner in self._timers:
                owner.cancel()
            self._timers.clear()
            # Probes still out can only report on cancelled work: stop waiting.
            self._abandoned.update(self._inflight)
            self._inflight.clear()

    def _add(self, watch: Watch, now: float) -> None:
        if watch.future.done():  # cancelled before the monitor saw it
            return
        watch.deadline = watch.started + watch.timeout
        watch.next_poll = watch.started + watch.interval.delay(0, self._rng)
        self._watches[watch.future.id] = watch
        if watch.batch is not None:
            self._groups.setdefault(watch.batch.key, {})[watch.future.id] = watch
        heapq.heappush(self._due, (watch.next_poll, next(self._seq), watch))
        if math.isfinite(watch.deadline):
            heapq.heappush(self._deadlines, (watch.deadline, next(self._seq), watch))

    def _forget(self, watch: Watch) -> None:
        key = watch.future.id
        self._watches.pop(key, None)
        if watch.batch is not None:
            group = self._groups.get(watch.batch.key)
            if group is not None:
                group.pop(key, None)
                if not group:
                    del self._groups[watch.batch.key]

    def _is_watched(self, watch: Watch) -> bool:
        return self._watches.get(watch.future.id) is watch

    def _expire(self, now: float) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, _, watch = heapq.heappop(deadlines)
            if not self._is_watched(watch):
                continue
            error = OperationTimeout(
                watch.describe(),
                status=watch.future.status,
                elapsed=now - watch.started,
                timeout=watch.timeout,
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
        for token, (limit, members) in list(self._inflight.items()):
            if limit > now:
                continue
            # The probe thread may come back one day; its answer will be ignored.
            del self._inflight[token]
            self._abandoned.add(token)
            error = ProbeTimeout(f"probe did not answer within {self.probe_timeout}s")
            for watch in members:
                watch.inflight = False
                if self._is_watched(watch):
                    watch.last_error = error
                    self._schedule(watch, now)

    def _dispatch_due(self, now: float) -> None:
        due = self._due
        while due and due[0][0] <= now:
            when, _, watch = due[0]
            if not self._is_watched(watch) or watch.inflight or watch.next_poll != when:
                heapq.heappop(due)
                continue
            if watch.future.done():  # cancelled by its user
                heapq.heappop(due)
                self._forget(watch)
                continue
            if len(self._inflight) + len(self._abandoned) >= self._probe_workers:
                return  # every probe thread is busy; a result will wake us
            if self._limiter is not None:
                wait = self._limiter.take(now)
                if wait > 0:
                    self._throttled_until = now + wait
                    return
            heapq.heappop(due)
            self._launch(watch, now)

    def _launch(self, watch: Watch, now: float) -> None:
        if watch.batch is None:
            members = [watch]
        else:
            # Everything of the group rides along: the list request costs the same.
            members = [
                w
                for w in self._groups[watch.batch.key].values()
                if not w.inflight and not w.future.done()
            ]
        for member in members:
            member.inflight = True
        token = next(self._seq)
        self._inflight[token] = (now + self.probe_timeout, members)
        try:
            self._probes.submit(self._probe_and_report, token, watch.batch, members)
        except RuntimeError:  # interpreter shutdown: nothing more can run
            del self._inflight[token]
            for member in members:
                member.inflight = False

    def _probe_and_report(self, token: int, batch: Batch | None, members: list[Watch]) -> None:
        self._post("probed", (token, _probe(batch, members)))

    def _take_results(
        self, token: int, results: list[tuple[Watch, Any, Any]], *, now: float
    ) -> None:
        if token in self._abandoned:
            self._abandoned.discard(token)
            return
        if self._inflight.pop(token, None) is None:
            return
        for watch, value, error in results:
            watch.inflight = False
            if not self._is_watched(watch):
                continue
            watch.polls += 1
            watch.last_error = watch.judge(value, error, now)
            if watch.future.done():
                self._forget(watch)
            else:
                self._schedule(watch, now)

    def _schedule(self, watch: Watch, now: float) -> None:
        delay = watch.interval.delay(watch.polls, self._rng)
        if watch.last_error is not None:
            delay = max(delay, retry_after(watch.last_error) or 0.0)
        watch.next_poll = now + delay
        heapq.heappush(self._due, (watch.next_poll, next(self._seq), watch))

    def _next_wake(self) -> float | None:
        candidates = []
        if self._due and len(self._inflight) + len(self._abandoned) < self._probe_workers:
            candidates.append(max(self._due[0][0], self._throttled_until))
        if self._deadlines:
            candidates.append(self._deadlines[0][0])
        if self._timers:
            candidates.append(self._timers[0][0])
        candidates.extend(limit for limit, _ in self._inflight.values())
        return min(candidates) if candidates else None

    def _crash(self, error: BaseException) -> None:
        log.critical("osfutures: monitor %r crashed", self.name, exc_info=error)
        with self._cond:
            self._crashed = error
            queued = [item for kind, item in self._intake if kind in ("watch", "timer")]
            self._intake.clear()
        futures = [w.future for w in self._watches.values()]
        futures += [owner for *_, owner in self._timers]
        futures += [w.future if isinstance(w, Watch) else w[2] for w in queued]
        for future in futures:
            failure = MonitorCrashed(f"monitor {self.name!r} crashed while watching {future.name}")
            failure.__cause__ = error
            future._set_exception_if_pending(failure)
        self._watches.clear()
        self._timers.clear()
        self._probes.shutdown(wait=False)


def _getter(arg: str, value: str | Getter) -> Getter:
    if isinstance(value, str):
        return {"status": _STATUS, "progress": _PROGRESS}.get(value) or attribute_getter(value)
    if not callable(value):
        raise TypeError(f"{arg}: expected an attribute name or a callable, got {value!r}")
    return value


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
