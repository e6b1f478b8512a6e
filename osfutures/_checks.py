"""Argument checks shared by the public calls: one wording for every message.

Each check names the argument as the caller wrote it and tests the type before the
range, so ``interval="5"`` is a TypeError about ``interval``, not an error from deep
inside whatever the value would have been handed to. A wrong type reads ``name:
expected <what>, got <type> <value>``; a value out of range says what it needs.

FakeCloud's argument checks (:mod:`osfutures.testing.fakecloud.checks`) build on these.
"""

from __future__ import annotations

import math
from typing import Any


def describe(value: Any) -> str:
    """Return how a message shows a value it refuses for its type: ``str '5'``."""
    return f"{type(value).__name__} {value!r}"


def require_callable(name: str, value: Any, *, optional: bool = False) -> None:
    """Raise TypeError naming ``name`` unless ``value`` is callable (or None if optional)."""
    if value is None and optional:
        return
    if not callable(value):
        wanted = "a callable or None" if optional else "a callable"
        raise TypeError(f"{name}: expected {wanted}, got {describe(value)}")


def require_instance(
    name: str,
    value: Any,
    kind: type | tuple[type, ...],
    *,
    optional: bool = False,
    what: str | None = None,
) -> None:
    """Raise TypeError naming ``name`` unless ``value`` is a ``kind`` (or None if optional).

    Args:
        name: the argument's name, as the caller wrote it.
        value: the value given.
        kind: the type, or types, it must be an instance of.
        optional: whether None is accepted too.
        what: what it must be, as the message words it (``a set of names``); the
            types' names when omitted.
    """
    if (value is None and optional) or isinstance(value, kind):
        return
    kinds = kind if isinstance(kind, tuple) else (kind,)
    wanted = what or " or ".join(k.__name__ for k in kinds)
    if optional:
        wanted += " or None"
    raise TypeError(f"{name}: expected {wanted}, got {describe(value)}")


def require_clock(name: str, value: Any) -> None:
    """Raise TypeError naming ``name`` unless ``value`` has what a
    :class:`~osfutures.Clock` has: ``now()``, ``wall()`` and ``wait()``."""
    missing = [m for m in ("now", "wall", "wait") if not callable(getattr(value, m, None))]
    if missing:
        raise TypeError(
            f"{name}: expected a Clock (with now(), wall() and wait()), got"
            f" {type(value).__name__} without {', '.join(m + '()' for m in missing)}"
        )


def check_number(name: str, value: Any) -> float:
    """Raise TypeError naming ``name`` unless ``value`` is a real number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {describe(value)}")
    return float(value)


def check_integer(name: str, value: Any) -> int:
    """Raise TypeError naming ``name`` unless ``value`` is an ``int`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an integer, got {describe(value)}")
    return value


def check_timeout(
    name: str, value: float | None, *, allow_none: bool = True, allow_inf: bool = True
) -> float | None:
    """Validate a duration argument: ``None`` (if allowed), or a number > 0.

    ``math.inf`` means "no deadline" and is accepted unless ``allow_inf`` is false.

    Raises:
        TypeError: ``value`` is not a number.
        ValueError: ``value`` is NaN, zero or negative (or infinite, if refused).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected seconds as a number, got {value!r}")
    if allow_inf:
        if math.isnan(value) or value <= 0:
            raise ValueError(
                f"{name}: expected a number of seconds > 0 (or math.inf), got {value!r}"
            )
    elif not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a finite number of seconds > 0, got {value!r}")
    return float(value)


def check_count(name: str, value: Any, minimum: int = 1) -> int:
    """Validate an integer argument that must be at least ``minimum``.

    Raises:
        TypeError: ``value`` is not an integer.
        ValueError: ``value`` is less than ``minimum``.
    """
    number = check_integer(name, value)
    if number < minimum:
        raise ValueError(f"{name}: need an integer >= {minimum}, got {value!r}")
    return number


def require_hashable(name: str, value: object) -> None:
    """Raise TypeError naming ``name`` unless ``value`` is hashable."""
    try:
        hash(value)
    except TypeError:
        raise TypeError(
            f"{name}: must be hashable (a string, number or tuple), got {type(value).__name__}"
        ) from None
