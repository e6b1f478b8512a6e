"""One tracked operation: its durable id, its context, and its row as it is now.

A :class:`Tracked` is made when a journal starts tracking a future. The future's own
callbacks feed it (status changes, the end); the writer thread turns it into a
:class:`~osfutures.journal.schema.Row` when it writes, so the row is always the
operation's latest state (several changes between two writes cost one row).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from osfutures.future import OperationFuture, ProgressUpdate
from osfutures.journal.schema import Row

__all__ = ["MAX_STATUSES", "PROCESS", "Context", "Tracked"]

log = logging.getLogger("osfutures.journal")

#: The most status changes kept per operation (the oldest are dropped beyond it).
MAX_STATUSES = 1000

_HOST = socket.gethostname()
#: This process among those of its host, beside its pid: containers that share a host
#: name also share pids (each its own pid 1); a forked child keeps this but not its pid.
PROCESS = uuid.uuid4().hex


class Context:
    """Where an operation runs: the cloud, region and project, for every row.

    The project id may not be known when the first operation is tracked without
    asking the cloud; ``project`` is then asked once, on the writer thread (where a
    request delays no caller), and what it answers is kept.

    Args:
        cloud: the cloud's name (its clouds.yaml entry), or ``None``.
        region: the region's name, or ``None``.
        project_id: the project's id, or ``None``.
        project: called (once, on the writer thread) for the project's id while
            ``project_id`` is ``None``; what it raises is logged and the id stays
            ``None``.
    """

    def __init__(
        self,
        cloud: str | None = None,
        region: str | None = None,
        project_id: str | None = None,
        project: Callable[[], str | None] | None = None,
    ) -> None:
        self.cloud = cloud
        self.region = region
        self.project_id = project_id
        self._project = project if project_id is None else None
        self._lock = threading.Lock()

    def resolve(self) -> None:
        """Ask for the project id if it is still unknown (once; on the writer thread)."""
        with self._lock:
            lookup, self._project = self._project, None
            if lookup is None or self.project_id is not None:
                return
            try:
                found = lookup()
            except Exception as error:
                log.debug("osfutures journal: could not learn the project id: %s", error)
                return
            self.project_id = found if isinstance(found, str) else None

    def as_dict(self) -> dict[str, str | None]:
        """The context as the rows have it."""
        return {"cloud": self.cloud, "region": self.region, "project_id": self.project_id}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class Tracked:
    """One operation a journal tracks.

    It holds no strong reference to its future (a journal maps futures to their
    operations weakly); whoever asks for its row passes the future.

    Args:
        future: the operation's future.
        context: its cloud, region and project.
        watch: how it is watched (twin, timeout, retry options): JSON-able values
            that a later resume needs.
        earlier: the operation's row, when ``future`` continues it (a resumed
            operation): its id, start, statuses and resumes carry on.
        op_id: a new operation's id, made beforehand (default: a new UUID).
    """

    def __init__(
        self,
        future: OperationFuture[Any],
        context: Context,
        watch: Mapping[str, Any] | None = None,
        earlier: Mapping[str, Any] | None = None,
        *,
        op_id: str | None = None,
    ) -> None:
        self.op_id = str(earlier["op_id"]) if earlier is not None else op_id or str(uuid.uuid4())
        self.context = context
        self.watch = dict(watch or {})
        self.statuses: list[dict[str, Any]] = list(earlier["statuses"]) if earlier else []
        #: When the operation started: the future's creation, or the row's it continues.
        self.created_at: float | None = None if earlier is None else earlier["created_at"]
        #: Each time a process took the operation over: when, where.
        self.resumed: list[dict[str, Any]] = list(earlier.get("resumed") or []) if earlier else []
        if earlier is not None:
            self.resumed.append({"at": time.time(), "host": _HOST, "pid": os.getpid()})
        #: A retrying operation's cleanup of its latest failed attempt, while known.
        self.cleanup: dict[str, Any] | None = None
        self.ended_at: float | None = None
        # A retrying operation's latest attempt: its token re-watches the operation.
        self._attempt: weakref.ref[OperationFuture[Any]] | None = None
        #: The last change the journal saw that the record's own ``updated_at``
        #: does not show (tracking started, an attempt started or ended, the end).
        self.touched_at = time.time()
        self._note(future)

    def _note(self, future: OperationFuture[Any]) -> None:
        """Keep ``future``'s state as a status change, unless it is the last one kept."""
        last = self.statuses[-1] if self.statuses else {}
        now = (future.status, future.progress)
        if now != (None, None) and now != (last.get("status"), last.get("progress")):
            self.statuses.append(
                {"status": future.status, "progress": future.progress, "at": future.updated_at}
            )

    def hand_over(self, stand_in: OperationFuture[Any], future: OperationFuture[Any]) -> None:
        """``future`` goes on with the operation ``stand_in`` started (its start kept)."""
        if self.created_at is None:
            self.created_at = stand_in.created_at
        self._note(future)
        self.touch()

    def observe(self, update: ProgressUpdate) -> None:
        """Keep one status change (called from the future's progress callback)."""
        self.statuses.append(
            {"status": update.status, "progress": update.progress, "at": update.at}
        )
        if len(self.statuses) > MAX_STATUSES:
            del self.statuses[0]

    def touch(self, attempt: OperationFuture[Any] | None = None) -> None:
        """Note a change the record's ``updated_at`` does not show (an attempt, which
        is the latest if given)."""
        if attempt is not None:
            self._attempt = weakref.ref(attempt)
        self.touched_at = time.time()

    def cleaning(self, attempt: int, resource_id: str | None, outcome: str = "running") -> None:
        """Note the state of the cleanup after attempt number ``attempt``: ``running``,
        then ``succeeded`` or ``failed``."""
        self.cleanup = {"attempt": attempt, "resource_id": resource_id, "outcome": outcome}
        self.touched_at = time.time()

    def end(self) -> None:
        """Note that the future is done (from its done callback)."""
        self.ended_at = self.touched_at = time.time()

    def _token(self, future: OperationFuture[Any]) -> str | None:
        """The token that re-watches the operation: the future's own, else (a retrying
        operation's) its latest attempt's."""
        attempt = self._attempt() if self._attempt is not None else None
        return _token_of(future) or _token_of(attempt)

    def row(self, future: OperationFuture[Any]) -> Row:
        """The operation's row as ``future`` (its future) is now (on the writer thread)."""
        self.context.resolve()
        record = future.record()
        request = record.get("request")
        service = call = None
        arguments: Mapping[str, Any] = {}
        if isinstance(request, Mapping):
            service, call = _text(request.get("service")), _text(request.get("call"))
            found = request.get("arguments")
            arguments = found if isinstance(found, Mapping) else {}
        resource_id = _text(record.get("resource_id"))
        ended_at = self.ended_at
        if ended_at is None and future.done():  # its done callback has yet to run
            ended_at = time.time()
        changes = [record["updated_at"], self.touched_at, ended_at or 0.0]
        for attempt in record["attempts"]:
            changes += [attempt["started_at"], attempt["ended_at"] or 0.0]
        outcome = str(record["outcome"])
        document: dict[str, Any] = {
            "op_id": self.op_id,
            "local_id": record["id"],
            **self.context.as_dict(),
            "service": service,
            "call": call,
            "resource_name": _resource_name(future, record, call, arguments),
            "result_id": resource_id if outcome == "succeeded" else None,
            "token": self._token(future),
            "watch": self.watch,
            "cleanup": self.cleanup,
            "resumed": list(self.resumed),
            "host": _HOST,
            "pid": os.getpid(),
            "process": PROCESS,
        }
        document.update((k, v) for k, v in record.items() if k != "id")
        if self.created_at is not None:
            document["created_at"] = self.created_at
        document.update(
            statuses=list(self.statuses),
            updated_at=max(changes),
            ended_at=ended_at,
            written_at=time.time(),
        )
        return Row(
            op_id=self.op_id,
            local_id=record["id"],
            name=_text(record.get("name")),
            cloud=self.context.cloud,
            region=self.context.region,
            project_id=self.context.project_id,
            service=service,
            call=call,
            resource_id=resource_id,
            resource_name=document["resource_name"],
            status=_text(record.get("status")),
            outcome=outcome,
            created_at=document["created_at"],
            updated_at=document["updated_at"],
            ended_at=ended_at,
            record=document,
        )


def _token_of(future: OperationFuture[Any] | None) -> str | None:
    """The future's continuation token (``conn.resume(token)``), if it has one: an
    OpenStack twin's future has."""
    make = getattr(future, "token", None)
    if make is None or getattr(future, "_resume_state", None) is None:
        return None
    try:
        token = make()
    except ValueError:
        return None
    return token if isinstance(token, str) else None


def _resource_name(
    future: OperationFuture[Any],
    record: Mapping[str, Any],
    call: str | None,
    arguments: Mapping[str, Any],
) -> str | None:
    """The watched object's name: the result's (``create_server``), the one asked for,
    or the one the twin named the operation after (``delete_server web-1``)."""
    name = _text(getattr(future.sync_res, "name", None)) or _text(arguments.get("name"))
    if name is not None:
        return name
    label, resource_id = record.get("name"), record.get("resource_id")
    if call and isinstance(label, str) and label.startswith(f"{call} "):
        rest = label[len(call) + 1 :]
        return rest if rest and rest != resource_id else None
    return None
