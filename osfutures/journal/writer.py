"""The writer thread: takes tracked operations off a queue and writes them in batches.

Futures enqueue their operation when something changes (a status, an attempt, the
end): an O(1) step under a lock, safe on the monitor thread. The writer thread, a
daemon of its own, waits a moment for more (``batch_delay``), takes up to
``max_batch`` operations and writes each one's *latest* row, all in one transaction:
an operation that changed five times since the last write costs one row.

A batch that cannot be written is kept and tried again later (after 0.5 s, then 1 s,
2 s, ... up to 30 s); the first failure logs one warning for the journal, and every
future of a failed batch gets ``future.journal_error`` (set back to ``None`` once its
row is written). Nothing here ever raises into an operation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from osfutures.future import OperationFuture
from osfutures.journal.errors import JournalError
from osfutures.journal.schema import Row
from osfutures.journal.store import Store
from osfutures.journal.tracking import Tracked

__all__ = ["THREAD_NAME", "Writer"]

log = logging.getLogger("osfutures.journal")

#: A pending operation: it, and its future (held until its row is written).
Pending = tuple[Tracked, OperationFuture[Any]]

#: The writer threads' name.
THREAD_NAME = "osfutures-journal"
#: The pause before retrying a failed batch: doubled after each failure up to the max.
RETRY_FIRST, RETRY_MAX = 0.5, 30.0


def set_journal_error(future: Any, error: BaseException | None) -> None:
    """Set ``future.journal_error`` (``OperationFuture`` declares it, ``None`` by
    default: a future is left untouched until an error comes)."""
    if error is not None or future.journal_error is not None:
        future.journal_error = error


class Writer:
    """Writes tracked operations to a store on a thread of its own.

    Args:
        store: where to write.
        batch_delay: seconds to wait after a change for more before writing.
        max_batch: the most operations in one transaction.
        name: the thread's name.
    """

    def __init__(
        self,
        store: Store,
        *,
        batch_delay: float = 0.05,
        max_batch: int = 500,
        name: str = THREAD_NAME,
    ) -> None:
        self.store = store
        self.batch_delay = batch_delay
        self.max_batch = max_batch
        self.name = name
        self._cond = threading.Condition()
        # Guarded by _cond: operation id -> the operation and its future (held here
        # until written), in the order first enqueued.
        self._pending: dict[str, Pending] = {}
        self._first_at = 0.0  # when the oldest pending change came
        self._busy = False  # a batch is being written
        self._urgent = 0  # flush() calls waiting: no batch delay, no retry pause
        self._closing = False
        self._closed_at = 0  # batches begun when close() was called
        self._closed = False
        self._thread: threading.Thread | None = None
        self._batches = 0  # batches begun
        self._failed_batch = 0  # the number of the last batch that failed
        self._retry_at = 0.0
        self._retry_pause = RETRY_FIRST
        # Failure reporting: one warning per journal, an info line on recovery.
        self._warned = False
        self.error: BaseException | None = None
        self.stats = {"batches": 0, "written": 0, "already_completed": 0, "failed_batches": 0}
        #: Called with each batch's rows before they are written (tests look here).
        self.on_batch: Callable[[list[Row]], None] | None = None

    # -- any thread -----------------------------------------------------------------

    def enqueue(self, op: Tracked, future: OperationFuture[Any]) -> bool:
        """Note that ``op`` (``future``'s operation) changed: its latest row will be
        written. Cheap and non-blocking (a lock held for a dict update); False once
        closed."""
        with self._cond:
            if self._closing:
                return False
            if not self._pending:
                self._first_at = time.monotonic()
            self._pending[op.op_id] = (op, future)
            if self._thread is None:
                self._start()
            if len(self._pending) == 1 or len(self._pending) >= self.max_batch:
                self._cond.notify_all()
        return True

    def flush(self, timeout: float | None) -> bool:
        """Write what is pending now, without the batch delay or a retry pause.

        Args:
            timeout: the most seconds to wait (``None``: as long as it takes).

        Returns:
            True once nothing is pending; False if a write failed meanwhile, or
            ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if self._thread is None or self._thread is threading.current_thread():
                return not self._pending
            start = self._batches
            self._urgent += 1
            self._cond.notify_all()
            try:
                while self._pending or self._busy:
                    if self._failed_batch > start or not self._thread.is_alive():
                        return False
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(left)
                return True
            finally:
                self._urgent -= 1

    def close(self, timeout: float | None) -> bool:
        """Write what is pending (one try), then stop the thread and close the store.

        Args:
            timeout: the most seconds to wait for the thread (``None``: as long as
                it takes).

        Returns:
            True if everything was written and the thread stopped within ``timeout``.
        """
        with self._cond:
            if self._closed:
                return not self._pending
            self._closing = True
            self._closed_at = self._batches
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning(
                    "osfutures journal %s: %d operation(s) not written within %s s at close",
                    self.store.target,
                    len(self._pending),
                    timeout,
                )
                return False
        with self._cond:
            self._closed = True
            unwritten = len(self._pending)
        self.store.close()
        if unwritten:
            log.info(
                "osfutures journal %s: closed with %d operation(s) unwritten",
                self.store.target,
                unwritten,
            )
        return not unwritten

    # -- the writer thread ------------------------------------------------------------

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _next_batch(self) -> list[Pending] | None:
        """Wait for work; the next batch, or None when closing with nothing left."""
        with self._cond:
            while True:
                # Closing: one more try for what is pending, then stop.
                if self._closing and (not self._pending or self._failed_batch > self._closed_at):
                    return None
                now = time.monotonic()
                hurry = self._closing or self._urgent > 0 or len(self._pending) >= self.max_batch
                if not self._pending:
                    self._cond.wait()
                elif not hurry and now < self._retry_at:
                    self._cond.wait(self._retry_at - now)
                elif not hurry and now < self._first_at + self.batch_delay:
                    self._cond.wait(self._first_at + self.batch_delay - now)
                else:
                    break
            batch = []
            for key in list(self._pending)[: self.max_batch]:
                batch.append(self._pending.pop(key))
            self._first_at = now
            self._busy = True
            self._batches += 1
            return batch

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            error = None
            try:
                self._write(batch)
            except Exception as problem:
                error = problem
            with self._cond:
                self._busy = False
                if error is None:
                    self._retry_pause = RETRY_FIRST
                    self._retry_at = 0.0
                else:
                    self._failed_batch = self._batches
                    self._retry_at = time.monotonic() + self._retry_pause
                    self._retry_pause = min(self._retry_pause * 2, RETRY_MAX)
                    for item in batch:  # kept for the retry, unless enqueued again since
                        self._pending.setdefault(item[0].op_id, item)
                self._cond.notify_all()
            if error is not None:
                self._failed(batch, error)

    def _write(self, batch: list[Pending]) -> None:
        rows: list[Row] = []
        futures: list[OperationFuture[Any]] = []
        for op, future in batch:
            try:
                rows.append(op.row(future))
            except Exception:
                # A bug, not the store's fault: this operation is not written.
                log.exception("osfutures journal: cannot make the row of %r", future)
                continue
            futures.append(future)
        if self.on_batch is not None:
            self.on_batch(rows)
        written = self.store.write(rows)
        self.stats["batches"] += 1
        for future, row, ok in zip(futures, rows, written, strict=True):
            if ok:
                self.stats["written"] += 1
            else:
                self.stats["already_completed"] += 1
                log.debug(
                    "osfutures journal %s: operation %s already completed there; not changed",
                    self.store.target,
                    row.op_id,
                )
            set_journal_error(future, None)
        if self.error is not None:
            log.info("osfutures journal %s: written again", self.store.target)
            self.error = None

    def _failed(self, batch: list[Pending], error: BaseException) -> None:
        self.stats["failed_batches"] += 1
        self.error = error
        for _, future in batch:
            set_journal_error(future, error)
        if not isinstance(error, JournalError):
            log.error("osfutures journal %s: writing failed", self.store.target, exc_info=error)
        self.warn(error)

    def warn(self, error: BaseException) -> None:
        """Log the journal's one warning (later failures are not logged again)."""
        self.error = error
        if isinstance(error, JournalError):
            problem = str(error)  # it names the journal
        else:
            problem = f"journal {self.store.target} cannot be written: {error!r}"
        if self._warned:
            log.debug("osfutures: still failing: %s", problem)
            return
        self._warned = True
        log.warning(
            "osfutures: %s. The operations go on being watched; their rows are retried"
            " until the journal can be written, and meanwhile their futures carry the"
            " error in .journal_error (this warning is not repeated)",
            problem,
        )
