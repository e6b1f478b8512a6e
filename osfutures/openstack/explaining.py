"""Asking an OpenStack service what happened when its object alone cannot say.

Two failures leave no reason on the object:

* Nova undoes most failed actions (stop, start, resize, migrate, live migration):
  the server goes back to the state it had, its ``fault`` shown only for ERROR and
  DELETED servers. The one trace is the *instance action*, recorded under the request
  id of the call (``GET /servers/{id}/os-instance-actions/{request_id}``): its
  ``message`` is ``Error`` and the failed event's ``result`` is ``Error``.
* Cinder and Manila never put the reason on the volume or share: they publish *user
  messages* for it ("what went wrong when an asynchronous action fails").
* A stack's ``status_reason`` says a resource failed, not always which one (a nested
  stack's, a timeout's); the failed resource's *event* does.

The twins pass these as ``Monitor.watch(inquire=...)``: asked on a probe thread,
once, when an operation fails or stalls, never on every poll.
"""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from openstack import exceptions as os_exc
from openstack.compute.v2.server_action import ServerAction

from osfutures.watch import Explanation

__all__ = [
    "Inquiry",
    "Sent",
    "cinder_messages",
    "heat_events",
    "manila_messages",
    "nova_action",
    "sent_requests",
]

#: Asks the cloud about one operation: gets the last object fetched, returns an
#: :class:`~osfutures.Explanation` or None (``Monitor.watch(inquire=...)``).
Inquiry = Callable[[Any], "Explanation | None"]


@dataclass(frozen=True)
class Sent:
    """One request a call made, as its answer came back.

    Attributes:
        method: the HTTP method.
        path: the URL's path.
        status: the answer's HTTP status.
        request_id: the service's id of the request (``x-openstack-request-id``).
    """

    method: str
    path: str
    status: int
    request_id: str | None


_recording = threading.local()
_hooked: weakref.WeakSet[Any] = weakref.WeakSet()
_hooking = threading.Lock()


def _record(response: Any, *args: Any, **kwargs: Any) -> None:
    # A response hook of the connection's requests session: it records only while
    # its thread is inside sent_requests() (the twin's plain call).
    seen: list[Sent] | None = getattr(_recording, "seen", None)
    if seen is None:
        return
    headers = response.headers
    seen.append(
        Sent(
            response.request.method,
            urllib.parse.urlsplit(response.request.url).path,
            response.status_code,
            headers.get("x-openstack-request-id") or headers.get("x-compute-request-id"),
        )
    )


@contextlib.contextmanager
def sent_requests(conn: Any) -> Iterator[list[Sent]]:
    """Record the requests this thread makes through ``conn`` inside the block.

    The hook it installs on the connection's ``requests`` session (once) records
    nothing outside such a block, and never a body or a header other than the
    request id.
    """
    session = getattr(getattr(conn, "session", None), "session", None)
    seen: list[Sent] = []
    if session is not None and hasattr(session, "hooks"):
        with _hooking:
            if session not in _hooked:
                session.hooks["response"].append(_record)
                _hooked.add(session)
    outer = getattr(_recording, "seen", None)
    _recording.seen = seen
    try:
        yield seen
    finally:
        _recording.seen = outer


def nova_action(conn: Any, server_id: str, sent: Sequence[Sent]) -> Inquiry | None:
    """The inquiry of a server action: its instance action, found by the request id
    of the call's ``POST /servers/{id}/action``; None for a call that made none
    (a create or a delete, whose failures the server's own fault explains)."""
    request_id = next(
        (
            s.request_id
            for s in reversed(sent)
            if s.method == "POST" and s.path.endswith(f"/servers/{server_id}/action")
        ),
        None,
    )
    if request_id is None:
        return None
    proxy = conn.compute

    def inquire(last: Any) -> Explanation | None:
        response = proxy.get(
            f"/servers/{server_id}/os-instance-actions/{request_id}",
            microversion=ServerAction._get_microversion(proxy),
        )
        if response.status_code == 404:
            return None  # not recorded yet
        os_exc.raise_from_response(response)
        action = response.json().get("instanceAction") or {}
        return _failed_action(action)

    return inquire


def _failed_action(action: dict[str, Any]) -> Explanation | None:
    """An explanation if the instance action failed: its ``message`` (``Error``) or
    an event whose ``result`` is ``Error``; None while it runs or once it succeeded."""
    failed = [e for e in action.get("events") or () if e.get("result") == "Error"]
    message = action.get("message")
    if not failed and not message:
        return None
    name = action.get("action") or "action"
    what = ", ".join(f"{e.get('event')} {e.get('result')}" for e in failed) or message
    if failed and message and message != "Error":
        what = f"{what}: {message}"
    return Explanation(f"Nova's {name} action {action.get('request_id')} failed: {what}", action)


@dataclass(frozen=True)
class _Messages:
    """Where a service publishes its user messages, and how to ask for one
    object's, newest first."""

    service: str
    microversion: str
    about: str  # the filter naming the object
    sort: tuple[tuple[str, str], ...]
    label: str

    def inquiry(self, conn: Any, resource_id: str, sent: Sequence[Sent]) -> Inquiry:
        proxy = getattr(conn, self.service)
        params = {self.about: resource_id, **dict(self.sort)}

        def inquire(last: Any) -> Explanation | None:
            response = proxy.get("/messages", params=params, microversion=self.microversion)
            os_exc.raise_from_response(response)
            message = _of_this_call(response.json().get("messages") or [], proxy, sent)
            if message is None or not message.get("user_message"):
                return None
            return Explanation(
                f"{message['user_message']} ({self.label} {message.get('id')})", message
            )

        return inquire


def _of_this_call(
    messages: list[dict[str, Any]], proxy: Any, sent: Sequence[Sent]
) -> dict[str, Any] | None:
    """The newest message the call's own requests led to (the service keeps the
    request id of the call that started the work). A call made through another
    service (Nova attaching a volume calls Cinder with its own request id) cannot be
    matched: the newest message then."""
    mine = {s.request_id for s in sent if s.method != "GET" and s.request_id}
    matched = [m for m in messages if m.get("request_id") in mine]
    if matched:
        return matched[0]
    here = urllib.parse.urlsplit(str(proxy.get_endpoint())).path.rstrip("/")
    if any(s.path.startswith(here) for s in sent if s.method != "GET"):
        return None  # its messages are not about this call
    return messages[0] if messages else None


#: Cinder's (``GET /v3/{project}/messages``, filters from 3.5): volumes, snapshots,
#: backups.
cinder_messages = _Messages(
    "block_storage", "3.5", "resource_uuid", (("sort", "created_at:desc"),), "Cinder message"
).inquiry
#: Manila's (``GET /v2/messages``, from 2.37): shares.
manila_messages = _Messages(
    "shared_file_system",
    "2.37",
    "resource_id",
    (("sort_key", "created_at"), ("sort_dir", "desc")),
    "Manila message",
).inquiry


def heat_events(conn: Any, stack_id: str, sent: Sequence[Sent]) -> Inquiry:
    """The inquiry of a stack operation: the newest event of a failed resource
    (``GET /stacks/{name}/{id}/events?resource_status=FAILED``, newest first)."""
    proxy = conn.orchestration

    def inquire(last: Any) -> Explanation | None:
        name = getattr(last, "name", None) or stack_id
        response = proxy.get(
            f"/stacks/{name}/{stack_id}/events",
            params={"resource_status": "FAILED", "sort_dir": "desc"},
        )
        os_exc.raise_from_response(response)
        # The stack's own events are listed too, under its name: they name no resource.
        failed = [e for e in response.json().get("events") or () if e.get("resource_name") != name]
        if not failed:
            return None
        event = failed[0]
        what = f"failed resource {event.get('resource_name')}"
        physical = event.get("physical_resource_id")
        if physical:
            what += f" ({physical})"
        reason = event.get("resource_status_reason") or ""
        if reason and reason not in str(getattr(last, "status_reason", None) or ""):
            what += f": {reason}"
        return Explanation(what, event)

    return inquire
