"""The client process of one run: ``python -m benchmarks.client SPEC_JSON``.

It reads as JSON on stdin the arguments of ``openstack.connect`` for the cloud (the
FakeCloud the harness started, or a real cloud) with the creation ``options`` (image,
flavor, networks), runs one approach over the run's resources (create, wait until
ready, delete, wait until gone) and writes JSON lines on stdout: ``phase`` and
``progress`` events while it runs, then one ``result``. Its own process is measured,
so the cloud's CPU and memory stay out of the figures. On a real cloud it also counts
its own requests (:mod:`benchmarks.wire`).
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import openstack

from .approaches import APPROACH_RUNNERS, Recorder, Stage
from .spec import RunSpec
from .usage import Usage
from .wire import WireCount
from .workload import KINDS, Options, items_for

_out_lock = threading.Lock()


def emit(event: dict[str, Any]) -> None:
    line = json.dumps(event)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def run(spec: RunSpec, auth: dict[str, Any], options: Options) -> dict[str, Any]:
    conn = openstack.connect(**auth)
    wire = WireCount()
    if spec.cloud:
        wire.install(conn)
    # Authenticate and discover the endpoints before measuring: the same for all.
    services: tuple[str, ...] = ("compute", "block_storage", "image")
    if spec.cloud:
        services = tuple(dict.fromkeys(KINDS[kind].service for kind in spec.mix))
    for service in services:
        getattr(conn, service).get_endpoint()
    runner = APPROACH_RUNNERS[spec.approach]
    items = items_for(spec.mix)
    rec = Recorder(emit)
    with Usage() as usage:
        for stage in ("ready", "gone"):
            runner(conn, Stage(stage, options), items, rec, spec.hang_after)
    result = {**usage.result(), "records": rec.records}
    if spec.cloud:
        result["wire"] = wire.result()
    return result


def main(argv: list[str]) -> int:
    spec = RunSpec.from_json(argv[0])
    auth = json.loads(sys.stdin.read())
    options = auth.pop("options")
    emit({"event": "result", **run(spec, auth, options)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
