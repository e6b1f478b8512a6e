"""The client process of one run: ``python -m benchmarks.client SPEC_JSON``.

It reads the cloud's address and credentials as JSON on stdin, connects to the
FakeCloud the harness started, runs one approach over the run's
resources (create, wait until ready, delete, wait until gone) and writes JSON lines
on stdout: ``phase`` and ``progress`` events while it runs, then one ``result``. Its
own process is measured, so the cloud's CPU and memory stay out of the figures.
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
from .workload import items_for

_out_lock = threading.Lock()


def emit(event: dict[str, Any]) -> None:
    line = json.dumps(event)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def run(spec: RunSpec, auth: dict[str, Any], image_id: str) -> dict[str, Any]:
    conn = openstack.connect(**auth)
    # Authenticate and discover the endpoints before measuring: the same for all.
    for service in ("compute", "block_storage", "image"):
        getattr(conn, service).get_endpoint()
    runner = APPROACH_RUNNERS[spec.approach]
    items = items_for(spec.mix)
    rec = Recorder(emit)
    with Usage() as usage:
        for stage in ("ready", "gone"):
            runner(conn, Stage(stage, image_id), items, rec, spec.hang_after)
    return {**usage.result(), "records": rec.records}


def main(argv: list[str]) -> int:
    spec = RunSpec.from_json(argv[0])
    auth = json.loads(sys.stdin.read())
    image_id = auth.pop("image_id")
    emit({"event": "result", **run(spec, auth, image_id)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
