"""The scenario clock: the one source of time for every resource in a FakeCloud.

Scenario time is seconds since the clock was made. It drives every lazily computed state;
wall time (for ``created``, ``updated``, token expiry) is derived from it, so a test that
advances a :class:`ManualClock` moves both together.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class Clock:
    """Base of the scenario clocks.

    :param epoch: the wall time (UNIX seconds) of scenario time 0; the current time when
        omitted.
    """

    def __init__(self, epoch: float | None = None) -> None:
        self.epoch = time.time() if epoch is None else epoch

    def now(self) -> float:
        """Return the current scenario time in seconds."""
        raise NotImplementedError

    def wall(self, at: float) -> datetime:
        """Return the UTC wall time of scenario time ``at``."""
        return datetime.fromtimestamp(self.epoch + at, tz=timezone.utc)

    def scenario_time(self, wall: datetime) -> float:
        """Return the scenario time of a wall time (naive values are taken as UTC).

        Wall times travel as text with microseconds at most, and float arithmetic on
        an epoch of 1.7e9 s is itself off by a few tenths of a microsecond: the
        result is rounded to the microsecond and moved one microsecond earlier,
        so a timestamp printed from scenario time ``t`` and read back is never after
        ``t`` (``changes-since`` of a server's own ``updated`` must include it).
        """
        if wall.tzinfo is None:
            wall = wall.replace(tzinfo=timezone.utc)
        return round(wall.timestamp() - self.epoch, 6) - 1e-6


class MonotonicClock(Clock):
    """Real time, from :func:`time.monotonic`, so wall clock jumps move no resource."""

    def __init__(self, epoch: float | None = None) -> None:
        super().__init__(epoch)
        self._origin = time.monotonic()

    def now(self) -> float:
        """Return the seconds elapsed since the clock was made."""
        return time.monotonic() - self._origin


class ManualClock(Clock):
    """A clock that moves only when a test moves it.

    :param epoch: as for :class:`Clock`.
    :param start: the initial scenario time.
    """

    def __init__(self, epoch: float | None = None, start: float = 0.0) -> None:
        super().__init__(epoch)
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        """Return the scenario time as last set."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new scenario time.

        :raises ValueError: if ``seconds`` is negative (time never runs backwards).
        """
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now


def isotime(when: datetime, subsecond: bool = False) -> str:
    """Format a UTC time as the services do: ``2024-05-01T10:00:00Z``.

    :param subsecond: add microseconds, as keystone's token times have them.
    """
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if subsecond else "%Y-%m-%dT%H:%M:%SZ"
    return when.astimezone(timezone.utc).strftime(pattern)


def parse_isotime(text: str) -> datetime:
    """Parse an ISO 8601 date-time; a missing offset means UTC.

    :raises ValueError: if ``text`` is not a date-time.
    """
    if "T" not in text:
        raise ValueError(f"{text!r} is not a 'date-time'")
    # Python 3.10's fromisoformat knows no "Z".
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
