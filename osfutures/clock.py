"""Time as the engine sees it, injectable so tests are deterministic and fast.

The monitor never calls :func:`time.monotonic` or sleeps by itself: it asks its clock
for the time and waits on its own condition through the clock. With
:class:`ManualClock` time only moves when a test calls :meth:`ManualClock.advance`,
which also wakes every monitor waiting on that clock.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from typing import Protocol

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

    Args:
        start: the initial reading of :meth:`now`.
        wall_start: the wall time that corresponds to ``start``.
    """

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
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

    def advance(self, seconds: float) -> None:
        """Move time forward and wake everything waiting on this clock.

        Raises:
            ValueError: ``seconds`` is negative or not finite.
        """
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"advance(seconds): need a finite number >= 0, got {seconds!r}")
        with self._lock:
            self._now += seconds
            waiting = list(self._waiting)
        for condition in waiting:
            with condition:
                condition.notify_all()
