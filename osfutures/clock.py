"""Time as the engine sees it, injectable so tests are deterministic and fast.

The monitor never calls :func:`time.monotonic` or sleeps by itself: it asks its clock
for the time and waits on its own condition through the clock. With
:class:`ManualClock` time only moves when a test calls :meth:`ManualClock.advance`,
which also wakes every monitor waiting on that clock.

FakeCloud (:mod:`osfutures.testing`) takes the same clocks: give a monitor and a cloud
one :class:`ManualClock` and the cloud's resources and the monitor's deadlines move
together, without real waiting.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from typing import Protocol

from osfutures._checks import check_number

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """What the engine needs of time."""

    def now(self) -> float:
        """Seconds on a monotonic scale (only differences are meaningful)."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch, for records a human reads."""
        ...

    def wait(self, condition: threading.Condition, timeout: float | None) -> None:
        """Wait on ``condition`` (whose lock the caller holds) for ``timeout`` seconds
        of this clock's time, or until notified. ``None`` waits for a notification."""
        ...


class SystemClock:
    """The real clock: :func:`time.monotonic` and real waiting."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def wait(self, condition: threading.Condition, timeout: float | None) -> None:
        if timeout is not None and timeout > threading.TIMEOUT_MAX:
            timeout = threading.TIMEOUT_MAX
        condition.wait(timeout)


class ManualClock:
    """A clock that moves only when told to; for tests.

    One clock can drive a :class:`~osfutures.Monitor` and a
    :class:`~osfutures.testing.FakeCloud` together: :meth:`advance` moves the cloud's
    resources and the monitor's deadlines alike.

    Args:
        start: the initial reading of :meth:`now`.
        wall_start: the wall time (seconds since the epoch) that corresponds to
            ``start``; the current time when omitted, so that wall times (a FakeCloud's
            token expiry, which clients compare with their own time) look current.
    """

    def __init__(self, start: float = 0.0, wall_start: float | None = None) -> None:
        self._now = start
        self._wall_offset = (time.time() if wall_start is None else wall_start) - start
        self._lock = threading.Lock()
        self._waiting: weakref.WeakSet[threading.Condition] = weakref.WeakSet()

    def now(self) -> float:
        with self._lock:
            return self._now

    def wall(self) -> float:
        return self.now() + self._wall_offset

    def wait(self, condition: threading.Condition, timeout: float | None) -> None:
        # Waiting "timeout seconds" of manual time means waiting until advance() or a
        # notification: the caller re-reads now() and decides whether to wait again.
        with self._lock:
            self._waiting.add(condition)
        condition.wait()

    def advance(self, seconds: float) -> float:
        """Move time forward, wake everything waiting on this clock; return the new time.

        Raises:
            TypeError: ``seconds`` is not a number.
            ValueError: ``seconds`` is negative or not finite.
        """
        check_number("seconds", seconds)
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds: need a finite number >= 0, got {seconds!r}")
        with self._lock:
            self._now += seconds
            now = self._now
            waiting = list(self._waiting)
        for condition in waiting:
            with condition:
                condition.notify_all()
        return now
