"""Cinder's backend: volumes, snapshots, backups and volume types, with no HTTP.

Each operation checks the states cinder's API checks, asks the scenario for a plan, and
turns the whole timeline into timestamped steps at once; reads fold the due steps in (see
:mod:`..lifecycle`). Compute reaches :meth:`BlockStorageBackend.attach_volume` and
:meth:`BlockStorageBackend.detach_volume` through ``context.backends["block-storage"]``.

Error messages are cinder's, wrapped as its exceptions word them (``Invalid volume: ...``).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import BadRequest, NotFound
from ..lifecycle import OwnedResource, ResourceStore, Step, find_owned
from ..scenario import Outcome, Plan
from ..service import CloudContext, Principal
from .messages import Failure, MessageLog

#: Where volumes land once scheduled (``os-vol-host-attr:host``), as devstack names it.
HOST = "fakecloud@lvmdriver-1#lvmdriver-1"
AVAILABILITY_ZONE = "nova"
#: The uuid of the one cinder-volume service (``service_uuid``, 3.48+).
SERVICE_UUID = "0f2c0a3e-6a56-4a5f-9bd8-6f0f41f6c1d2"
#: cinder's default swift container and object size (backup_swift_*).
BACKUP_CONTAINER = "volumebackups"
BACKUP_OBJECT_MIB = 50
#: The statuses ``DELETE /volumes/{id}`` accepts without force (cinder.volume.api.delete).
DELETABLE = ("available", "error", "error_restoring", "error_extending", "error_managing")
DELETE_REFUSED = (
    "Invalid volume: Volume status must be {} and must not be migrating, attached, belong "
    "to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots "
    "after volume transfer."
).format(" or ".join(DELETABLE))
RETYPE_REFUSED = (
    "Invalid volume: Retype needs volume to be in available or in-use state, not be part "
    "of an active migration or a consistency group, requested type has to be different "
    "that the one from the volume, and for in-use volumes front-end qos specs cannot change."
)
DETACH_REFUSED = (
    "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and "
    "attach_status must be 'attached' to detach."
)

# -- user messages: the entries of cinder.message.message_field the fake's failures use --

SCHEDULE_ALLOCATE_VOLUME = ("001", "schedule allocate volume")
EXTEND_VOLUME = ("007", "extend volume")
SNAPSHOT_CREATE = ("009", "create snapshot")
BACKUP_CREATE = ("013", "create backup")
BACKUP_RESTORE = ("015", "restore backup")
NO_BACKEND_AVAILABLE = ("003", "Could not find any available weighted backend.")
DRIVER_FAILED_EXTEND = ("010", "Volume Driver failed to extend volume.")
SNAPSHOT_CREATE_ERROR = ("013", "Snapshot failed to create.")
BACKUP_CREATE_DRIVER_ERROR = ("020", "Backup driver failed to create backup.")
BACKUP_RESTORE_ERROR = ("026", "Backup driver failed to restore backup.")
#: A create the scheduler finds no backend for (scheduler/flows/create_volume.py,
#: ScheduleCreateVolumeTask.execute: NoValidBackend maps to NO_BACKEND_AVAILABLE).
CREATE_FAILED = Failure("VOLUME", SCHEDULE_ALLOCATE_VOLUME, NO_BACKEND_AVAILABLE)
#: The driver's extend fails (volume/manager.py, extend_volume_completion).
EXTEND_FAILED = Failure("VOLUME", EXTEND_VOLUME, DRIVER_FAILED_EXTEND)
#: The driver's snapshot fails (volume/manager.py, create_snapshot).
SNAPSHOT_FAILED = Failure("VOLUME_SNAPSHOT", SNAPSHOT_CREATE, SNAPSHOT_CREATE_ERROR)
#: The backup driver fails (backup/manager.py: create_backup puts the action and the
#: backup in the request context, continue_backup posts the driver's failure).
BACKUP_FAILED = Failure("VOLUME_BACKUP", BACKUP_CREATE, BACKUP_CREATE_DRIVER_ERROR)
#: The backup driver's restore fails (backup/manager.py: restore_backup puts the action and
#: the backup in the context, _run_restore posts the failure).
RESTORE_FAILED = Failure("VOLUME_BACKUP", BACKUP_RESTORE, BACKUP_RESTORE_ERROR)


@dataclass(frozen=True)
class VolumeType:
    """A cinder volume type."""

    id: str
    name: str
    description: str | None
    extra_specs: Mapping[str, str] = field(default_factory=dict)
    is_public: bool = True


#: cinder's own default type and devstack's LVM type (fixed ids, so adding block storage
#: to a cloud does not move the seeded ids of other services).
DEFAULT_TYPES = (
    VolumeType("5fed9d7c-401d-46e2-8e80-f30c70cb7e1d", "__DEFAULT__", "Default Volume Type"),
    VolumeType(
        "2b1e1d6c-8c4f-4d35-a0a4-0d39a3c6e0b9",
        "lvmdriver-1",
        None,
        {"volume_backend_name": "lvmdriver-1"},
    ),
)


class Owned(OwnedResource):
    """A volume, snapshot or backup: named, described, owned by a project.

    Each starts ``creating``; ``fields`` always holds ``status``, ``deleted`` and
    ``metadata``, and each subclass lists the rest.
    """

    def __init__(
        self,
        resource_id: str,
        created_at: float,
        fields: dict[str, Any],
        *,
        name: str | None,
        description: str | None,
        owner: Principal,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        start = {"status": "creating", "deleted": False, "metadata": dict(metadata or {})}
        super().__init__(resource_id, created_at, {**start, **fields}, owner)
        self.name = name
        self.description = description

    @property
    def status(self) -> str:
        """The status as of the last settle."""
        return str(self.fields["status"])


class Volume(Owned):
    """A cinder volume; ``fields`` adds size, volume_type_id, host and attachments."""

    #: The snapshot it was created from, if any.
    snapshot_id: str | None = None

    @property
    def size(self) -> int:
        """The size in GiB as of the last settle."""
        return int(self.fields["size"])


class Snapshot(Owned):
    """A volume snapshot; ``fields`` adds progress and metadata."""

    def __init__(self, *args: Any, volume_id: str, size: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.volume_id = volume_id
        self.size = size


class Backup(Owned):
    """A volume backup; ``fields`` adds object_count, fail_reason, container, metadata."""

    def __init__(
        self,
        *args: Any,
        volume_id: str,
        size: int,
        snapshot_id: str | None,
        parent_id: str | None,
        availability_zone: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.volume_id = volume_id
        self.size = size
        self.snapshot_id = snapshot_id
        self.parent_id = parent_id
        self.availability_zone = availability_zone


T = TypeVar("T", bound=Owned)


@dataclass(frozen=True)
class Restore:
    """What ``POST /backups/{id}/restore`` answers."""

    backup_id: str
    volume_id: str
    volume_name: str | None


def _ending(
    start: float,
    plan: Plan,
    during: Mapping[str, Any],
    done: Mapping[str, Any],
    failed: Mapping[str, Any],
) -> list[Step]:
    """``during`` at ``start``, then ``done`` or ``failed`` when the plan ends (never if stuck)."""
    steps = [Step(start, during)]
    if plan.outcome is Outcome.OK:
        steps.append(Step(start + plan.duration, done))
    elif plan.outcome is Outcome.ERROR:
        steps.append(Step(start + plan.duration, failed))
    return steps


def is_uuid(value: str) -> bool:
    """Whether ``value`` reads as a UUID, with or without dashes (oslo's is_uuid_like)."""
    try:
        bare = value.lower().replace("urn:", "").replace("uuid:", "").strip("{}")
        return uuid.UUID(value).hex == bare.replace("-", "")
    except (TypeError, ValueError, AttributeError):
        return False


def relayed(message: str) -> str:
    """Word a cinder 400 as Nova relays it: wrapped in ``InvalidInput``, with the client's
    status and request id."""
    return f"Invalid input received: {message} (HTTP 400) (Request-ID: req-{uuid.uuid4()})"


class BlockStorageBackend:
    """The volumes, snapshots, backups and volume types of one cloud.

    Args:
        context: the cloud.
        volume_types: the types on offer; the first is the default.
    """

    def __init__(
        self, context: CloudContext, volume_types: Sequence[VolumeType] = DEFAULT_TYPES
    ) -> None:
        self.context = context
        self.volume_types = {t.id: t for t in volume_types}
        self.default_type = volume_types[0]
        self.volumes: ResourceStore[Volume] = context.new_store("volume")
        self.snapshots: ResourceStore[Snapshot] = context.new_store("snapshot")
        self.backups: ResourceStore[Backup] = context.new_store("backup")
        self.messages = MessageLog()

    # -- lookups ---------------------------------------------------------------------

    def volume(self, owner: Principal, volume_id: str, now: float) -> Volume:
        """Return a volume of the caller's project (any, for an admin).

        Raises:
            NotFound: as cinder words it.
        """
        return _owned(self.volumes, owner, volume_id, now, f"Volume {volume_id}")

    def snapshot(self, owner: Principal, snapshot_id: str, now: float) -> Snapshot:
        """Return a snapshot of the caller's project.

        Raises:
            NotFound: as cinder words it.
        """
        return _owned(self.snapshots, owner, snapshot_id, now, f"Snapshot {snapshot_id}")

    def backup(self, owner: Principal, backup_id: str, now: float) -> Backup:
        """Return a backup of the caller's project.

        Raises:
            NotFound: as cinder words it.
        """
        return _owned(self.backups, owner, backup_id, now, f"Backup {backup_id}")

    def volume_type(self, type_id: str) -> VolumeType:
        """Return a type by id.

        Raises:
            NotFound: if there is none.
        """
        found = self.volume_types.get(type_id)
        if found is None:
            raise NotFound(f"Volume type {type_id} could not be found.")
        return found

    def volume_type_named(self, identity: str) -> VolumeType:
        """Return a type by id or name, as cinder's get_by_name_or_id looks it up.

        Raises:
            NotFound: worded by id for a UUID, by name otherwise.
        """
        by_name = {t.name: t for t in self.volume_types.values()}
        if is_uuid(identity):
            found = self.volume_types.get(identity) or by_name.get(identity)
            if found is None:
                raise NotFound(f"Volume type {identity} could not be found.")
            return found
        if identity not in by_name:
            raise NotFound(f"Volume type with name {identity} could not be found.")
        return by_name[identity]

    def listed(
        self, store: ResourceStore[T], owner: Principal, now: float, all_projects: bool
    ) -> Iterator[T]:
        """Yield the live resources of ``store`` the caller may list, newest first."""
        every = all_projects and owner.is_admin
        for item in store.newest_first(now):
            if not item.deleted and (every or item.project_id == owner.project_id):
                yield item

    # -- volumes ---------------------------------------------------------------------

    def create_volume(
        self,
        owner: Principal,
        now: float,
        *,
        size: int,
        name: str | None,
        description: str | None = None,
        type_name: str | None = None,
        metadata: Mapping[str, str] | None = None,
        snapshot_id: str | None = None,
        request_id: str,
    ) -> Volume:
        """Accept a create request: ``creating``, then ``available`` (or ``error``).

        Args:
            request_id: the request's id, for the message of a failure.

        Raises:
            NotFound: on an unknown type or snapshot.
            BadRequest: if the size is below the snapshot's.
        """
        volume_type = self.volume_type_named(type_name) if type_name else self.default_type
        if snapshot_id is not None:
            source = self.snapshot(owner, snapshot_id, now)
            if size < source.size:
                raise BadRequest(
                    f"Invalid input received: Volume size '{size}'GB cannot be smaller than "
                    f"the snapshot size {source.size}GB. They must be >= original snapshot size."
                )
        volume = self._new_volume(owner, now, size, name, description, volume_type, metadata)
        volume.snapshot_id = snapshot_id
        return self.volumes.add(volume, self._creation(volume, now, request_id)[0])

    def _new_volume(
        self,
        owner: Principal,
        now: float,
        size: int,
        name: str | None,
        description: str | None,
        volume_type: VolumeType,
        metadata: Mapping[str, str] | None = None,
    ) -> Volume:
        return Volume(
            self.context.new_uuid(),
            now,
            {"size": size, "volume_type_id": volume_type.id, "host": None, "attachments": []},
            name=name,
            description=description,
            owner=owner,
            metadata=metadata,
        )

    def _creation(self, volume: Volume, now: float, request_id: str) -> tuple[list[Step], Plan]:
        plan = self._plan(self.volumes, volume, "create")
        self._report(CREATE_FAILED, plan, volume, now + plan.duration, request_id)
        # A volume that fails to build was never scheduled: no host ("No valid backend").
        done = {"status": "available", "host": HOST}
        return _ending(now, plan, {}, done, {"status": "error"}), plan

    def delete_volume(self, owner: Principal, volume_id: str, now: float, cascade: bool) -> None:
        """Start deleting: ``deleting``, then gone (404); with ``cascade`` its snapshots too.

        Raises:
            BadRequest: in a status cinder refuses, or with snapshots and no cascade.
        """
        volume = self.volume(owner, volume_id, now)
        snapshots = [s for s in self.snapshots.newest_first(now) if s.volume_id == volume.id]
        snapshots = [s for s in snapshots if not s.deleted]
        if volume.status not in DELETABLE:
            raise BadRequest(DELETE_REFUSED)
        if snapshots and not cascade:
            raise BadRequest(DELETE_REFUSED)
        if any(s.status not in ("available", "error", "deleting") for s in snapshots):
            raise BadRequest(DELETE_REFUSED)
        for snapshot in snapshots:
            self._delete(self.snapshots, snapshot, now)
        self._delete(self.volumes, volume, now)

    def extend_volume(
        self,
        owner: Principal,
        volume_id: str,
        new_size: int,
        now: float,
        attached_ok: bool,
        *,
        request_id: str,
    ) -> None:
        """Grow a volume: ``extending``, then back (``error_extending`` on failure).

        Args:
            attached_ok: whether an in-use volume may grow (microversion 3.42+).
            request_id: the request's id, for the message of a failure.

        Raises:
            BadRequest: if the size does not grow or the status is wrong.
        """
        volume = self.volume(owner, volume_id, now)
        if new_size <= volume.size:
            raise BadRequest(
                "Invalid input received: New size for extend must be greater than current "
                f"size. (current: {volume.size}, extended: {new_size})."
            )
        expected = "in-use" if attached_ok and volume.status == "in-use" else "available"
        if volume.status != expected:
            # cinder formats its whole conditional-update dict into the message.
            condition = {"status": expected}
            raise BadRequest(
                f"Invalid volume: Volume {volume.id} status must be '{condition}' to extend, "
                f"currently {volume.status}."
            )
        plan = self._plan(self.volumes, volume, "extend")
        self._report(EXTEND_FAILED, plan, volume, now + plan.duration, request_id, owner)
        steps = _ending(
            now,
            plan,
            {"status": "extending"},
            {"status": expected, "size": new_size},
            {"status": "error_extending"},
        )
        self.volumes.schedule(volume, now, steps)

    def retype_volume(self, owner: Principal, volume_id: str, new_type: str, now: float) -> None:
        """Change the type: ``retyping``, then the status it had (old type on failure).

        Raises:
            NotFound: on an unknown type.
            BadRequest: in a status cinder refuses, or to the same type.
        """
        volume = self.volume(owner, volume_id, now)
        target = self.volume_type_named(new_type)
        if volume.status not in ("available", "in-use"):
            raise BadRequest(RETYPE_REFUSED)
        if target.id == volume.fields["volume_type_id"]:
            raise BadRequest(RETYPE_REFUSED)
        back = volume.status
        plan = self._plan(self.volumes, volume, "retype")
        steps = _ending(
            now,
            plan,
            {"status": "retyping"},
            {"status": back, "volume_type_id": target.id},
            {"status": back},
        )
        self.volumes.schedule(volume, now, steps)

    # -- attachments (compute's VolumeHook) ------------------------------------------

    def attach_volume(self, volume_id: str, server_id: str, device: str, at: float) -> None:
        """Attach for Nova: ``reserved``, ``attaching``, then ``in-use`` with an attachment.

        Raises:
            NotFound: if there is no such volume.
            BadRequest: unless the volume is available, worded as Nova relays it.
        """
        volume = self._any_volume(volume_id, at)
        if "error" in volume.status:
            raise BadRequest(
                relayed(
                    "Invalid volume: Volume attachments can not be created if the volume is in "
                    f"an error state. The Volume {volume.id} currently has a status of: "
                    f"{volume.status} "
                )
            )
        if volume.status != "available":
            raise BadRequest(
                relayed(
                    f"Invalid volume: Volume {volume.id} status must be available or "
                    f"downloading to reserve, but the current status is {volume.status}."
                )
            )
        plan = self._plan(self.volumes, volume, "attach", force_ok=True)
        end = at + plan.duration
        attachment = {
            "attachment_id": self.context.new_uuid(),
            "server_id": server_id,
            "device": device,
            "attached_at": end,
        }
        steps = [
            Step(at, {"status": "reserved"}),
            Step(at + plan.duration / 2, {"status": "attaching"}),
            Step(end, {"status": "in-use", "attachments": [attachment]}),
        ]
        self.volumes.schedule(volume, at, steps)

    def detach_volume(self, volume_id: str, server_id: str, at: float) -> None:
        """Detach for Nova: ``detaching`` then ``available``.

        Called with a future ``at`` when Nova deletes the server: then the volume frees
        at that moment without passing through ``detaching`` (Nova deletes the attachment
        directly) and nothing is refused.

        Raises:
            NotFound: if there is no such volume.
            BadRequest: if it is not in-use, worded as Nova relays it.
        """
        now = min(at, self.context.clock.now())
        volume = self._any_volume(volume_id, now)
        free = {"status": "available", "attachments": []}
        if at > now:
            kept = [step for step in volume.pending if step.at < at]
            self.volumes.schedule(volume, now, [*kept, Step(at, free)])
            # A failure planned after the detach (an extend of the in-use volume) is gone.
            self.messages.withdraw(volume.id, at)
            return
        attached = any(a["server_id"] == server_id for a in volume.fields["attachments"])
        if volume.status != "in-use" or not attached:
            raise BadRequest(f"Invalid volume: {relayed(DETACH_REFUSED)}")
        plan = self._plan(self.volumes, volume, "detach", force_ok=True)
        steps = [Step(now, {"status": "detaching"}), Step(now + plan.duration, free)]
        self.volumes.schedule(volume, now, steps)

    # -- snapshots -------------------------------------------------------------------

    def create_snapshot(
        self,
        owner: Principal,
        now: float,
        *,
        volume_id: str,
        name: str | None,
        description: str | None,
        metadata: Mapping[str, str] | None,
        allow_in_use: bool,
        request_id: str,
    ) -> Snapshot:
        """Snapshot a volume: ``creating`` then ``available``; the volume keeps its status.

        Args:
            allow_in_use: ``force``, or microversion 3.66+.
            request_id: the request's id, for the message of a failure.

        Raises:
            BadRequest: in a volume state cinder refuses.
        """
        volume = self.volume(owner, volume_id, now)
        if volume.fields["host"] is None:
            raise BadRequest(
                "Invalid volume: The snapshot cannot be created because volume has not been "
                "scheduled to any host."
            )
        if volume.status == "error":
            raise BadRequest(
                "Invalid volume: The snapshot cannot be created when the volume is in error status."
            )
        valid = ("available", "in-use") if allow_in_use else ("available",)
        if volume.status not in valid:
            raise BadRequest(
                f"Invalid volume: Volume {volume.id} status must be {', '.join(valid)}, but "
                f"current status is: {volume.status}."
            )
        snapshot = Snapshot(
            self.context.new_uuid(),
            now,
            {"progress": "0%"},
            name=name,
            description=description,
            owner=owner,
            metadata=metadata,
            volume_id=volume.id,
            size=volume.size,
        )
        plan = self._plan(self.snapshots, snapshot, "create")
        self._report(SNAPSHOT_FAILED, plan, snapshot, now + plan.duration, request_id)
        done = {"status": "available", "progress": "100%"}
        return self.snapshots.add(snapshot, _ending(now, plan, {}, done, {"status": "error"}))

    def delete_snapshot(self, owner: Principal, snapshot_id: str, now: float) -> None:
        """Start deleting: ``deleting``, then gone.

        Raises:
            BadRequest: unless it is available or error.
        """
        snapshot = self.snapshot(owner, snapshot_id, now)
        if snapshot.status not in ("available", "error"):
            raise BadRequest(
                "Invalid snapshot: Snapshot status must be available or error and must not be "
                "part of a group."
            )
        self._delete(self.snapshots, snapshot, now)

    # -- backups ---------------------------------------------------------------------

    def create_backup(
        self,
        owner: Principal,
        now: float,
        *,
        volume_id: str,
        name: str | None,
        description: str | None,
        container: str | None,
        incremental: bool,
        force: bool,
        snapshot_id: str | None,
        metadata: Mapping[str, str] | None,
        availability_zone: str | None,
        request_id: str,
    ) -> Backup:
        """Back a volume (or one of its snapshots) up: the source is ``backing-up`` while
        the backup is ``creating``, then both settle.

        Args:
            request_id: the request's id, for the message of a failure.

        Raises:
            BadRequest: in a state cinder refuses, or with no base for an incremental.
        """
        volume = self.volume(owner, volume_id, now)
        snapshot = self.snapshot(owner, snapshot_id, now) if snapshot_id else None
        if snapshot is not None:
            if snapshot.volume_id != volume.id:
                raise BadRequest(
                    f"Invalid volume: Volume {volume.id} does not match with "
                    f"snapshot.volume_id {snapshot.volume_id}."
                )
            if snapshot.status != "available":
                raise BadRequest(
                    "Invalid snapshot: Snapshot to be backed up must be available, but the "
                    f'current status is "{snapshot.status}".'
                )
        elif volume.status not in ("available", "in-use"):
            raise BadRequest(
                "Invalid volume: Volume to be backed up must be available or in-use, but the "
                f'current status is "{volume.status}".'
            )
        elif volume.status == "in-use" and not force:
            raise BadRequest("Invalid volume: Backing up an in-use volume must use the force flag.")
        parent = self._latest_backup(volume.id, now) if incremental else None
        if incremental and parent is None:
            raise BadRequest("Invalid backup: No backups available to do an incremental backup.")
        backup = Backup(
            self.context.new_uuid(),
            now,
            {"object_count": 0, "fail_reason": None, "container": container},
            name=name,
            description=description,
            owner=owner,
            metadata=metadata,
            volume_id=volume.id,
            size=volume.size,
            snapshot_id=snapshot_id,
            parent_id=parent.id if parent else None,
            availability_zone=availability_zone or AVAILABILITY_ZONE,
        )
        plan = self._plan(self.backups, backup, "create")
        self._report(BACKUP_FAILED, plan, backup, now + plan.duration, request_id)
        done = {
            "status": "available",
            "container": container or BACKUP_CONTAINER,
            "object_count": math.ceil(volume.size * 1024 / BACKUP_OBJECT_MIB),
        }
        failed = {"status": "error", "fail_reason": plan.fault_message or "Backup failed."}
        self.backups.add(backup, _ending(now, plan, {}, done, failed))
        source: Owned = snapshot or volume
        store: ResourceStore[Any] = self.snapshots if snapshot else self.volumes
        back = {"status": source.status}
        store.schedule(source, now, _ending(now, plan, {"status": "backing-up"}, back, back))
        return backup

    def delete_backup(self, owner: Principal, backup_id: str, now: float) -> None:
        """Start deleting: ``deleting``, then gone.

        Raises:
            BadRequest: unless it is available or error, or if incrementals depend on it.
        """
        backup = self.backup(owner, backup_id, now)
        if backup.status not in ("available", "error"):
            raise BadRequest("Invalid backup: Backup status must be available or error")
        if self.has_dependents(backup, now):
            raise BadRequest("Invalid backup: Incremental backups exist for this backup.")
        self._delete(self.backups, backup, now)

    def has_dependents(self, backup: Backup, now: float) -> bool:
        """Whether a live incremental backup is based on ``backup``."""
        return any(
            b.parent_id == backup.id and not b.deleted for b in self.backups.newest_first(now)
        )

    def restore_backup(
        self,
        owner: Principal,
        backup_id: str,
        now: float,
        *,
        volume_id: str | None,
        name: str | None,
        request_id: str,
    ) -> Restore:
        """Restore onto a volume, or onto a new one when only a name (or nothing) is given.

        The backup is ``restoring`` and the volume ``restoring-backup`` until both are
        ``available`` (the volume ``error_restoring`` on failure). A new volume first
        goes through ``creating``: cinder waits for it inside the request, the fake lets
        the client watch it instead.

        Args:
            request_id: the request's id, for the message of a failure.

        Raises:
            BadRequest: in a state cinder refuses, or onto a too small volume.
        """
        backup = self.backup(owner, backup_id, now)
        if backup.status != "available":
            raise BadRequest("Invalid backup: Backup status must be available")
        start = now
        steps: list[Step] = []
        if volume_id is None:
            volume = self._new_volume(
                owner,
                now,
                backup.size,
                name or f"restore_backup_{backup.id}",
                "auto-created_from_restore_from_backup",
                self.default_type,
            )
            steps, created = self._creation(volume, now, request_id)
            self.volumes.add(volume, steps)
            if created.outcome is Outcome.ERROR:
                raise BadRequest(
                    f"Invalid volume: Error while creating volume {volume.id} for restoring "
                    f"backup {backup.id}."
                )
            if created.outcome is Outcome.STUCK:
                # cinder would wait for ever inside the request; here the restore never starts.
                return Restore(backup.id, volume.id, volume.name)
            start = now + created.duration
        else:
            volume = self.volume(owner, volume_id, now)
            if volume.status != "available":
                raise BadRequest("Invalid volume: Volume to be restored to must be available")
            if backup.size > volume.size:
                raise BadRequest(
                    f"Invalid volume: volume size {volume.size} is too small to restore backup "
                    f"of size {backup.size}."
                )
        plan = self._plan(self.backups, backup, "restore")
        self._report(RESTORE_FAILED, plan, backup, start + plan.duration, request_id, owner)
        available = {"status": "available"}
        self.backups.schedule(
            backup, now, _ending(start, plan, {"status": "restoring"}, available, available)
        )
        restored = _ending(
            start,
            plan,
            {"status": "restoring-backup"},
            available,
            {"status": "error_restoring"},
        )
        self.volumes.schedule(volume, now, [*steps, *restored])
        return Restore(backup.id, volume.id, volume.name)

    # -- internals -------------------------------------------------------------------

    def _any_volume(self, volume_id: str, now: float) -> Volume:
        # Nova's own lookup: any project's volume, as Nova's service user reaches it.
        found = self.volumes.get(volume_id, now)
        if found is None:
            raise NotFound(f"Volume {volume_id} could not be found.")
        return found

    def _latest_backup(self, volume_id: str, now: float) -> Backup | None:
        return next(
            (
                b
                for b in self.backups.newest_first(now)
                if b.volume_id == volume_id and b.status == "available" and not b.deleted
            ),
            None,
        )

    def _plan(
        self, store: ResourceStore[Any], item: Owned, operation: str, force_ok: bool = False
    ) -> Plan:
        plan = self.context.scenario.plan(store.kind, operation, item.name or "", item.plan_key())
        if force_ok and plan.outcome is not Outcome.OK:
            return Plan(plan.duration, Outcome.OK, plan.fault_message)
        return plan

    def _report(
        self,
        failure: Failure,
        plan: Plan,
        item: Owned,
        end: float,
        request_id: str,
        caller: Principal | None = None,
    ) -> None:
        """Post cinder's message for an operation the plan fails at ``end``.

        Args:
            item: the resource the message names.
            request_id: the id of the request that started the operation.
            caller: whose request it was: the message goes to its project, as cinder's
                goes to the request context's. Omitted when that request made ``item``.
        """
        if plan.outcome is Outcome.ERROR:
            project_id = caller.project_id if caller else item.project_id
            self.messages.post(
                failure, project_id=project_id, request_id=request_id, resource_id=item.id, at=end
            )

    def _delete(self, store: ResourceStore[Any], item: Owned, now: float) -> None:
        # Deletion always finishes, as compute's does, so forced failures can be cleaned up.
        plan = self._plan(store, item, "delete", force_ok=True)
        gone = {"status": "deleted", "deleted": True}
        store.schedule(item, now, _ending(now, plan, {"status": "deleting"}, gone, gone))


def _owned(store: ResourceStore[T], owner: Principal, item_id: str, now: float, what: str) -> T:
    found = find_owned(store, owner, item_id, now)
    if found is None:
        raise NotFound(f"{what} could not be found.")
    return found
