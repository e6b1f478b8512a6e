"""The client's own count of its requests, for a real cloud that keeps none we can read.

A ``requests`` response hook on the connection's session sees every HTTP attempt the
client makes (retries included, as a cloud's own counter would), under a route
template (ids replaced by ``{id}``). For the status GETs it also counts the resource
records of the answer, which takes parsing the body once more; the hook measures the
CPU it spends (``time.thread_time`` in the thread that ran it), so that the report can
take it out of the client's CPU.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from .analysis import route_class

#: A UUID, or a long hex or numeric id, as one path segment.
_ID = re.compile(
    r"(?<=/)(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}|\d+)(?=/|$)"
)
#: The collections whose answers carry records, and the wrapper key of one record.
_COLLECTIONS = {"servers": "server", "volumes": "volume", "images": "image"}


def route_of(method: str, url: str) -> str:
    """``GET http://h/v2.1/servers/5f.../action`` -> ``GET /v2.1/servers/{id}/action``."""
    return f"{method} {_ID.sub('{id}', urlsplit(url).path)}"


def records_in(body: Any) -> int:
    """Resource records in a status answer: one for a show, one per item of a list."""
    if not isinstance(body, dict):
        return 0
    for plural, singular in _COLLECTIONS.items():
        if isinstance(body.get(plural), list):
            return len(body[plural])
        if isinstance(body.get(singular), dict):
            return 1
    return 1 if "id" in body and "status" in body else 0  # glance shows the image bare


class WireCount:
    """Requests, response bytes and status records counted in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self.records: Counter[str] = Counter()
        self.cpu_s = 0.0

    def install(self, conn: Any) -> None:
        """Count every request of openstacksdk connection ``conn`` from now on."""
        conn.session.session.hooks["response"].append(self._hook)

    def _hook(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        request = response.request
        route = route_of(request.method, request.url)
        records = 0
        if route_class(route) == "status":
            size = len(response.content or b"")
            if response.status_code < 400:
                try:
                    records = records_in(json.loads(response.content))
                except ValueError:
                    records = 0
        else:  # never read a body the caller may stream (an image download)
            size = int(response.headers.get("Content-Length") or 0)
        spent = time.thread_time() - started
        with self._lock:
            self.requests[route] += 1
            self.bytes[route] += size
            self.records[route] += records
            self.cpu_s += spent
        return response

    def result(self) -> dict[str, Any]:
        """The counts as :func:`benchmarks.analysis.request_counts` reads a cloud's."""
        with self._lock:
            return {
                "requests": dict(self.requests),
                "bytes": dict(self.bytes),
                "records": {k: v for k, v in self.records.items() if v},
                "total_bytes": sum(self.bytes.values()),
                "hook_cpu_s": self.cpu_s,
            }
