"""User messages: what went wrong when an asynchronous action failed.

Neither cinder nor manila puts the reason for a failed action on the resource: the part of
the service that fails it records a *user message* for the project, tagged with the id of
the request that started the action (the request context travels from the API to the
scheduler and the volume or share service). Manila's messages are a port of cinder's
(same table, same ``message_ttl`` of 30 days, same reaping), so both keep them in a
:class:`MessageLog`; each frontend renders its own shape.

A fake operation knows at its start whether and when it fails, so it posts its message
then, with the failure's scenario time; reads show only the messages whose time has come.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import NotFound
from ..service import Principal

#: Seconds a message is kept: the ``message_ttl`` default of cinder.message.api and of
#: manila.message.api.
MESSAGE_TTL = 2592000.0
#: The one level the services write for failures.
ERROR = "ERROR"

#: The columns both services' messages tables have (with ``deleted``, of differing types).
COMMON_COLUMNS = frozenset(
    [
        "id",
        "project_id",
        "message_level",
        "request_id",
        "resource_type",
        "action_id",
        "detail_id",
        "expires_at",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted",
    ]
)

#: An entry of a service's ``message_field.Action`` or ``Detail``: its id and its text.
Field = tuple[str, str]


@dataclass(frozen=True)
class Failure:
    """What a service's message says of one kind of failed operation.

    Attributes:
        resource_type: the ``message_field.Resource`` of the failed resource.
        action: the ``message_field.Action`` the service was carrying out.
        detail: the ``message_field.Detail`` it reports.
    """

    resource_type: str
    action: Field
    detail: Field


@dataclass(frozen=True)
class UserMessage:
    """One posted message.

    Attributes:
        id: its id.
        project_id: the project of the request context that posted it.
        request_id: the id of the request that started the failed operation.
        resource_id: the failed resource (cinder's ``resource_uuid``).
        failure: what the message says.
        at: the scenario time of the failure: the message's ``created_at``.
        level: its ``message_level``.
    """

    id: str
    project_id: str
    request_id: str
    resource_id: str
    failure: Failure
    at: float
    level: str = ERROR

    @property
    def expires_at(self) -> float:
        """When the services may reap it: ``created_at`` plus ``message_ttl``."""
        return self.at + MESSAGE_TTL


class MessageLog:
    """The user messages of one service of one cloud."""

    def __init__(self) -> None:
        self._messages: dict[str, UserMessage] = {}
        self._posted = 0

    def post(
        self, failure: Failure, *, project_id: str, request_id: str, resource_id: str, at: float
    ) -> UserMessage:
        """Record the message of a failure due at scenario time ``at``; return it.

        Args:
            failure: what the message says.
            project_id: the project of the request that started the operation.
            request_id: that request's id.
            resource_id: the resource that fails.
            at: when it fails; the message is invisible before.
        """
        self._posted += 1
        message = UserMessage(
            derived_uuid(f"message/{resource_id}/{self._posted}"),
            project_id,
            request_id,
            resource_id,
            failure,
            at,
        )
        self._messages[message.id] = message
        return message

    def withdraw(self, resource_id: str, since: float) -> None:
        """Forget the messages of ``resource_id`` due at ``since`` or later: the steps that
        were to fail it then have been replaced, so the failure never happens."""
        for message in list(self._messages.values()):
            if message.resource_id == resource_id and message.at >= since:
                del self._messages[message.id]

    def visible(self, principal: Principal, now: float) -> list[UserMessage]:
        """Return the messages due by ``now`` that ``principal`` may read, oldest first."""
        return [m for m in self._messages.values() if _readable(m, principal, now)]

    def get(self, principal: Principal, message_id: str, now: float) -> UserMessage:
        """Return one message ``principal`` may read as of ``now``.

        Raises:
            NotFound: worded as both services word MessageNotFound.
        """
        message = self._messages.get(message_id)
        if message is None or not _readable(message, principal, now):
            raise NotFound(f"Message {message_id} could not be found.")
        return message

    def remove(self, principal: Principal, message_id: str, now: float) -> None:
        """Delete one message ``principal`` may read (the services soft-delete the row,
        which then reads as absent).

        Raises:
            NotFound: as :meth:`get`.
        """
        del self._messages[self.get(principal, message_id, now).id]


def base_row(message: UserMessage, time: Callable[[float], str | None]) -> dict[str, Any]:
    """Return :data:`COMMON_COLUMNS` but ``deleted`` as a row holds them.

    Args:
        time: prints a scenario time as the service prints its timestamps.
    """
    failure = message.failure
    return {
        "id": message.id,
        "project_id": message.project_id,
        "message_level": message.level,
        "request_id": message.request_id,
        "resource_type": failure.resource_type,
        "action_id": failure.action[0],
        "detail_id": failure.detail[0],
        "expires_at": time(message.expires_at),
        "created_at": time(message.at),
        "updated_at": None,
        "deleted_at": None,
    }


T = TypeVar("T")


def ordered(
    items: Iterable[T], keys: Sequence[tuple[str, bool]], column: Callable[[T, str], Any]
) -> list[T]:
    """Sort as a database sorts rows by ``(column, descending)`` keys, the first key first.

    Args:
        column: reads one column of an item's row.

    Null sorts before any value in ascending order, as MySQL sorts it.
    """
    result = list(items)
    # Stable sorts, least significant key first, give the multi-key order.
    for name, descending in reversed(keys):
        result.sort(key=_sort_key(column, name), reverse=descending)
    return result


def derived_uuid(key: str) -> str:
    """Return a UUID4-shaped id derived from ``key``.

    For ids the fake makes up on the side (messages, manila's share instances): drawn from
    the cloud's seeded generator, they would shift the id of every resource made after.
    """
    digest = hashlib.sha256(key.encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _readable(message: UserMessage, principal: Principal, now: float) -> bool:
    """Whether the message is due by ``now`` and ``principal`` may read it: a user its
    project's, an admin any (the services' ``project_only`` queries spare admins)."""
    due = message.at <= now
    return due and (principal.is_admin or message.project_id == principal.project_id)


def _sort_key(column: Callable[[T, str], Any], name: str) -> Callable[[T], tuple[bool, Any]]:
    """Return the sort key of one column; its flag puts nulls first."""

    def key(item: T) -> tuple[bool, Any]:
        value = column(item, name)
        return (value is not None, value)

    return key
