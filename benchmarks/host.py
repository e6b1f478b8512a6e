"""The harness side of a run: a fresh FakeCloud here, the client in its own process.

The client process is measured on its own (CPU, RSS, threads); FakeCloud's accounting
in this process gives the requests, bytes and state transition times.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from osfutures.testing import FakeCloud

from .analysis import outcomes, request_counts
from .progress import Display
from .spec import RunSpec

ROOT = Path(__file__).resolve().parent.parent
#: When the faults scenario expires every token: this long into the first wait.
TOKEN_EXPIRY_DELAY = 2.0


class ClientFailed(RuntimeError):
    """A client process exited without a result."""


def run_child(
    module: str,
    args: list[str],
    display: Display,
    *,
    stdin: str = "",
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run ``python -m module args``; relay its events; return its ``result`` event."""
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        result: dict[str, Any] | None = None
        for line in proc.stdout:
            event = json.loads(line)
            if event["event"] == "result":
                result = event
                continue
            display.event(event)
            if on_event is not None:
                on_event(event)
        code = proc.wait()
        if code != 0 or result is None:
            errors.seek(0)
            tail = errors.read()[-3000:]
            raise ClientFailed(f"{module} {args[:1]} exited with {code}:\n{tail}")
    result.pop("event")
    return result


def run_fleet(spec: RunSpec, display: Display) -> dict[str, Any]:
    """One approach on one FakeCloud scenario (fleet, mixed or faults)."""
    cloud = FakeCloud(spec.seed, scenario=spec.scenario_model(), faults=spec.fault_config())
    with cloud:
        origin = time.monotonic() - cloud.clock.now()
        options = {"image_id": cloud.backend("image").default_image_id}
        auth = {**cloud.auth_args(), "options": options}
        timers: list[threading.Timer] = []

        def on_event(event: dict[str, Any]) -> None:
            # Faults: every token expires in the middle of the first wait.
            if spec.faults and event.get("phase") == "ready: waiting":
                timer = threading.Timer(TOKEN_EXPIRY_DELAY, cloud.faults.expire_tokens)
                timer.start()
                timers.append(timer)

        try:
            client = run_child(
                "benchmarks.client",
                [spec.to_json()],
                display,
                stdin=json.dumps(auth),
                on_event=on_event,
            )
        finally:
            for timer in timers:
                timer.cancel()
        stats = cloud.stats()
    records = client.pop("records")
    checked = outcomes(records, stats["transitions"], origin, spec.n)
    return {
        "scenario": spec.scenario,
        "approach": spec.approach,
        "n": spec.n,
        "mix": spec.mix,
        **request_counts(stats),
        **checked,
        **client,
    }
