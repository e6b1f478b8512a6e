"""What a client process costs: CPU seconds, peak RSS, and the threads it keeps alive."""

from __future__ import annotations

import re
import resource
import threading
import time
from collections import Counter
from typing import Any

SAMPLE_EVERY = 0.02


def thread_role(name: str) -> str:
    """Group thread names: ``ThreadPoolExecutor-0_7`` -> ``pool``, (d)'s
    ``bench-waiter-7`` -> ``waiter``, ... ."""
    if name == "MainThread":
        return "main"
    if name.startswith("ThreadPoolExecutor"):
        return "pool"
    if name.startswith("bench-waiter"):
        return "waiter"
    if name.startswith("osfutures-monitor"):
        return re.sub(r"[_-]\d+$", "", name).replace("osfutures-monitor", "monitor", 1)
    return "other"


class Usage:
    """Measures a window of the current process; a sampler thread counts threads.

    Use as a context manager; :meth:`result` gives the figures afterwards.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="bench-sampler", daemon=True)
        self.peak_threads = 0
        self.peak_roles: Counter[str] = Counter()

    def __enter__(self) -> Usage:
        self._rss_start = _maxrss_mb()
        self._cpu_start = _cpu()
        self._wall_start = time.monotonic()
        self._sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.monotonic() - self._wall_start
        self.cpu = _cpu() - self._cpu_start
        self._stop.set()
        self._sampler.join()

    def _sample(self) -> None:
        me = threading.current_thread()
        while not self._stop.wait(SAMPLE_EVERY):
            threads = [t for t in threading.enumerate() if t is not me]
            if len(threads) > self.peak_threads:
                self.peak_threads = len(threads)
                self.peak_roles = Counter(thread_role(t.name) for t in threads)

    def result(self) -> dict[str, Any]:
        return {
            "wall_s": self.wall,
            "cpu_s": self.cpu,
            "rss_start_mb": self._rss_start,
            "rss_peak_mb": _maxrss_mb(),
            "threads_peak": self.peak_threads,
            "threads_by_role": dict(self.peak_roles),
        }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _maxrss_mb() -> float:
    # Linux reports kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
