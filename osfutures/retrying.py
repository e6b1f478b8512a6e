"""Retrying with cleanup: relaunch a failed operation after removing what it left.

OpenStack operations often fail for passing reasons (a host that could not build,
a scheduler race), and a relaunch fixes them, provided the broken object is deleted
first. :func:`retrying` does that as one future: attempt, and on failure clean up
(itself a future: delete, then wait until gone), then attempt again.

The retry decision is tenacity's own: a tenacity controller built from the caller's
``retry``, ``stop``, ``wait`` and hooks is stepped with ``iter()``, as tenacity's
asyncio and tornado drivers step it, on a :class:`tenacity.RetryCallState`. The
waiting between attempts is the monitor's (a timer), not a sleeping thread: a
thousand retrying operations cost no thread each.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

import tenacity
from tenacity.retry import retry_base
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from osfutures._checks import check_count, check_timeout, require_callable, require_instance
from osfutures.errors import OperationTimeout, RetriesExhausted
from osfutures.future import Attempt, OperationFuture, RecordedError, passed_on
from osfutures.monitor import Monitor, default_monitor
from osfutures.policy import is_retryable

__all__ = ["DEFAULT_RETRY", "DEFAULT_WAIT", "resume_retrying", "retrying"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Retry failures in the cloud, timeouts and transient request errors; not requests
#: the cloud rejected (see :func:`osfutures.policy.is_retryable`).
DEFAULT_RETRY = tenacity.retry_if_exception(is_retryable)
#: The pause between an attempt's cleanup and the next attempt, about 1 s, then 2 s,
#: 4 s, ... up to 30 s, with jitter so relaunches of many operations spread out.
DEFAULT_WAIT = tenacity.wait_exponential_jitter(initial=1.0, max=30.0, jitter=1.0)

Start = Callable[[float | None], OperationFuture[T]]
Cleanup = Callable[[OperationFuture[T]], "Future[Any] | None"]

#: A tenacity hook: called with the operation's :class:`tenacity.RetryCallState`.
Hook = Callable[[tenacity.RetryCallState], Any]

# Why tenacity's iter() does not run every hook itself. In tenacity, the iter() call
# that sees a failed attempt decides (retry, after, wait, stop) and then at once calls
# before_sleep, or retry_error_callback, or raises RetryError (re-raising the last
# error with reraise). osfutures must clean the failed attempt up between the decision
# and those steps, and only after that cleanup does it know whether the pause really
# happens: a cleanup that failed, the whole deadline, or shutdown(cancel_futures) can
# still end the operation. So the controller is built without before_sleep,
# retry_error_callback and reraise, and osfutures runs those three after the cleanup,
# when the pause is certain or when the operation gives up. Everything else (the
# order of retry, after, wait and stop, the state and the statistics) is the installed
# tenacity's: from 8.3 on it asks wait before stop, so stop_before_delay sees the pause.


def retrying(
    start: Start[T],
    cleanup: Cleanup[T] | None = None,
    *,
    try_count: int = 3,
    tout: float | None = None,
    timeout: float | None = None,
    retry: retry_base | None = None,
    stop: stop_base | None = None,
    wait: wait_base | None = None,
    before: Hook | None = None,
    after: Hook | None = None,
    before_sleep: Hook | None = None,
    retry_error_callback: Hook | None = None,
    reraise: bool = False,
    cleanup_last: bool = True,
    name: str = "operation",
    request: Any = None,
    monitor: Monitor | None = None,
) -> OperationFuture[T]:
    """Run an operation, relaunching it after cleanup until it succeeds.

    The first attempt starts in the calling thread, so a request the cloud rejects
    outright (and that ``retry`` does not cover, e.g. a 400) raises here, at the
    call. Later attempts start on the monitor's callback pool.

    The decisions are made by a tenacity controller stepped with ``iter()``: the
    hooks get the operation's :class:`tenacity.RetryCallState`, whose
    ``retry_object.statistics`` are tenacity's statistics for this operation.

    Args:
        start: starts one attempt and returns its future; called with the
            per-attempt timeout (``tout``).
        cleanup: given a failed attempt's future, removes what it left behind and
            returns a future that is done once that is gone (or ``None`` when
            there was nothing to do). ``None`` skips cleanup. If cleanup fails,
            no further attempt is made (it would leave one more broken object
            beside the first): the future fails with ``RetriesExhausted``.
        try_count: the most attempts to make (>= 1).
        tout: each attempt's timeout in seconds; ``None`` lets ``start`` decide.
        timeout: a deadline in seconds for the whole operation, every attempt and
            pause included; ``None`` for none. No attempt starts after it, and an
            attempt running at the deadline times out then (its ``tout`` is cut
            to the time left). The last attempt is still cleaned up (with
            ``cleanup_last``) before the future fails with
            :class:`~osfutures.OperationTimeout`.
        retry: a tenacity retry strategy deciding which errors are worth another
            attempt; default :data:`DEFAULT_RETRY`.
        stop: a tenacity stop strategy, combined with ``try_count`` (either stops).
        wait: a tenacity wait strategy for the pause before the next attempt;
            default :data:`DEFAULT_WAIT`.
        before: a tenacity hook called before each attempt starts (the first one
            in the calling thread: if it raises, so does this call, before
            anything is started).
        after: a tenacity hook called when an attempt failed with an error worth
            retrying, before its cleanup (e.g. ``tenacity.after_log``).
        before_sleep: a tenacity hook called once a failed attempt is cleaned up
            and another attempt will follow, just before the pause (e.g.
            ``tenacity.before_sleep_log(logger, logging.WARNING)``).
        retry_error_callback: called with the state, after the last cleanup, when
            the attempts run out (tenacity's stop, or a cleanup that failed): the
            future resolves with what it returns, or fails with what it raises,
            instead of failing with ``RetriesExhausted``.
        reraise: when the attempts run out, fail with the last attempt's error
            instead of ``RetriesExhausted`` (``retry_error_callback`` wins).
        cleanup_last: also clean up after the last failed attempt, so a
            retrying operation leaves nothing broken behind (its fault is kept
            in the error).
        name: what the operation is, for messages, records and tenacity's hooks.
        request: JSON-able description of what was asked (no secrets).
        monitor: whose timers and callback pool to use (default monitor if None).

    Returns:
        A future with the first successful attempt's result. It fails with
        :class:`~osfutures.RetriesExhausted` (every attempt in ``.attempts``)
        when attempts run out, or with the error itself when ``retry`` says it is
        not worth retrying. ``future.attempts`` lists every :class:`Attempt`. If a
        strategy or hook raises after the call, the attempt is still cleaned up
        and the future fails with that error (its ``__cause__`` the attempt's).

    Raises:
        TypeError: ``start``, ``cleanup``, a strategy or a hook is not callable,
            ``reraise`` is not a bool, or ``monitor`` is not a
            :class:`~osfutures.Monitor`.
        ValueError: ``try_count`` < 1, or ``tout`` or ``timeout`` is not > 0.
        Exception: what the first ``start`` raised, if ``retry`` rejects it, or
            what ``before`` raised before the first attempt.
    """
    run = _prepared(
        start,
        cleanup,
        try_count=try_count,
        tout=tout,
        timeout=timeout,
        retry=retry,
        stop=stop,
        wait=wait,
        before=before,
        after=after,
        before_sleep=before_sleep,
        retry_error_callback=retry_error_callback,
        reraise=reraise,
        cleanup_last=cleanup_last,
        name=name,
        request=request,
        monitor=monitor,
    )
    run.first_attempt()
    return run.future


def _prepared(
    start: Start[T],
    cleanup: Cleanup[T] | None,
    *,
    try_count: int,
    tout: float | None,
    timeout: float | None,
    retry: retry_base | None = None,
    stop: stop_base | None = None,
    wait: wait_base | None = None,
    before: Hook | None = None,
    after: Hook | None = None,
    before_sleep: Hook | None = None,
    retry_error_callback: Hook | None = None,
    reraise: bool,
    cleanup_last: bool,
    name: str,
    request: Any,
    monitor: Monitor | None,
) -> _RetryRun[T]:
    """Check the arguments of :func:`retrying` (or :func:`resume_retrying`) and make
    the run, before any attempt."""
    require_callable("start", start)
    require_callable("cleanup", cleanup, optional=True)
    check_policy(
        retry=retry,
        stop=stop,
        wait=wait,
        before=before,
        after=after,
        before_sleep=before_sleep,
        retry_error_callback=retry_error_callback,
        reraise=reraise,
    )
    check_count("try_count", try_count)
    check_timeout("tout", tout)
    check_timeout("timeout", timeout)
    if monitor is not None and not isinstance(monitor, Monitor):
        raise TypeError(f"monitor: expected a Monitor or None, got {type(monitor).__name__}")
    return _RetryRun(
        start,
        cleanup,
        tout=tout,
        timeout=timeout,
        policy=_Controller(
            name,
            stop=tenacity.stop_after_attempt(try_count) | stop
            if stop is not None
            else tenacity.stop_after_attempt(try_count),
            wait=wait or DEFAULT_WAIT,
            retry=retry or DEFAULT_RETRY,
            before=tenacity.before_nothing if before is None else before,
            after=tenacity.after_nothing if after is None else after,
        ),
        before_sleep=before_sleep,
        retry_error_callback=retry_error_callback,
        reraise=reraise,
        cleanup_last=cleanup_last,
        name=name,
        request=request,
        monitor=monitor or default_monitor(),
    )


#: What a resumed operation relaunches after: tenacity's default retry decision, and
#: the failures of attempts made before (known only from their records). Such an
#: attempt was being cleaned up or followed by another when its process stopped: a
#: failure not worth retrying would have ended the operation there and then.
_RESUMED_RETRY = tenacity.retry_if_exception(
    lambda error: isinstance(error, RecordedError) or is_retryable(error)
)


def resume_retrying(
    start: Start[T],
    cleanup: Cleanup[T] | None = None,
    *,
    attempts: Sequence[Attempt],
    current: OperationFuture[T] | None = None,
    cleanup_pending: bool = True,
    try_count: int = 3,
    tout: float | None = None,
    timeout: float | None = None,
    reraise: bool = False,
    cleanup_last: bool = True,
    name: str = "operation",
    request: Any = None,
    monitor: Monitor | None = None,
) -> OperationFuture[T]:
    """Go on with a retrying operation that another process began and left (from a
    journal's record of it): its attempts so far count against ``try_count``.

    Either the last attempt still runs (``current`` is its future, watched again): it
    is waited for, and if it fails, cleaned up and followed by the attempts left, as
    :func:`retrying` would have. Or it had failed: it is cleaned up (if
    ``cleanup_pending``), then the attempts left follow.

    The retry policy is tenacity's default (:data:`DEFAULT_RETRY`, :data:`DEFAULT_WAIT`,
    stop after ``try_count`` attempts): strategies and hooks are code, which no record
    holds. The earlier attempts' errors are :class:`~osfutures.future.RecordedError`
    objects, retried as their failures were.

    Args:
        start: starts one attempt (as for :func:`retrying`).
        cleanup: removes what a failed attempt left (as for :func:`retrying`).
        attempts: every attempt made so far, in order (at least one); the last one
            running if ``current`` is given, else ended with an error.
        current: the future of the last attempt, watched again.
        cleanup_pending: without ``current``: the last attempt's object may still be
            there (its cleanup had not finished).
        try_count: the most attempts in all, those made included.
        tout: each new attempt's timeout in seconds.
        timeout: seconds left of the whole operation's deadline (``None``: none).
        reraise: as for :func:`retrying`.
        cleanup_last: as for :func:`retrying`.
        name: what the operation is.
        request: JSON-able description of what was asked (no secrets).
        monitor: whose timers and callback pool to use (default monitor if None).

    Returns:
        The operation's future, its ``attempts`` those given and those to come.

    Raises:
        ValueError: ``attempts`` is empty, its last attempt does not fit ``current``
            (running with one, ended with an error without), or an argument is out
            of range as for :func:`retrying`.
        TypeError: as for :func:`retrying`.
    """
    made = list(attempts)
    if not made or not all(isinstance(a, Attempt) for a in made):
        raise ValueError(f"attempts: expected the attempts made so far, got {attempts!r}")
    last = made[-1]
    if current is not None and last.ended_at is not None:
        raise ValueError("attempts: the last one has ended, yet current is its running future")
    if current is None and (last.ended_at is None or last.error is None):
        raise ValueError("attempts: without current, the last one must have failed")
    run = _prepared(
        start,
        cleanup,
        try_count=try_count,
        tout=tout,
        timeout=timeout,
        retry=_RESUMED_RETRY,
        reraise=reraise,
        cleanup_last=cleanup_last,
        name=name,
        request=request,
        monitor=monitor,
    )
    run.resume(made, current, cleanup_pending=cleanup_pending)
    return run.future


_EXAMPLES = {
    "retry": ("retry strategy", "tenacity.retry_if_exception_type(OSError)"),
    "stop": ("stop strategy", "tenacity.stop_after_delay(600)"),
    "wait": ("wait strategy", "tenacity.wait_fixed(5)"),
    "before": ("hook", "tenacity.before_log(logger, logging.DEBUG)"),
    "after": ("hook", "tenacity.after_log(logger, logging.DEBUG)"),
    "before_sleep": ("hook", "tenacity.before_sleep_log(logger, logging.WARNING)"),
    "retry_error_callback": ("hook", "lambda retry_state: None"),
}


def check_policy(*, reraise: Any = False, **strategies: Any) -> None:
    """Check tenacity strategies and hooks where they are passed, not when first used.

    A strategy is consulted in a done callback, long after the call: one that cannot
    be called there would leave the operation's future pending for ever.

    Args:
        reraise: must be a bool.
        strategies: ``retry``, ``stop``, ``wait``, ``before``, ``after``,
            ``before_sleep`` or ``retry_error_callback``, each ``None`` or callable.

    Raises:
        TypeError: a strategy or hook is neither ``None`` nor callable (e.g.
            ``wait=2`` for ``tenacity.wait_fixed(2)``), or ``reraise`` is not a bool.
    """
    for name, strategy in strategies.items():
        what, example = _EXAMPLES[name]
        if strategy is not None and not callable(strategy):
            raise TypeError(
                f"{name}: expected a tenacity {what} such as {example},"
                f" got {type(strategy).__name__} {strategy!r}"
            )
    require_instance("reraise", reraise, bool)


def _no_sleep(seconds: float) -> None:
    raise RuntimeError("osfutures waits on the monitor's timer; nothing sleeps")


class _Controller(tenacity.BaseRetrying):
    """tenacity's decision engine for one retrying operation, stepped with ``iter()``.

    Never called and never sleeping: :class:`_RetryRun` steps it and waits on the
    monitor's timer. Its statistics belong to the operation, whichever thread steps
    it (tenacity keeps them per thread, for a controller that runs in one thread).
    """

    def __init__(self, operation: str = "operation", **options: Any) -> None:
        super().__init__(sleep=_no_sleep, **options)
        self._operation = operation
        self._stats: dict[str, Any] = {}

    @property
    def statistics(self) -> dict[str, Any]:
        return self._stats

    def __str__(self) -> str:  # what tenacity's hooks call the operation
        return self._operation

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        raise TypeError("osfutures steps this controller with iter(); it is not called")


class _RetryRun(Generic[T]):
    """The state of one retrying operation, driven by its attempts' callbacks."""

    def __init__(
        self,
        start: Start[T],
        cleanup: Cleanup[T] | None,
        *,
        tout: float | None,
        timeout: float | None,
        policy: _Controller,
        before_sleep: Hook | None,
        retry_error_callback: Hook | None,
        reraise: bool,
        cleanup_last: bool,
        name: str,
        request: Any,
        monitor: Monitor,
    ) -> None:
        self.start = start
        self.cleanup = cleanup
        self.tout = tout
        self.policy = policy
        self.before_sleep = before_sleep
        self.retry_error_callback = retry_error_callback
        self.reraise = reraise
        self.cleanup_last = cleanup_last
        self.monitor = monitor
        self.future: OperationFuture[T] = OperationFuture(
            name=name, request=request, runner=monitor._runner
        )
        self.current: OperationFuture[T] | None = None
        self.policy_error: BaseException | None = None
        policy.begin()
        self.state = tenacity.RetryCallState(policy, fn=None, args=(), kwargs={})
        self.state.start_time = policy.statistics["start_time"] = monitor.clock.now()
        self.deadline = None if timeout is None else self.state.start_time + timeout
        self.future._add_internal_callback(self._on_outer_done)

    def first_attempt(self) -> None:
        self._before_attempt()  # a ``before`` hook that raises raises at the call
        self._arm_deadline()
        error = self._launch()
        if error is None:
            return
        decision = self._decide(error)
        if decision is None and self.policy_error is None:
            raise error  # rejected outright: raise at the call, as the plain call would
        self._after_failure(None, error, decision)

    def resume(
        self, attempts: list[Attempt], current: OperationFuture[T] | None, *, cleanup_pending: bool
    ) -> None:
        """Take over from the attempts another process made (see :func:`resume_retrying`)."""
        self.future.attempts.extend(attempts)
        self._arm_deadline()
        self._before_attempt()  # tenacity's step into the attempt under way (or just made)
        if current is not None:
            self._adopt(attempts[-1], current)
            return
        last = attempts[-1]
        assert last.error is not None  # checked by resume_retrying
        failed: OperationFuture[T] | None = None
        if cleanup_pending and last.resource_id is not None:
            # What cleanup needs of the failed attempt: its object's id and error.
            failed = OperationFuture(name=f"{self.future.name} attempt {last.number}")
            failed.resource_id = last.resource_id
            failed.set_exception(last.error)
        self._after_failure(failed, last.error, self._decide(last.error))

    def _arm_deadline(self) -> None:
        if self.deadline is not None and math.isfinite(self.deadline):
            # Attempts time out at the deadline themselves (their tout is cut to it);
            # this catches one whose future does not keep its tout.
            self.monitor.call_later(
                self.deadline - self.monitor.clock.now(),
                self._guarded(self._deadline_passed),
                owner=self.future,
            )

    def _before_attempt(self) -> None:
        """Step tenacity to its next attempt: it runs ``before`` and says DoAttempt."""
        action = self.policy.iter(self.state)
        if not isinstance(action, tenacity.DoAttempt):
            raise RuntimeError(f"tenacity answered {action!r} where an attempt was due")

    def _guarded(self, step: Callable[..., None]) -> Callable[..., None]:
        """``step`` that fails the operation's future instead of raising.

        Steps run in done callbacks and on the callback pool, where an exception is
        logged and forgotten: the future would stay pending for ever.
        """

        @functools.wraps(step)
        def run(*args: Any) -> None:
            try:
                step(*args)
            except BaseException as problem:
                self.future._set_exception_if_pending(problem)
                if not isinstance(problem, Exception):
                    raise

        return run

    def _launch(self) -> BaseException | None:
        """Start one attempt; return what ``start`` raised, if it did.

        Raises:
            TypeError: ``start`` returned something that is not a future.
        """
        outer = self.future
        attempt = Attempt(number=len(outer.attempts) + 1, started_at=self.monitor.clock.wall())
        outer.attempts.append(attempt)
        try:
            current = self.start(self._attempt_timeout())
        except Exception as error:
            attempt.ended_at = self.monitor.clock.wall()
            attempt.error = error
            return error
        if not isinstance(current, Future):
            raise TypeError(f"start: must return a future, returned {type(current).__name__}")
        self._adopt(attempt, current)
        return None

    def _adopt(self, attempt: Attempt, current: OperationFuture[T]) -> None:
        """Make ``current`` the running attempt (``attempt``, the last of the future's)."""
        outer = self.future
        self.current = current
        attempt.resource_id = outer.resource_id = getattr(current, "resource_id", None)
        outer.sync_res = getattr(current, "sync_res", None)
        if outer.request is None:  # what was asked is what the first attempt asked
            outer.request = getattr(current, "request", None)
        on_done = self._guarded(functools.partial(self._on_attempt_done, attempt))
        if isinstance(current, OperationFuture):
            outer._mirror_progress(current)
            current._add_internal_callback(on_done)
        else:
            current.add_done_callback(on_done)
        if outer.cancelled():  # cancelled while start() ran
            current.cancel()

    def _attempt_timeout(self) -> float | None:
        """The attempt's ``tout``, cut to what is left of the whole deadline."""
        if self.deadline is None:
            return self.tout
        left = max(self.deadline - self.monitor.clock.now(), 1e-3)
        return left if self.tout is None else min(self.tout, left)

    def _deadline_passed(self) -> None:
        current = self.current
        if self.future.done() or current is None or current.done():
            return  # between attempts: the next step sees the deadline
        timeout = self._out_of_time(None)
        if isinstance(current, OperationFuture):
            # Fail the attempt, not the operation: it is cleaned up as any attempt
            # that timed out, then the operation fails with the deadline.
            current._set_exception_if_pending(timeout)
        else:
            self.future._set_exception_if_pending(timeout)

    def _out_of_time(self, error: BaseException | None) -> OperationTimeout:
        outer = self.future
        now = self.monitor.clock.now()
        deadline = now if self.deadline is None else self.deadline
        out_of_time = OperationTimeout(
            f"{outer.name} ({len(outer.attempts)} attempts)",
            status=outer.status,
            elapsed=now - self.state.start_time,
            timeout=deadline - self.state.start_time,
        )
        out_of_time.__cause__ = error
        return out_of_time

    def _launch_later(self) -> None:
        if self.future.done():
            return
        if self.deadline is not None and self.monitor.clock.now() >= self.deadline:
            last = self.future.attempts[-1].error if self.future.attempts else None
            self.future._set_exception_if_pending(self._out_of_time(last))
            return
        self._before_attempt()
        error = self._launch()
        if error is not None:
            self._after_failure(None, error, self._decide(error))

    def _on_outer_done(self, outer: OperationFuture[T]) -> None:
        if outer.cancelled() and self.current is not None:
            self.current.cancel()

    def _on_attempt_done(self, attempt: Attempt, done: Future[T]) -> None:
        # On whichever thread resolved the attempt (often the monitor): only cheap
        # work here; the policy's hooks and the cleanup go to the callback pool.
        attempt.ended_at = self.monitor.clock.wall()
        if done.cancelled():
            self.future.cancel()
            return
        error = done.exception()
        if error is None:
            self.future._set_result_if_pending(passed_on(done))
            return
        attempt.error = error
        self.future._dispatch(
            self._guarded(lambda: self._after_failure(done, error, self._decide(error)))
        )

    def _decide(self, error: BaseException) -> float | None:
        """Give tenacity the failed attempt's outcome and step it once with ``iter()``.

        tenacity runs ``retry``, ``after``, ``wait`` and ``stop`` in its own order and
        keeps the state and statistics. Returns the pause before the next attempt,
        ``math.inf`` when the error is worth retrying but tenacity's stop says the
        attempts are exhausted, and ``None`` when it is not worth retrying at all,
        or when the policy itself raised (kept in ``policy_error``: the attempt is
        still cleaned up, then the future fails).
        """
        state = self.state
        state.attempt_number = len(self.future.attempts)
        state.outcome = tenacity.Future.construct(state.attempt_number, error, True)
        state.outcome_timestamp = self.monitor.clock.now()
        traceback = error.__traceback__
        try:
            action = self.policy.iter(state)
            pause = float(action) if isinstance(action, tenacity.DoSleep) else math.nan
            if not pause >= 0:
                raise ValueError(f"wait: returned {action!r}, not seconds >= 0")
        except Exception as problem:
            if problem is error:  # tenacity re-raises an outcome not worth retrying
                return None
            if isinstance(problem, tenacity.RetryError) and problem.last_attempt is state.outcome:
                return math.inf  # tenacity's stop: the attempts are exhausted
            problem.__cause__ = problem.__cause__ or error
            self.policy_error = problem
            return None
        finally:
            error.__traceback__ = traceback  # as the attempt left it, not tenacity's re-raise
        return pause

    def _after_failure(
        self, failed: Future[T] | None, error: BaseException, decision: float | None
    ) -> None:
        again = decision is not None and math.isfinite(decision)
        finish = self._guarded(functools.partial(self._next_step, decision, error, failed))
        if failed is not None and self.cleanup is not None and (again or self.cleanup_last):
            attempt = self.future.attempts[-1]
            try:
                removal = self.cleanup(failed)  # type: ignore[arg-type]
            except Exception as problem:
                attempt.cleanup_error = problem
                removal = None
            if removal is not None:
                removal.add_done_callback(
                    self._guarded(lambda done: self._after_cleanup(attempt, done, finish))
                )
                return
        finish()

    def _after_cleanup(
        self, attempt: Attempt, removal: Future[Any], finish: Callable[[], None]
    ) -> None:
        if removal.cancelled():
            attempt.cleanup_error = RuntimeError("cleanup was cancelled")
        else:
            attempt.cleanup_error = removal.exception()
        if attempt.cleanup_error is not None:
            log.warning(
                "osfutures: cleanup after attempt %d of %s failed: %s",
                attempt.number,
                self.future.name,
                attempt.cleanup_error,
            )
        finish()

    def _next_step(
        self, decision: float | None, error: BaseException, failed: Future[T] | None
    ) -> None:
        outer = self.future
        now = self.monitor.clock.now()
        if self.monitor._cancelling:  # shut down with cancel_futures: no relaunch
            outer.cancel()
            return
        # What a failed attempt left may still be there if its cleanup failed: a
        # relaunch would add another broken object beside it, attempt after attempt.
        stuck = failed is not None and outer.attempts[-1].cleanup_error is not None
        if self.policy_error is not None:
            outer._set_exception_if_pending(self.policy_error)
        elif decision is None:
            outer._set_exception_if_pending(error)
        elif not math.isfinite(decision) or stuck:
            self._give_up(error)
        elif self.deadline is not None and now + decision >= self.deadline:
            outer._set_exception_if_pending(self._out_of_time(error))
        else:
            # The pause is certain now: tenacity's before_sleep, then what its own
            # drivers do on DoSleep (prepare_for_next_attempt, sleep), the sleep
            # being the monitor's timer.
            if self.before_sleep is not None and not self._hook(self.before_sleep, error):
                return
            self.state.prepare_for_next_attempt()
            try:
                self.monitor.call_later(decision, self._guarded(self._launch_later), owner=outer)
            except Exception as problem:  # the monitor is shut down or crashed
                outer._set_exception_if_pending(problem)

    def _give_up(self, error: BaseException) -> None:
        """The attempts ran out: ``retry_error_callback``, ``reraise`` or RetriesExhausted."""
        outer = self.future
        callback = self.retry_error_callback
        if callback is not None:
            value: list[Any] = []
            if self._hook(lambda state: value.append(callback(state)), error):
                outer._set_result_if_pending(value[0])
        elif self.reraise:
            outer._set_exception_if_pending(error)
        else:
            exhausted = RetriesExhausted(outer.name, outer.attempts)
            exhausted.__cause__ = error
            outer._set_exception_if_pending(exhausted)

    def _hook(self, hook: Hook, error: BaseException) -> bool:
        """Run a tenacity hook on the state; if it raises, fail the operation with
        that (its ``__cause__`` the attempt's error) and return False."""
        try:
            hook(self.state)
        except Exception as problem:
            problem.__cause__ = problem.__cause__ or error
            self.future._set_exception_if_pending(problem)
            return False
        return True
