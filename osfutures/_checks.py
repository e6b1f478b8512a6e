"""Argument checks shared by the public calls: one wording for every message."""

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


def check_timeout(name: str, value: float | None, *, allow_none: bool = True) -> float | None:
    """Validate a timeout argument: ``None`` (if allowed), or a number > 0.

    ``math.inf`` is accepted and means "no deadline".

    Raises:
        TypeError: ``value`` is not a number.
        ValueError: ``value`` is NaN, zero or negative.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected seconds as a number, got {value!r}")
    if math.isnan(value) or value <= 0:
        raise ValueError(f"{name}: expected a number of seconds > 0 (or math.inf), got {value!r}")
    return float(value)


def check_count(name: str, value: Any, minimum: int = 1) -> int:
    """Validate an integer argument that must be at least ``minimum``.

    Raises:
        ValueError: ``value`` is not an integer >= ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: need an integer >= {minimum}, got {value!r}")
    return value
