"""Where user callbacks run: a small pool, in order per future, never on the monitor.

The proof of concept ran callbacks on its monitor thread, so one slow callback stalled
every operation's polling. Here the monitor hands callbacks to a
:class:`CallbackRunner`: a bounded thread pool in which the callbacks of one future run
one after another, in the order they were scheduled (progress updates must not
overtake each other), while callbacks of different futures run side by side.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor

from osfutures._checks import check_count

__all__ = ["CallbackRunner", "run_logged"]

log = logging.getLogger(__name__)


def run_logged(fn: Callable[[], object]) -> None:
    """Call ``fn``; log what it raises instead of letting it escape."""
    try:
        fn()
    except Exception:
        log.exception("osfutures: callback %s raised", _name_of(fn))


def _name_of(fn: Callable[..., object]) -> str:
    # Not repr(fn): a functools.partial's repr shows its arguments, which may hold
    # a password or a token.
    while isinstance(fn, functools.partial):
        fn = fn.func
    return str(getattr(fn, "__qualname__", type(fn).__qualname__))


class CallbackRunner:
    """Runs callables on a bounded pool, serially per key.

    Args:
        max_workers: threads in the pool (created on demand).
        name: prefix of the worker threads' names.
        on_idle: called whenever the runner runs out of work.
    """

    def __init__(
        self,
        max_workers: int = 4,
        name: str = "osfutures-callback",
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        check_count("callback_workers", max_workers)
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix=name)
        self._on_idle = on_idle
        self._local = threading.local()
        self._lock = threading.Lock()
        # key -> callables waiting behind the one that is running for that key.
        self._queues: dict[Hashable, deque[Callable[[], object]]] = {}

    def submit(self, key: Hashable, fn: Callable[[], object]) -> None:
        """Schedule ``fn`` after everything already scheduled under ``key``."""
        with self._lock:
            queue = self._queues.get(key)
            if queue is not None:
                queue.append(fn)
                return
            self._queues[key] = deque([fn])
        try:
            self._pool.submit(self._drain, key)
        except RuntimeError:
            # The pool is shut down (its monitor is gone): late callbacks, such as
            # those of a future cancelled afterwards, still run, in the caller.
            self._drain(key)

    def in_worker(self) -> bool:
        """True when called from a callback this runner is running."""
        return getattr(self._local, "active", False)

    def is_idle(self) -> bool:
        """True when nothing is running or waiting."""
        with self._lock:
            return not self._queues

    def shutdown(self, wait: bool = True) -> None:
        """Stop the pool after what is scheduled has run (if ``wait``)."""
        self._pool.shutdown(wait=wait)

    def _drain(self, key: Hashable) -> None:
        self._local.active = True
        try:
            while True:
                with self._lock:
                    queue = self._queues[key]
                    if not queue:
                        del self._queues[key]
                        idle = not self._queues
                        break
                    fn = queue.popleft()
                run_logged(fn)
        finally:
            self._local.active = False
        if idle and self._on_idle is not None:
            self._on_idle()
