"""The fleet scenario on a real cloud: ``python -m benchmarks.run --cloud NAME``.

``NAME`` is one of

* ``realnova:FILE.json``: the real Nova of ``../shared/realnova`` already serving, by
  the URL file its ``serve.py --url-file`` wrote. The harness cannot restart a Nova it
  did not start: every approach runs on that one Nova (its ``/_stats`` reset before
  each), which the report says.
* ``realnova:DIR``: the harness runs ``serve.py`` itself, a fresh Nova per approach
  with the same options and seed, its URL file, state and log in ``DIR``; it stops
  each (the process it started, by its id) once the approach is measured.
* anything else: a ``clouds.yaml`` entry (``--image`` names the image to boot;
  ``--flavor`` and ``--network`` as that cloud needs).

What is counted, and how:

* status requests: from the cloud's own counters when it has them (realnova's
  ``/_stats``, by route), else from the client's count of its own requests (a
  ``requests`` response hook, :mod:`benchmarks.wire`). The client always counts too,
  so the two can be compared where both exist.
* records and response bytes: the client's count (the hook parses each status answer
  once more and times itself; that CPU is taken out of the client's figure).
* detection latency: from the cloud's own timestamp of the transition to the moment
  the client learnt it, both wall clock times: ``OS-SRV-USG:launched_at`` for ACTIVE
  (Nova sets it just before the save that makes the server ACTIVE) and
  ``OS-SRV-USG:terminated_at`` for DELETED (set just before the instance is
  destroyed, so a deletion's latency includes the few milliseconds between the two).
  One listing with ``changes-since`` after the run (once the counters are read) gives
  them. On one machine both ends read one clock; against a remote cloud the clocks'
  offset adds to every latency.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shlex
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .analysis import outcomes, request_counts
from .host import ROOT, run_child
from .progress import Display
from .spec import RunSpec

#: Where ``../shared/realnova`` is, seen from the repository.
REALNOVA_DIR = ROOT.parent / "shared" / "realnova"
REALNOVA_PYTHON = "/tmp/realnova/venv/bin/python"
#: serve.py's options for the fleet: builds 2-8 s and deletions 1-3 s, as FakeCloud's.
REALNOVA_ARGS = (
    "--computes 2 --spawn-min 2 --spawn-max 8 --destroy-min 1 --destroy-max 3"
    " --seed 42 --fast-claims --worker-idle 1"
)
#: How long a fresh Nova may take to write its URL file, and to exit when asked.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


@dataclass
class RealNova:
    """``../shared/realnova``'s Nova: attached to by URL file, or run per approach."""

    path: Path
    python: str = REALNOVA_PYTHON
    serve: Path = REALNOVA_DIR / "serve.py"
    args: str = REALNOVA_ARGS
    flavor: str = "1"
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _info: dict[str, Any] = field(default_factory=dict, repr=False)

    name = "realnova"

    @property
    def managed(self) -> bool:
        return not self.path.name.endswith(".json")

    @property
    def url_file(self) -> Path:
        return self.path / "url.json" if self.managed else self.path

    def describe(self) -> dict[str, Any]:
        how = (
            f"a fresh Nova per approach: `serve.py {self.args}`"
            if self.managed
            else "one Nova, already serving, for every approach (its /_stats reset before each)"
        )
        return {"cloud": self.name, "how": how, "counted_by": "the cloud's /_stats"}

    @contextlib.contextmanager
    def session(self, display: Display) -> Iterator[dict[str, Any]]:
        """A Nova for one approach; yields the client's connection arguments."""
        if self.managed:
            self._start(display)
        try:
            self._info = json.loads(self.url_file.read_text())
            _get(self._info["stats_url"] + "/reset")
            url = self._info["compute_url"]
            yield {
                "connect": {
                    "auth_type": "admin_token",
                    "auth": {"endpoint": url, "token": "admin-token"},
                    "compute_endpoint_override": url,
                },
                "options": {
                    "image_id": self._info["default_image_id"],
                    "flavor_id": self.flavor,
                    "networks": "none",
                },
            }
        finally:
            if self.managed:
                self._stop()

    def stats(self) -> dict[str, Any] | None:
        """The requests Nova answered since the reset, as FakeCloud's stats shape them."""
        snapshot = json.loads(_get(self._info["stats_url"]))
        return {"requests": snapshot["by_route"], "bytes": {}, "total_bytes": 0}

    def _start(self, display: Display) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.url_file.unlink()
        command = [
            self.python,
            str(self.serve),
            *shlex.split(self.args),
            "--url-file",
            str(self.url_file),
            "--state-dir",
            str(self.path / "state"),
            "--log-file",
            str(self.path / "nova.log"),
        ]
        display.event({"event": "phase", "phase": "starting Nova", "total": 0})
        with open(self.path / "serve.out", "wb") as out:
            self._proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.url_file.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._stop()
                raise RuntimeError(f"serve.py did not start; see {self.path / 'serve.out'}")
            time.sleep(0.2)

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class CloudsYaml:
    """A clouds.yaml entry: the client counts its own requests."""

    name: str
    image: str | None = None
    flavor: str = "1"
    network: str = "none"

    def describe(self) -> dict[str, Any]:
        return {
            "cloud": self.name,
            "how": "one cloud for every approach",
            "counted_by": "the client (a requests response hook)",
        }

    @contextlib.contextmanager
    def session(self, display: Display) -> Iterator[dict[str, Any]]:
        if not self.image:
            raise SystemExit(f"--cloud {self.name}: say which image to boot with --image")
        yield {
            "connect": {"cloud": self.name},
            "options": {"image_id": self.image, "flavor_id": self.flavor, "networks": self.network},
        }

    def stats(self) -> dict[str, Any] | None:
        return None


Cloud = RealNova | CloudsYaml


def parse(value: str, image: str | None, flavor: str, network: str) -> Cloud:
    """The ``--cloud`` argument as a :data:`Cloud`."""
    if value.startswith("realnova:"):
        path = Path(value.split(":", 1)[1]).expanduser()
        nova = RealNova(path, flavor=flavor)
        nova.python = os.environ.get("REALNOVA_PYTHON", nova.python)
        nova.serve = Path(os.environ.get("REALNOVA_SERVE", str(nova.serve)))
        nova.args = os.environ.get("REALNOVA_ARGS", nova.args)
        if not nova.managed and not path.exists():
            raise SystemExit(f"--cloud {value}: no URL file at {path}")
        return nova
    return CloudsYaml(value, image, flavor, network)


def run_cloud_fleet(cloud: Cloud, spec: RunSpec, display: Display) -> dict[str, Any]:
    """One approach of the fleet scenario on ``cloud``."""
    import openstack

    with cloud.session(display) as access:
        started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
        client = run_child(
            "benchmarks.client",
            [spec.to_json()],
            display,
            stdin=json.dumps({**access["connect"], "options": access["options"]}),
        )
        own = cloud.stats()
        conn = openstack.connect(**access["connect"])
        try:
            transitions = _transitions(conn, started)
        finally:
            conn.close()
    wire = client.pop("wire")
    records = client.pop("records")
    counted = request_counts(own if own is not None else wire)
    mine = request_counts(wire)
    checked = outcomes(records, transitions, 0.0, spec.n, time_key="wall")
    client["cpu_s"] -= wire["hook_cpu_s"]
    return {
        "scenario": "fleet",
        "cloud": spec.cloud,
        "approach": spec.approach,
        "n": spec.n,
        "mix": spec.mix,
        **counted,
        "counted_by": "cloud" if own is not None else "client",
        "client_count": mine,
        # Records and bytes are the client's count, by the client's route names.
        "records": mine["records"],
        "status_route_records": mine["status_route_records"],
        "total_bytes": wire["total_bytes"],
        "hook_cpu_s": wire["hook_cpu_s"],
        **checked,
        **client,
    }


def _transitions(conn: Any, since: datetime.datetime) -> dict[str, Any]:
    """When each server of the run became ACTIVE (or ERROR) and DELETED, by the cloud."""
    history: dict[str, list[dict[str, Any]]] = {}
    stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    for server in conn.compute.servers(details=True, changes_since=stamp):
        steps = []
        if server.launched_at:
            steps.append({"state": "ACTIVE", "at": _epoch(server.launched_at)})
        elif server.status == "ERROR" and server.updated_at:
            steps.append({"state": "ERROR", "at": _epoch(server.updated_at)})
        if server.terminated_at:
            steps.append({"state": "DELETED", "at": _epoch(server.terminated_at)})
        history[server.id] = steps
    return {"server": history}


def _epoch(stamp: str) -> float:
    """Nova's naive UTC ``2026-01-01T10:00:00.123456`` (or with a zone) as epoch seconds."""
    when = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        text: str = answer.read().decode()
        return text
