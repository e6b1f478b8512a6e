"""Argument checks shared by the public calls: one wording for every message.

Each check names the argument as the caller wrote it and tests the type before the
range, so ``interval="5"`` is a TypeError about ``interval``, not an error from deep
inside whatever the value would have been handed to.
"""

from __future__ import annotations

import math
from typing import Any


def require_callable(name: str, value: Any, *, optional: bool = False) -> None:
    """Raise TypeError naming ``name`` unless ``value`` is callable (or None if optional)."""
    if value is None and optional:
        return
    if not callable(value):
        wanted = "a callable or None" if optional else "a callable"
        raise TypeError(f"{name}: expected {wanted}, got {type(value).__name__} {value!r}")


def require_instance(name: str, value: Any, kind: type, *, optional: bool = False) -> None:
    """Raise TypeError naming ``name`` unless ``value`` is a ``kind`` (or None if optional)."""
    if (value is None and optional) or isinstance(value, kind):
        return
    wanted = f"{kind.__name__} or None" if optional else kind.__name__
    raise TypeError(f"{name}: expected {wanted}, got {type(value).__name__} {value!r}")


def check_number(name: str, value: Any) -> float:
    """Raise TypeError naming ``name`` unless ``value`` is a real number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    return float(value)


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
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: need an integer >= {minimum}, got {value!r}")
    return value
