"""The engine alone: ``python -m benchmarks.scale [--window SECONDS] N [N ...]``.

N pending futures on one :class:`osfutures.Monitor`, polled through one in-process
batch probe that answers at once (no HTTP). Three measurements, each on a fresh
monitor: memory per pending future (tracemalloc), the monitor thread's own CPU per
poll cycle (a cycle being one ``fetch_many`` call), with nothing changing and with 1%
of the operations changing every cycle, and resolutions per second when every
operation completes in the same cycle. Writes JSON lines like :mod:`benchmarks.client`.

The probe keeps one record (a dict) per item and answers with the same mapping every
cycle, as a listing that returns every asked item would: an unchanged item maps to
the very object it mapped to before, a changed one to a new record (its progress one
step further, still BUILD, so nothing resolves and N stays pending). Its own work is
a few microseconds per changed item, on the probe thread. Where the engine has
``Batch(changes_only=True)``, the CPU and resolution measurements run a second time
with a probe that answers that way (only what changed since its previous answer).
"""

from __future__ import annotations

import dataclasses
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
#: How long each CPU measurement watches the monitor cycle.
CPU_WINDOW = 3.0
#: The share of operations whose record changes every cycle in the second window.
CHANGING = 0.01


class InstantProbe:
    """A batch probe whose answer is in memory: a record per item, ``CHANGING`` of
    them replaced by a new one each cycle while ``changing`` is set.

    With ``changes_only`` it answers as a ``Batch(changes_only=True)`` probe does:
    each item the first time it is asked, then only the items whose record changed
    since its previous answer (every one when they all become ACTIVE).
    """

    def __init__(self, n: int, changes_only: bool = False) -> None:
        self.n = n
        self.changes_only = changes_only
        self.records: dict[Hashable, Any] = {
            i: {"status": "BUILD", "progress": 0} for i in range(n)
        }
        final = {"status": "ACTIVE", "progress": 100}  # one record, shared: read only
        self._final: dict[Hashable, Any] = {i: final for i in range(n)}
        self._answered: set[Hashable] = set()
        self.changing = 0.0
        self.changed = 0
        self._next = 0
        self.cycles = 0
        self.first_final: float | None = None
        self._cycled = threading.Condition()

    def fetch_many(self, ids: Sequence[Hashable]) -> Mapping[Hashable, Any]:
        records = self.records
        count = int(len(ids) * self.changing)
        chosen: list[Hashable] = []
        if count and records is not self._final:
            start = self._next % len(ids)
            chosen = list(ids[start : start + count])
            chosen += ids[: count - len(chosen)]
            for key in chosen:
                records[key] = {"status": "BUILD", "progress": records[key]["progress"] + 1}
            self._next = start + count
        answer = records
        if self.changes_only and records is not self._final:
            answer = {key: records[key] for key in chosen}
            if len(self._answered) < self.n:  # items never answered yet: all of them
                new = [key for key in ids if key not in self._answered]
                self._answered.update(new)
                answer.update((key, records[key]) for key in new)
        with self._cycled:
            if records is self._final and self.first_final is None:
                self.first_final = time.perf_counter()
            self.cycles += 1
            self.changed += count
            self._cycled.notify_all()
        return answer

    def fetch_one(self, item: Hashable) -> Any:
        return self.records[item]

    def finish_all(self) -> None:
        """From the next cycle on, every operation is ACTIVE."""
        self.records = self._final

    def wait_cycles(self, count: int, timeout: float = 300.0) -> None:
        with self._cycled:
            if not self._cycled.wait_for(lambda: self.cycles >= count, timeout):
                raise TimeoutError(f"the monitor made {self.cycles} of {count} poll cycles")


#: Whether this engine has ``Batch(changes_only=...)``.
HAS_CHANGES_ONLY = "changes_only" in {f.name for f in dataclasses.fields(osfutures.Batch)}


def _watch_all(monitor: osfutures.Monitor, probe: InstantProbe, interval: float) -> list[Any]:
    options = {"changes_only": True} if probe.changes_only else {}
    batch = osfutures.Batch(key="bench", fetch_many=probe.fetch_many, **options)
    return [
        monitor.watch_states(
            functools.partial(probe.fetch_one, i),
            target={"ACTIVE"},
            failure={"ERROR"},
            batch=batch.member(i),
            interval=interval,
            timeout=3600,
        )
        for i in range(probe.n)
    ]


def _monitor() -> osfutures.Monitor:
    # An in-process probe: no request rate to protect.
    return osfutures.Monitor(name="bench-monitor", max_probes_per_second=None)


def _monitor_cpu(monitor: osfutures.Monitor) -> float:
    thread = next(t for t in threading.enumerate() if t.name == monitor.name)
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def _process_cpu() -> float:
    return time.process_time()


def memory_per_future(n: int) -> float:
    probe = InstantProbe(n)
    monitor = _monitor()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # No poll is due for ten minutes: nothing in flight, only what pending costs.
        futures = _watch_all(monitor, probe, interval=600)
        if not monitor.wait_idle(timeout=300):
            raise TimeoutError("the monitor did not take the watches in")
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    monitor.shutdown(cancel_futures=True)
    del futures
    return (after - before) / n


def _window(monitor: osfutures.Monitor, probe: InstantProbe, seconds: float) -> dict[str, float]:
    """The monitor thread's CPU (and the process's) per cycle over one window."""
    cpu0, proc0, cycles0 = _monitor_cpu(monitor), _process_cpu(), probe.cycles
    time.sleep(seconds)
    cpu1, proc1, cycles1 = _monitor_cpu(monitor), _process_cpu(), probe.cycles
    cycles = max(1, cycles1 - cycles0)
    return {
        "cycles": cycles1 - cycles0,
        "monitor_ms": 1000 * (cpu1 - cpu0) / cycles,
        "process_ms": 1000 * (proc1 - proc0) / cycles,
    }


def cpu_and_resolution(
    n: int, window: float = CPU_WINDOW, changes_only: bool = False
) -> dict[str, Any]:
    probe = InstantProbe(n, changes_only)
    monitor = _monitor()
    started = time.perf_counter()
    futures = _watch_all(monitor, probe, interval=INTERVAL)
    submitted = time.perf_counter() - started
    # The first cycle lists every watch: all are in the monitor's tables by then.
    probe.wait_cycles(2)
    still = _window(monitor, probe, window)
    probe.changing = CHANGING
    probe.wait_cycles(probe.cycles + 1)  # the window starts with changes under way
    changed0 = probe.changed
    moving = _window(monitor, probe, window)
    changed = (probe.changed - changed0) / max(1, moving["cycles"])
    probe.changing = 0.0
    probe.wait_cycles(probe.cycles + 1)
    cpu1 = _monitor_cpu(monitor)
    probe.finish_all()
    done, pending = wait(futures, timeout=300)
    finished = time.perf_counter()
    cpu2 = _monitor_cpu(monitor)
    monitor.shutdown()
    assert probe.first_final is not None and not pending
    resolving = finished - probe.first_final
    return {
        "submit_per_s": n / submitted,
        "cycles": still["cycles"],
        "monitor_cpu_per_cycle_ms": still["monitor_ms"],
        "process_cpu_per_cycle_ms": still["process_ms"],
        "changing_share": CHANGING,
        "changed_per_cycle": changed,
        "changing_cycles": moving["cycles"],
        "monitor_cpu_per_changing_cycle_ms": moving["monitor_ms"],
        "process_cpu_per_changing_cycle_ms": moving["process_ms"],
        "resolve_s": resolving,
        "resolutions_per_s": len(done) / resolving,
        "monitor_cpu_resolving_ms": 1000 * (cpu2 - cpu1),
    }


def main(argv: list[str]) -> int:
    """``[--window SECONDS] N [N ...]``."""
    window = CPU_WINDOW
    if argv[:1] == ["--window"]:
        window, argv = float(argv[1]), argv[2:]
    sizes = [int(a) for a in argv]
    rows = []
    for n in sizes:
        emit({"event": "phase", "phase": f"{n} futures: memory", "total": 0})
        memory = memory_per_future(n)
        emit({"event": "phase", "phase": f"{n} futures: CPU and resolution", "total": 0})
        row = {"pending": n, "bytes_per_future": memory, **cpu_and_resolution(n, window)}
        if HAS_CHANGES_ONLY:
            emit({"event": "phase", "phase": f"{n} futures: changes_only", "total": 0})
            row["changes_only"] = cpu_and_resolution(n, window, changes_only=True)
        rows.append(row)
    emit({"event": "result", "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
