"""What the journal raises.

Writing never raises into the operations it records: a journal that cannot be
written logs one warning and marks the affected futures (``future.journal_error``).
These exceptions come from opening a journal (:meth:`Journal.open
<osfutures.journal.Journal.open>`, ``journal=`` of :func:`osfutures.connect`) and
from reading one.
"""

from __future__ import annotations

from osfutures.errors import OsFuturesError

__all__ = ["JournalError", "JournalUnavailable", "OperationNotFound", "SchemaTooNew"]


class JournalError(OsFuturesError):
    """Base class of the journal's exceptions."""


class JournalUnavailable(JournalError):
    """The journal's store cannot be reached or written now (a locked, read-only or
    full SQLite file, a removed directory, a PostgreSQL server that refuses or does
    not answer). Its ``__cause__`` is the driver's error."""


class SchemaTooNew(JournalError):
    """The journal was written by a newer osfutures: its schema version is higher
    than any this code knows, so it is neither read nor written.

    Attributes:
        found: the schema version in the journal.
        known: the newest version this code knows.
    """

    def __init__(self, target: str, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            f"journal {target} has schema version {found}, newer than this osfutures knows"
            f" (up to {known}): upgrade osfutures to use it, or point journal= elsewhere"
        )


class OperationNotFound(JournalError, KeyError):
    """No operation with this id is in the journal.

    Attributes:
        op_id: the id asked for.
    """

    def __init__(self, target: str, op_id: str) -> None:
        self.op_id = op_id
        super().__init__(f"journal {target} has no operation {op_id!r}")

    def __str__(self) -> str:  # KeyError's would show the message in quotes
        return str(self.args[0])
