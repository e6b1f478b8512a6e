"""What one process's listing saw, as cluster mode hands it to the others (see
:mod:`osfutures.journal.sharing`, which writes and reads them; this module needs no
database driver)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["GONE", "LISTED", "NOT_LISTED", "SEEN", "Observation", "Reading", "topic_of"]

#: What an observation says of its object: listed (its record is the object as the
#: listing showed it), gone (a complete listing no longer shows it, or it was listed
#: deleted), or no longer listed without a word why (its own GET must say).
LISTED: Final = "listed"
GONE: Final = "gone"
NOT_LISTED: Final = "not_listed"
#: Every value of :attr:`Observation.seen`.
SEEN = (LISTED, GONE, NOT_LISTED)


@dataclass(frozen=True, slots=True)
class Observation:
    """What a listing saw of one object.

    Attributes:
        resource_id: the object's id.
        seen: :data:`LISTED`, :data:`GONE` or :data:`NOT_LISTED`.
        record: the object as listed (JSON-able; never secrets: listings hold none),
            or ``None``.
        seq: its number (0 until written).
    """

    resource_id: str
    seen: str
    record: Any = None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Reading:
    """What a follower read of a share.

    Attributes:
        observations: the observations newer than the cursor it gave, and those of
            the ids it asked for by name.
        cursor: the highest number read (give it to the next read).
        listings: how many listings the share has had (0: none yet).
    """

    observations: list[Observation]
    cursor: int
    listings: int


def topic_of(share: str) -> str:
    """A share's name in notifications: short, the same in every process."""
    return hashlib.blake2b(share.encode(), digest_size=9).hexdigest()
