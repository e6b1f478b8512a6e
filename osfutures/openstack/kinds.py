"""The kinds of OpenStack objects osfutures watches, and how to read each one.

A :class:`Kind` says, for one resource type, which proxy and calls fetch and delete
it, which attribute is its state, where the cloud explains a failure, and how many of
them can be listed at once (:mod:`osfutures.openstack.batching`). The operation specs
(:mod:`osfutures.openstack.specs`) refer to kinds by name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from openstack import exceptions as os_exc

from osfutures.openstack import batching, explaining
from osfutures.watch import GONE, Gone, Reader

__all__ = ["KINDS", "Kind"]


def _nova_fault(server: Any) -> str | None:
    fault = getattr(server, "fault", None) or {}
    message = fault.get("message")
    if not message:
        return None
    code = fault.get("code")
    return f"{message} (fault code {code})" if code else str(message)


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda obj: getattr(obj, name, None)


def _nothing(obj: Any) -> None:
    return None


def _settled_server(server: Any) -> bool:
    # Nova keeps the status of the state it left until the task ends (a rebooting
    # server reads REBOOT, but a stopping one reads ACTIVE until it is SHUTOFF):
    # only a server with no task in progress has reached its state.
    return getattr(server, "task_state", None) in (None, "")


@dataclass(frozen=True)
class Kind:
    """How to watch one kind of OpenStack resource.

    Attributes:
        name: the kind's name in the spec table (``"server"``).
        service: the connection attribute of its proxy (``"compute"``).
        get: the proxy method that fetches one by id.
        status: the attribute holding its state.
        deleted_states: states that mean it no longer exists (Nova lists deleted
            servers as ``DELETED`` under ``changes-since``).
        progress: reads its progress (a percentage, or the nearest equivalent).
        fault: reads the cloud's explanation of a failure.
        settled: true once no task is in progress on it, so a state read right
            after an action is not mistaken for the action's outcome; ``None`` for
            a kind that shows no task (every state it shows counts).
        result: makes what the caller gets from what its lister returned (a listed
            server's record is built into a ``Server`` only then), or ``None``.
        lister: makes the batch fetcher for this kind from (connection, service,
            get), or ``None`` when it can only be fetched one by one.
        inquiry: makes the ``inquire`` of one operation from (connection, object
            id, the requests its call made): how the service explains a failure
            the object does not show (:mod:`osfutures.openstack.explaining`), or
            ``None``.
    """

    name: str
    service: str
    get: str
    status: str = "status"
    deleted_states: frozenset[str] = frozenset()
    progress: Callable[[Any], Any] = _nothing
    fault: Callable[[Any], str | None] = _nothing
    settled: Callable[[Any], bool] | None = None
    result: Callable[[Any], Any] | None = None
    lister: Callable[[Any, str, str], batching.Lister] | None = None
    inquiry: Callable[[Any, str, Sequence[explaining.Sent]], explaining.Inquiry | None] | None = (
        None
    )

    @functools.cached_property
    def reader(self) -> Reader:
        """How the monitor reads this kind's status, progress, fault and settling."""
        return Reader(
            status=self.status,
            progress=self.progress,
            fault=self.fault,
            settled=self.settled,
            result=self.result,
        )

    def state(self, obj: Any) -> str:
        """The object's state, lowercased (states compare case-insensitively)."""
        return str(getattr(obj, self.status, "")).lower()

    def fetch(self, conn: Any, resource_id: str) -> Any:
        """The object as the cloud has it now, or :data:`~osfutures.GONE`."""
        try:
            obj = getattr(getattr(conn, self.service), self.get)(resource_id)
        except os_exc.NotFoundException:
            return GONE
        return self.present(obj)

    def present(self, obj: Any) -> Any:
        """``obj``, or :class:`~osfutures.Gone` with it if its state says it is
        deleted (Nova's ``DELETED`` row: what a deletion resolves with)."""
        return Gone(obj) if self.state(obj).upper() in self.deleted_states else obj


def _kinds(*kinds: Kind) -> dict[str, Kind]:
    return {kind.name: kind for kind in kinds}


KINDS: dict[str, Kind] = _kinds(
    Kind(
        "server",
        "compute",
        "get_server",
        deleted_states=frozenset({"DELETED", "SOFT_DELETED"}),
        progress=_attr("progress"),
        fault=_nova_fault,
        settled=_settled_server,
        result=batching.as_server,
        lister=batching.ChangesSinceLister,
        inquiry=explaining.nova_action,
    ),
    Kind(
        "volume",
        "block_storage",
        "get_volume",
        lister=batching.ProjectLister.factory("volumes", details=True),
        inquiry=explaining.cinder_messages,
    ),
    Kind(
        "snapshot",
        "block_storage",
        "get_snapshot",
        progress=_attr("progress"),
        lister=batching.ProjectLister.factory("snapshots", details=True),
        inquiry=explaining.cinder_messages,
    ),
    Kind(
        "backup",
        "block_storage",
        "get_backup",
        fault=_attr("fail_reason"),
        lister=batching.ProjectLister.factory("backups", details=True),
        inquiry=explaining.cinder_messages,
    ),
    Kind(
        "image",
        "image",
        "get_image",
        deleted_states=frozenset({"DELETED", "PENDING_DELETE"}),
        lister=batching.IdFilterLister,
    ),
    Kind(
        "stack",
        "orchestration",
        "get_stack",
        deleted_states=frozenset({"DELETE_COMPLETE"}),
        progress=_attr("status_reason"),
        fault=_attr("status_reason"),
        lister=batching.ProjectLister.factory("stacks"),
        inquiry=explaining.heat_events,
    ),
    Kind(
        "load_balancer",
        "load_balancer",
        "get_load_balancer",
        status="provisioning_status",
        deleted_states=frozenset({"DELETED"}),
        lister=batching.ProjectLister.factory("load_balancers"),
    ),
    Kind(
        "listener",
        "load_balancer",
        "get_listener",
        status="provisioning_status",
        deleted_states=frozenset({"DELETED"}),
    ),
    Kind(
        "pool",
        "load_balancer",
        "get_pool",
        status="provisioning_status",
        deleted_states=frozenset({"DELETED"}),
    ),
    Kind(
        "share",
        "shared_file_system",
        "get_share",
        progress=_attr("progress"),
        lister=batching.ProjectLister.factory("shares", details=True),
        inquiry=explaining.manila_messages,
    ),
    Kind(
        "node",
        "baremetal",
        "get_node",
        status="provision_state",
        fault=_attr("last_error"),
    ),
)
