"""A progress line on stderr, so that a long benchmark never looks hung.

On a terminal the line is redrawn twice a second; otherwise (CI logs) a line is
printed at every phase and every ten seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO


class Display:
    """Shows which run of how many is going, its phase, its progress and the time."""

    def __init__(self, runs: int, stream: TextIO | None = None) -> None:
        self._runs = runs
        self._stream = stream or sys.stderr
        self._live = self._stream.isatty()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._index = 0
        self._title = ""
        self._phase = "starting"
        self._done = 0
        self._total = 0
        self._run_started = self._started
        self._printed = 0.0
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="bench-progress", daemon=True)
        self._ticker.start()

    def start(self, title: str) -> None:
        with self._lock:
            self._index += 1
            self._title = title
            self._phase, self._done, self._total = "starting", 0, 0
            self._run_started = time.monotonic()
        self._show(force=True)

    def event(self, event: dict[str, Any]) -> None:
        with self._lock:
            if event["event"] == "phase":
                self._phase, self._done, self._total = event["phase"], 0, event["total"]
            elif event["event"] == "progress":
                self._done = event["done"]
        self._show(force=event["event"] == "phase")

    def finish(self, summary: str) -> None:
        with self._lock:
            line = f"[{self._index}/{self._runs}] {self._title}: {summary}"
        self._write(line, final=True)

    def close(self) -> None:
        self._stop.set()
        self._ticker.join()
        total = time.monotonic() - self._started
        self._write(f"all {self._runs} runs done in {total:.0f} s", final=True)

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._show(force=False)

    def _show(self, *, force: bool) -> None:
        now = time.monotonic()
        if not self._live and not force and now - self._printed < 10:
            return
        with self._lock:
            if not self._title:
                return
            count = f" {self._done}/{self._total}" if self._total else ""
            line = (
                f"[{self._index}/{self._runs}] {self._title}: {self._phase}{count}"
                f" | run {now - self._run_started:.0f} s, total {now - self._started:.0f} s"
            )
        self._printed = now
        self._write(line, final=False)

    def _write(self, line: str, *, final: bool) -> None:
        with self._lock:
            if self._live:
                end = "\n" if final else ""
                self._stream.write(f"\r{line}\033[K{end}")
            else:
                self._stream.write(line + "\n")
            self._stream.flush()
