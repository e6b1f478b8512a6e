"""Cluster mode: running processes adopt the operations of processes that ended.

A process that dies (or exits) leaves its unfinished operations in the journal. In
cluster mode (a PostgreSQL journal), every connection's process looks, soon after it
starts and then every :data:`ADOPT_EVERY` seconds, for the unfinished operations of
its cloud, region and project whose process is gone, and takes them over as
:func:`osfutures.resume` does (:func:`~osfutures.openstack.resuming.orphans`, then
:func:`~osfutures.openstack.resuming.take_over`): each owner's operations are claimed
first, so two processes never take the same ones; a retry goes on where it stood; a
cleanup under way is finished first; the outcome is written to the operation's row.
Nobody in the adopting process waits on those futures: the work is carried to its
end, and the journal says how it ended.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING

from osfutures.journal.errors import JournalUnavailable
from osfutures.openstack.resuming import TAKING, orphans, take_over

if TYPE_CHECKING:
    from osfutures.journal import Journal
    from osfutures.openstack.connection import AsyncConnection

__all__ = ["ADOPT_EVERY", "FIRST_LOOK", "Adopter", "adopter_for"]

log = logging.getLogger("osfutures.cluster")

#: Seconds between two looks for orphans.
ADOPT_EVERY = 30.0
#: Seconds after a process joins before its first look (what was left before it came).
FIRST_LOOK = 2.0


class Adopter:
    """The looks for orphans of one journal's connections, on a thread of its own.

    Args:
        journal: the journal (a PostgreSQL one).
    """

    def __init__(self, journal: Journal) -> None:
        self._journal = weakref.ref(journal)
        self._conns: weakref.WeakSet[AsyncConnection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._warned = False
        #: Operations taken over so far.
        self.adopted = 0

    def add(self, conn: AsyncConnection) -> None:
        """Look for ``conn``'s orphans too (the thread starts with the first)."""
        with self._lock:
            self._conns.add(conn)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="osfutures-adopter", daemon=True
                )
                self._thread.start()

    def adopt_now(self) -> int:
        """One look for every connection; returns how many operations were taken over.

        Raises:
            JournalUnavailable: the journal cannot be read.
        """
        journal = self._journal()
        if journal is None or journal.closed:
            return 0
        with self._lock:
            # One look per connection to a cloud, however often it was wrapped.
            conns = list({id(c.unwrap()): c for c in self._conns}.values())
        taken = 0
        for conn in conns:
            with TAKING:
                found = orphans(conn, journal)
                if not found:
                    continue
                resumed = take_over(conn, journal, found)
            taken += len(resumed.futures)
            if resumed.futures:
                log.warning(
                    "osfutures: cluster mode: took over %d operation(s) that a process which"
                    " ended left unfinished (journal %s)",
                    len(resumed.futures),
                    journal.target,
                )
        self.adopted += taken
        return taken

    def _run(self) -> None:
        wait = FIRST_LOOK
        while True:  # a daemon: it ends with the process, or with its journal
            time.sleep(wait)
            wait = ADOPT_EVERY
            journal = self._journal()
            if journal is None or journal.closed:
                return
            try:
                self.adopt_now()
            except JournalUnavailable as error:
                if not self._warned:  # the journal's own warning says the rest
                    self._warned = True
                    log.info("osfutures: cluster mode: no look for orphans: %s", error)
            except Exception:  # the thread goes on whatever one look does
                log.exception("osfutures: cluster mode: a look for orphans failed")


_adopters: weakref.WeakKeyDictionary[Journal, Adopter] = weakref.WeakKeyDictionary()
_adopters_lock = threading.Lock()


def adopter_for(journal: Journal) -> Adopter:
    """The adopter of ``journal`` (one per journal)."""
    with _adopters_lock:
        adopter = _adopters.get(journal)
        if adopter is None:
            adopter = _adopters[journal] = Adopter(journal)
        return adopter
