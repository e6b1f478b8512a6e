"""How long and how often the twins wait, per kind of object, when a call does not say.

Servers take minutes to build where a volume takes seconds: one timeout for every
kind is either too short for one or too long for the other. The defaults come, most
specific first, from the twin call's own ``timeout`` and ``interval``, from
``osfutures.wrap(conn, waiting=...)``, from the ``osfutures:`` section of the
cloud's clouds.yaml entry (as openstacksdk reads its own ``metrics:`` section), and
last from the monitor (an hour; :class:`~osfutures.PollInterval`)::

    clouds:
      mycloud:
        auth: ...
        osfutures:
          server: {timeout: 1800, interval: 5}
          default: {timeout: 600}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osfutures._checks import check_timeout
from osfutures.openstack.kinds import KINDS
from osfutures.policy import PollInterval

__all__ = ["DEFAULT", "Waiting", "waiting_for"]

#: The key of the defaults for every kind not named.
DEFAULT = "default"


@dataclass(frozen=True)
class Waiting:
    """A twin's deadline and polling interval, for calls that do not give them.

    Attributes:
        timeout: seconds until the deadline (``math.inf`` for none); ``None``: the
            next source's (in the end the monitor's ``default_timeout``).
        interval: seconds between polls, or a :class:`~osfutures.PollInterval`;
            ``None``: the next source's.

    Raises:
        TypeError, ValueError: a value is not seconds > 0 (or a PollInterval).
    """

    timeout: float | None = None
    interval: PollInterval | float | None = None

    def __post_init__(self) -> None:
        check_timeout("Waiting(timeout)", self.timeout)
        if self.interval is not None:
            PollInterval.coerce(self.interval, PollInterval(), name="Waiting(interval)")

    def over(self, fallback: Waiting) -> Waiting:
        """This, with what it leaves as ``None`` taken from ``fallback``."""
        return Waiting(
            self.timeout if self.timeout is not None else fallback.timeout,
            self.interval if self.interval is not None else fallback.interval,
        )


def waiting_for(
    cloud_config: Mapping[str, Any], given: Mapping[str, Waiting] | None
) -> dict[str, Waiting]:
    """The waiting of each kind: ``given`` (from code) over the ``osfutures:`` section
    of the cloud's configuration, each kind's over its ``default``.

    Args:
        cloud_config: the connection's configuration (``conn.config.config``).
        given: per kind name (or ``"default"``), from ``wrap(waiting=...)``.

    Raises:
        ValueError: a kind is unknown, or a value is out of range; the message names
            where it was written (``osfutures.server.timeout`` for clouds.yaml).
        TypeError: a value is not a number, or ``given`` holds something other than
            :class:`Waiting`.
    """
    known = sorted({*KINDS, DEFAULT})
    merged = {kind: Waiting() for kind in known}
    section = cloud_config.get("osfutures") or {}
    if not isinstance(section, Mapping):
        raise TypeError(f"osfutures: expected a mapping of kind to settings, got {section!r}")
    for kind, settings in section.items():
        merged[_known(kind, known, "osfutures.")] = _from_config(kind, settings)
    for kind, waiting in (given or {}).items():
        if not isinstance(waiting, Waiting):
            raise TypeError(f"waiting[{kind!r}]: expected Waiting(...), got {waiting!r}")
        name = _known(kind, known, "waiting: ")
        merged[name] = waiting.over(merged[name])
    default = merged.pop(DEFAULT)
    return {kind: waiting.over(default) for kind, waiting in merged.items()}


def _known(kind: Any, known: list[str], where: str) -> str:
    if kind not in known:
        raise ValueError(f"{where}{kind}: not a kind osfutures waits on; it knows {known}")
    return str(kind)


def _from_config(kind: str, settings: Any) -> Waiting:
    if not isinstance(settings, Mapping):
        raise TypeError(f"osfutures.{kind}: expected timeout and interval, got {settings!r}")
    unknown = set(settings) - {"timeout", "interval"}
    if unknown:
        raise ValueError(f"osfutures.{kind}: unknown settings {sorted(unknown)}")
    # openstacksdk hands the values of a cloud's configuration over as strings.
    values = {
        key: _seconds(f"osfutures.{kind}.{key}", value, allow_inf=key == "timeout")
        for key, value in settings.items()
    }
    return Waiting(values.get("timeout"), values.get("interval"))


def _seconds(where: str, value: Any, *, allow_inf: bool) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: expected seconds as a number, got {value!r}") from None
    check_timeout(where, seconds, allow_none=False, allow_inf=allow_inf)
    return seconds
