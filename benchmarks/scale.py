"""The engine alone: ``python -m benchmarks.scale N``.

N pending futures on one :class:`osfutures.Monitor`, polled through one in-process
batch probe that answers at once (no HTTP). Three measurements, each on a fresh
monitor: memory per pending future (tracemalloc), the monitor thread's own CPU per
poll cycle, and resolutions per second when every operation completes in the same
cycle. Writes JSON lines like :mod:`benchmarks.client`.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
import tracemalloc
from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import wait
from typing import Any

import osfutures

from .client import emit

#: Fixed poll interval of the watched operations: many cycles in a few seconds.
INTERVAL = 0.2
#: How long the CPU measurement watches the monitor cycle.
CPU_WINDOW = 3.0


class InstantProbe:
    """A batch probe whose answer is in memory: every item has the same status."""

    def __init__(self) -> None:
        self.status = "BUILD"
        self.cycles = 0
        self.first_final: float | None = None
        self._cycled = threading.Condition()

    def fetch_many(self, ids: Sequence[Hashable]) -> Mapping[Hashable, Any]:
        answer = {key: {"status": self.status} for key in ids}
        with self._cycled:
            if self.status != "BUILD" and self.first_final is None:
                self.first_final = time.perf_counter()
            self.cycles += 1
            self._cycled.notify_all()
        return answer

    def fetch_one(self, item: Hashable) -> Any:
        return {"status": self.status}

    def wait_cycles(self, count: int, timeout: float = 120.0) -> None:
        with self._cycled:
            if not self._cycled.wait_for(lambda: self.cycles >= count, timeout):
                raise TimeoutError(f"the monitor made {self.cycles} of {count} poll cycles")


def _watch_all(n: int, interval: float) -> tuple[osfutures.Monitor, InstantProbe, list[Any]]:
    monitor = osfutures.Monitor(name="bench-monitor")
    probe = InstantProbe()
    batch = osfutures.Batch(key="bench", fetch_many=probe.fetch_many)
    futures = [
        monitor.watch_states(
            functools.partial(probe.fetch_one, i),
            target={"ACTIVE"},
            failure={"ERROR"},
            batch=batch.member(i),
            interval=interval,
            timeout=3600,
        )
        for i in range(n)
    ]
    return monitor, probe, futures


def _monitor_cpu(monitor: osfutures.Monitor) -> float:
    thread = next(t for t in threading.enumerate() if t.name == monitor.name)
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def memory_per_future(n: int) -> float:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # No poll is due for ten minutes: nothing in flight, only what pending costs.
        monitor, _, futures = _watch_all(n, interval=600)
        if not monitor.wait_idle(timeout=60):
            raise TimeoutError("the monitor did not take the watches in")
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    monitor.shutdown(cancel_futures=True)
    del futures
    return (after - before) / n


def cpu_and_resolution(n: int) -> dict[str, float]:
    started = time.perf_counter()
    monitor, probe, futures = _watch_all(n, interval=INTERVAL)
    submitted = time.perf_counter() - started
    # The first cycle lists every watch: all are in the monitor's tables by then.
    probe.wait_cycles(2)
    cpu0, cycles0 = _monitor_cpu(monitor), probe.cycles
    time.sleep(CPU_WINDOW)
    cpu1, cycles1 = _monitor_cpu(monitor), probe.cycles
    probe.status = "ACTIVE"
    done, pending = wait(futures, timeout=120)
    finished = time.perf_counter()
    cpu2 = _monitor_cpu(monitor)
    monitor.shutdown()
    assert probe.first_final is not None and not pending
    resolving = finished - probe.first_final
    return {
        "submit_per_s": n / submitted,
        "cycles": cycles1 - cycles0,
        "monitor_cpu_per_cycle_ms": 1000 * (cpu1 - cpu0) / max(1, cycles1 - cycles0),
        "resolve_s": resolving,
        "resolutions_per_s": len(done) / resolving,
        "monitor_cpu_resolving_ms": 1000 * (cpu2 - cpu1),
    }


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv]
    rows = []
    for n in sizes:
        emit({"event": "phase", "phase": f"{n} futures: memory", "total": 0})
        memory = memory_per_future(n)
        emit({"event": "phase", "phase": f"{n} futures: CPU and resolution", "total": 0})
        rows.append({"pending": n, "bytes_per_future": memory, **cpu_and_resolution(n)})
    emit({"event": "result", "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
