"""The journal: operations kept durably, in SQLite or PostgreSQL.

``osfutures.connect(..., journal="ops.db")`` (or ``OSFUTURES_JOURNAL=ops.db``) keeps one
row per operation the connection's twins start: what was asked (secrets redacted),
where (cloud, region, project), every status it went through, its attempts and how
it ended. A writer thread writes them in batches, off the monitor thread; a journal
that cannot be written never stops an operation. :class:`Journal` reads them back.

Modules: :mod:`~osfutures.journal.schema` (tables, versions, migrations),
:mod:`~osfutures.journal.sqlite` and :mod:`~osfutures.journal.postgres` (the stores),
:mod:`~osfutures.journal.writer` (the writer thread),
:mod:`~osfutures.journal.tracking` (one operation's row),
:mod:`~osfutures.journal.journal` (:class:`Journal`) and
:mod:`~osfutures.journal.twins` (``journal=`` of the OpenStack connections).
"""

from osfutures.journal.errors import (
    JournalError,
    JournalUnavailable,
    OperationNotFound,
    SchemaTooNew,
)
from osfutures.journal.journal import Journal
from osfutures.journal.schema import FINISHED, SCHEMA_VERSION, UNFINISHED
from osfutures.journal.tracking import Context

__all__ = [
    "FINISHED",
    "SCHEMA_VERSION",
    "UNFINISHED",
    "Context",
    "Journal",
    "JournalError",
    "JournalUnavailable",
    "OperationNotFound",
    "SchemaTooNew",
]
