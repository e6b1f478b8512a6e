"""Manila's backend: shares created, resized and deleted over scenario time, no HTTP.

Each operation sets its transitional status at once (``creating``, ``extending``,
``shrinking``, ``deleting``) and ends in ``available`` (or gone, for a delete) or in the
operation's error status, as the scenario plans; a stuck plan never ends it. A failure
posts the user message manila posts for it (see :mod:`..block_storage.messages`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..block_storage.messages import Failure, MessageLog, derived_uuid
from ..errors import BadRequest, Forbidden, NotFound
from ..lifecycle import OwnedResource, ResourceStore, Step, find_owned
from ..scenario import Outcome
from ..service import CloudContext, Principal

#: Manila's enabled_share_protocols default.
PROTOCOLS = ("NFS", "CIFS")
#: The statuses a share may be deleted from without force.
DELETABLE = ("available", "error", "inactive")

# -- user messages: the entries of manila.message.message_field the fake's failures use --

ALLOCATE_HOST = ("001", "allocate host")
DELETE = ("007", "delete")
EXTEND = ("008", "extend")
UNKNOWN_ERROR = ("001", "An unknown error occurred.")
FILTER_CAPACITY = (
    "009",
    "No storage could be allocated for this share request, Capacity filter didn't succeed.",
)
DRIVER_FAILED_EXTEND = (
    "015",
    "Share Driver failed to extend share, The share status has been set to extending_error. "
    "This action cannot be re-attempted until the status has been rectified. Contact your "
    "administrator to determine the cause of this failure.",
)


@dataclass(frozen=True)
class Operation:
    """One share operation: its status while it runs and when it fails.

    Attributes:
        failure: the message manila posts when it fails; None where it posts none.
        on_instance: whether that message names the share instance, not the share.
    """

    key: str
    running: str
    failed: str
    failure: Failure | None
    on_instance: bool = False


OPERATIONS = {
    op.key: op
    for op in (
        # No pool passes the filter scheduler: NoValidHost names the last filter, and the
        # message its detail (scheduler/manager.py, create_share_instance and
        # _set_share_state_and_notify; message_field._translate_exception_to_detail).
        Operation("create", "creating", "error", Failure("SHARE", ALLOCATE_HOST, FILTER_CAPACITY)),
        # The driver's extend fails (share/manager.py, extend_share).
        Operation(
            "extend", "extending", "extending_error", Failure("SHARE", EXTEND, DRIVER_FAILED_EXTEND)
        ),
        # A driver failure that leaves shrinking_error posts nothing (share/manager.py,
        # shrink_share: only refusals that put the share back to available do).
        Operation("shrink", "shrinking", "shrinking_error", None),
        # The driver's delete fails; the message names the share instance and maps the
        # unexpected exception to UNKNOWN_ERROR (share/manager.py, delete_share_instance).
        Operation(
            "delete", "deleting", "error_deleting", Failure("SHARE", DELETE, UNKNOWN_ERROR), True
        ),
    )
}


class Share(OwnedResource):
    """A manila share; ``fields`` holds status, size, name, description, share_proto,
    metadata, is_public and ``deleted``."""

    @property
    def name(self) -> str:
        """The name ('' when unnamed)."""
        return str(self.fields.get("name") or "")

    @property
    def status(self) -> str:
        """The status as of the last settle."""
        return str(self.fields["status"])

    @property
    def instance_id(self) -> str:
        """The id of its one share instance, which only delete's message shows."""
        return derived_uuid(f"share-instance/{self.id}")


def _invalid_input(reason: str) -> BadRequest:
    return BadRequest(f"Invalid input received: {reason}.")


def _invalid_share(reason: str) -> BadRequest:
    return BadRequest(f"Invalid share: {reason}.")


class SharedFileSystemBackend:
    """The shares of one cloud.

    Args:
        context: the cloud.
    """

    def __init__(self, context: CloudContext) -> None:
        self.context = context
        self.shares: ResourceStore[Share] = context.new_store("share")
        self.messages = MessageLog()

    def get(self, owner: Principal, share_id: str, now: float) -> Share:
        """Return a live share of the caller's project.

        Raises:
            NotFound: with manila's wording.
        """
        found = find_owned(self.shares, owner, share_id, now)
        if found is None:
            raise NotFound(f"Share {share_id} could not be found.")
        return found

    def list_shares(self, owner: Principal, now: float) -> list[Share]:
        """Return the caller's live shares, newest first (manila sorts by created_at)."""
        return [
            share
            for share in self.shares.newest_first(now)
            if not share.deleted and share.project_id == owner.project_id
        ]

    def create(
        self, owner: Principal, now: float, spec: Mapping[str, Any], *, request_id: str
    ) -> Share:
        """Accept a share: ``creating``, then ``available`` or ``error``.

        Args:
            request_id: the request's id, for the message of a failure.

        Raises:
            BadRequest: on a size or protocol manila refuses, with its wording.
        """
        size = spec.get("size")
        if isinstance(size, bool) or not str(size).isdigit() or int(str(size)) <= 0:
            raise _invalid_input(f"Share size '{size}' must be an integer and greater than 0")
        proto = spec.get("share_proto")
        if not isinstance(proto, str) or proto.upper() not in PROTOCOLS:
            raise _invalid_input(
                f"Invalid share protocol provided: {proto}. It is either disabled or "
                f"unsupported. Available protocols: {list(PROTOCOLS)}"
            )
        fields = {
            "name": spec.get("name"),
            "description": spec.get("description"),
            "share_proto": proto.upper(),
            "size": int(str(size)),
            "metadata": dict(spec.get("metadata") or {}),
            "is_public": bool(spec.get("is_public", False)),
            "availability_zone": spec.get("availability_zone") or "nova",
            "status": "creating",
            "deleted": False,
        }
        share = Share(self.context.new_uuid(), now, fields, owner)
        self.shares.add(share)
        self._run(share, "create", now, {}, request_id)
        return share

    def delete(self, owner: Principal, share_id: str, now: float, *, request_id: str) -> None:
        """Start deleting: ``deleting``, then gone (404).

        Args:
            request_id: the request's id, for the message of a failure.

        Raises:
            Forbidden: unless available, error or inactive, as manila answers.
        """
        share = self.get(owner, share_id, now)
        if share.status not in DELETABLE:
            raise Forbidden(f"Invalid share: Share status must be one of {DELETABLE}.")
        self._run(share, "delete", now, {"status": "deleted", "deleted": True}, request_id)

    def extend(
        self, owner: Principal, share_id: str, new_size: int, now: float, *, request_id: str
    ) -> None:
        """Start extending: ``extending``, then ``available`` at the new size.

        Args:
            request_id: the request's id, for the message of a failure.

        Raises:
            BadRequest: unless available and growing, with manila's wording.
        """
        share = self.get(owner, share_id, now)
        if share.status != "available":
            raise _invalid_share(
                f"Share {share.id} status must be 'available' to extend, but current status "
                f"is: {share.status}."
            )
        if new_size <= share.fields["size"]:
            raise _invalid_input(
                "New size for extend must be greater than current size. (current: "
                f"{share.fields['size']}, extended: {new_size})."
            )
        self._run(share, "extend", now, {"size": new_size}, request_id)

    def shrink(
        self, owner: Principal, share_id: str, new_size: int, now: float, *, request_id: str
    ) -> None:
        """Start shrinking: ``shrinking``, then ``available`` at the new size.

        Args:
            request_id: the request's id (manila posts no message for a failed shrink).

        Raises:
            BadRequest: unless available and shrinking above 0, with manila's wording.
        """
        share = self.get(owner, share_id, now)
        allowed = ("available", "shrinking_possible_data_loss_error")
        if share.status not in allowed:
            raise _invalid_share(
                f"Share {share.id} status must in ({', '.join(allowed)}) to shrink, but "
                f"current status is: {share.status}."
            )
        if not 0 < new_size < share.fields["size"]:
            raise _invalid_input(
                "New size for shrink must be less than current size and greater than 0 "
                f"(current: {share.fields['size']}, new: {new_size})"
            )
        self._run(share, "shrink", now, {"size": new_size}, request_id)

    def _run(
        self, share: Share, key: str, now: float, done: Mapping[str, Any], request_id: str
    ) -> None:
        op = OPERATIONS[key]
        plan = self.context.scenario.plan("share", key, share.name, share.plan_key())
        steps = [Step(now, {"status": op.running})]
        end = now + plan.duration
        if plan.outcome is Outcome.ERROR:
            steps.append(Step(end, {"status": op.failed}))
            self._report(share, op, end, request_id)
        elif plan.outcome is Outcome.OK:
            steps.append(Step(end, {"status": "available", **done}))
        self.shares.schedule(share, now, steps)

    def _report(self, share: Share, op: Operation, end: float, request_id: str) -> None:
        """Post manila's message for ``op`` failing at ``end``, if manila posts one.

        The message goes to the share's project, as manila's do (the scheduler's to the
        request context's, which for a create is the same).
        """
        if op.failure is not None:
            self.messages.post(
                op.failure,
                project_id=share.project_id,
                request_id=request_id,
                resource_id=share.instance_id if op.on_instance else share.id,
                at=end,
            )
