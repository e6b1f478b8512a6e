"""Argument checks for FakeCloud's public constructors, built on :mod:`osfutures._checks`.

A bad argument is refused where it is given, never later on a server thread. Each check
takes the argument's name as the caller wrote it and checks the type before the range,
in the engine's words: a wrong type is ``expected ...``, a value out of range says what
it needs::

    error_rate: expected a number, got str '2'
    error_rate: need a probability 0 <= p <= 1, got 2

A :class:`Need` also says what a command-line option needs, so the command line refuses
``--error-rate 2`` in the same words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..._checks import check_integer, check_number, describe, require_instance


@dataclass(frozen=True)
class Need:
    """What one number argument must be: a number (or an integer), in a range.

    Attributes:
        text: what it needs, as the error message words it (``a probability 0 <= p
            <= 1``).
        accepts: whether a value of the right type is in range; NaN never is.
        integer: whether it must be an ``int`` (else an ``int`` or a ``float``).
    """

    text: str
    accepts: Callable[[float], bool]
    integer: bool = False

    @property
    def kind(self) -> str:
        """The type it needs, as the error message words it."""
        return "an integer" if self.integer else "a number"

    def check(self, name: str, value: Any) -> Any:
        """Return ``value`` if it is what is needed.

        Args:
            name: the argument's name, for the message.

        Raises:
            TypeError: if it is not a number (an ``int`` when ``integer``); a bool is
                not taken for one.
            ValueError: if it is out of range.
        """
        number = check_integer(name, value) if self.integer else check_number(name, value)
        if not self.accepts(number):
            raise ValueError(f"{name}: need {self.text}, got {value!r}")
        return value


#: keystoneauth takes a token with less than this many seconds left for expired and
#: fetches a new one first (``BaseIdentityPlugin.MIN_TOKEN_LIFE_SECONDS``), so a shorter
#: token lifetime makes every request re-authenticate.
KEYSTONEAUTH_MIN_TOKEN_LIFE = 120

PROBABILITY = Need("a probability 0 <= p <= 1", lambda v: 0 <= v <= 1)
SECONDS = Need("seconds >= 0", lambda v: 0 <= v < math.inf)
POSITIVE_SECONDS = Need("seconds > 0", lambda v: 0 < v < math.inf)
PORT = Need("a port 0-65535 (0 picks a free one)", lambda v: 0 <= v <= 65535, integer=True)
AT_LEAST_ONE = Need("an integer >= 1", lambda v: v >= 1, integer=True)
AT_LEAST_ZERO = Need("an integer >= 0", lambda v: v >= 0, integer=True)
ANY_INTEGER = Need("an integer", lambda v: True, integer=True)


def duration(name: str, value: Any) -> Any:
    """Return ``value`` if it is seconds >= 0 or a ``(low, high)`` pair of them.

    Raises:
        TypeError: if it is neither a number nor a tuple of two numbers.
        ValueError: if a number is negative, or ``low > high``.
    """
    if isinstance(value, tuple) and len(value) == 2:
        low = SECONDS.check(f"{name}[0]", value[0])
        high = SECONDS.check(f"{name}[1]", value[1])
        if low > high:
            raise ValueError(f"{name}: need low <= high, got {value!r}")
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return SECONDS.check(name, value)
    raise TypeError(
        f"{name}: expected seconds or a (low, high) tuple of seconds, got {describe(value)}"
    )


def exceeds_one(*chances: float) -> bool:
    """Whether chances of outcomes that exclude each other add up to more than 1 (by
    more than float rounding: 0.1 + 0.2 + 0.3 + 0.4 is 1)."""
    return sum(chances) > 1 + 1e-9


def rates_sum(names: tuple[str, ...], values: tuple[float, ...]) -> None:
    """Check that the chances of outcomes that exclude each other add up to 1 at most.

    Raises:
        ValueError: if they add up to more.
    """
    if exceeds_one(*values):
        raise ValueError(f"{' + '.join(names)}: need a sum <= 1, got {sum(values):g}")


def regex(name: str, value: Any) -> str | None:
    """Return ``value`` if it is None or a regular expression that compiles.

    Raises:
        TypeError: if it is not a string.
        ValueError: if it does not compile, with the reason.
    """
    if value is None:
        return None
    require_instance(name, value, str, what="a regular expression")
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"{name}: need a regular expression, got {value!r} ({error})") from None
    return str(value)
