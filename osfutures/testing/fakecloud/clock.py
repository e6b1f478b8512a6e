"""A FakeCloud's view of time: scenario time and wall times, read from an engine clock.

FakeCloud takes any :class:`osfutures.Clock` (:class:`~osfutures.SystemClock` unless
told otherwise). :class:`ScenarioClock` turns it into what the services need: scenario
time, the seconds since the cloud was made, which drives every lazily computed state;
and wall time (for ``created``, ``updated``, token expiry), derived from scenario time,
so a test that advances a :class:`~osfutures.ManualClock` moves both together, and a
monitor on the same clock with them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ...clock import Clock, ManualClock


class ScenarioClock:
    """Scenario time and wall times of one cloud, read from an engine clock.

    Scenario time 0 is the clock's :meth:`~osfutures.Clock.now` when this is made; the
    epoch is the clock's wall time then.

    Args:
        source: the engine clock time comes from.

    Attributes:
        source: the engine clock time comes from.
        epoch: the wall time (seconds since the epoch) of scenario time 0.
    """

    def __init__(self, source: Clock) -> None:
        self.source = source
        self._origin = source.now()
        self.epoch = source.wall()

    @property
    def manual(self) -> bool:
        """Whether time moves only when :meth:`advance` is called."""
        return isinstance(self.source, ManualClock)

    def now(self) -> float:
        """Return the current scenario time in seconds."""
        return self.source.now() - self._origin

    def advance(self, seconds: float) -> float:
        """Advance the manual clock; return the new scenario time.

        Raises:
            TypeError: if the clock is not a :class:`~osfutures.ManualClock`, or
                ``seconds`` is not a number.
            ValueError: if ``seconds`` is negative or not finite (time never runs
                backwards).
        """
        if not isinstance(self.source, ManualClock):
            raise TypeError("advance() needs FakeCloud(clock=ManualClock())")
        return self.source.advance(seconds) - self._origin

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


def isotime(when: datetime, subsecond: bool = False) -> str:
    """Format a UTC time as the services do: ``2024-05-01T10:00:00Z``.

    Args:
        subsecond: add microseconds, as keystone's token times have them.
    """
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if subsecond else "%Y-%m-%dT%H:%M:%SZ"
    return when.astimezone(timezone.utc).strftime(pattern)


def parse_isotime(text: str) -> datetime:
    """Parse an ISO 8601 date-time; a missing offset means UTC.

    Raises:
        ValueError: if ``text`` is not a date-time.
    """
    if "T" not in text:
        raise ValueError(f"{text!r} is not a 'date-time'")
    # Python 3.10's fromisoformat knows no "Z".
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
