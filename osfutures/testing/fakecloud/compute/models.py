"""Nova's backend: flavors, servers and the instance state machine, with no HTTP.

Each server operation is an :class:`Operation` declaration: the ``vm_state`` values it
may start from, the task states it passes through, where it ends. When an operation is
accepted the scenario plans it and the whole timeline becomes timestamped steps at once;
reads fold the due steps in (see :mod:`..lifecycle`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import BadRequest, Conflict, NotFound
from ..lifecycle import OwnedResource, ResourceStore, Step, find_owned
from ..scenario import Outcome, Plan
from ..service import CloudContext, Principal

NOSTATE, RUNNING, SHUTDOWN = 0, 1, 4
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
HOSTS = ("compute1", "compute2")

# nova.api.openstack.common._STATE_MAP: the status shown for (vm_state, task_state).
_RESIZING: dict[str | None, str] = {
    "resize_prep": "RESIZE",
    "resize_migrating": "RESIZE",
    "resize_migrated": "RESIZE",
    "resize_finish": "RESIZE",
}
_REBUILDING: dict[str | None, str] = {
    "rebuilding": "REBUILD",
    "rebuild_block_device_mapping": "REBUILD",
    "rebuild_spawning": "REBUILD",
}
_STATUS: dict[str, dict[str | None, str]] = {
    "active": {
        None: "ACTIVE",
        "rebooting": "REBOOT",
        "reboot_pending": "REBOOT",
        "reboot_started": "REBOOT",
        "rebooting_hard": "HARD_REBOOT",
        "reboot_pending_hard": "HARD_REBOOT",
        "reboot_started_hard": "HARD_REBOOT",
        "migrating": "MIGRATING",
        **_RESIZING,
        **_REBUILDING,
    },
    "building": {None: "BUILD"},
    "stopped": {None: "SHUTOFF", **_RESIZING, **_REBUILDING},
    "resized": {None: "VERIFY_RESIZE", "resize_reverting": "REVERT_RESIZE"},
    "error": {None: "ERROR", **_REBUILDING},
    "deleted": {None: "DELETED"},
}

#: The values Nova accepts in the ``status`` list filter.
FILTER_STATUSES = frozenset(
    [
        "ACTIVE",
        "BUILD",
        "DELETED",
        "ERROR",
        "HARD_REBOOT",
        "MIGRATING",
        "PASSWORD",
        "PAUSED",
        "REBOOT",
        "REBUILD",
        "RESCUE",
        "RESIZE",
        "REVERT_RESIZE",
        "SHELVED",
        "SHELVED_OFFLOADED",
        "SHUTOFF",
        "SOFT_DELETED",
        "SUSPENDED",
        "UNKNOWN",
        "VERIFY_RESIZE",
    ]
)


def status_of(vm_state: str, task_state: str | None) -> str:
    """Return the API status Nova shows for a vm_state and task_state."""
    table = _STATUS.get(vm_state, {})
    return table.get(task_state) or table.get(None, "UNKNOWN")


@dataclass(frozen=True)
class Operation:
    """One server operation, declared.

    Attributes:
        key: the scenario operation name (``server.<key>`` timings).
        action: Nova's name for it in 409 messages (``Cannot 'reboot' instance``).
        from_states: vm_states it may start from; empty means any.
        tasks: the task states it passes through, the first set at once by the API.
        ends_in: the vm_state on success; None keeps the one it started from.
        power: the power state on success; None keeps it.
        progress: whether ``progress`` grows while it runs.
        any_task: whether it may start while another task runs.
    """

    key: str
    action: str
    from_states: frozenset[str]
    tasks: tuple[str, ...]
    ends_in: str | None = "active"
    power: int | None = RUNNING
    progress: bool = False
    any_task: bool = False


def _op(key: str, action: str, states: str, tasks: str, **kwargs: Any) -> Operation:
    return Operation(key, action, frozenset(states.split()), tuple(tasks.split()), **kwargs)


RESIZE_TASKS = "resize_prep resize_migrating resize_migrated resize_finish"
OPERATIONS: dict[str, Operation] = {
    op.key: op
    for op in (
        _op(
            "build",
            "build",
            "",
            "scheduling networking block_device_mapping spawning",
            progress=True,
        ),
        _op("reboot", "reboot", "active", "rebooting reboot_pending reboot_started"),
        _op(
            "hard_reboot",
            "reboot",
            "active stopped error",
            "rebooting_hard reboot_pending_hard reboot_started_hard",
        ),
        _op(
            "resize",
            "resize",
            "active stopped",
            RESIZE_TASKS,
            ends_in="resized",
            power=None,
            progress=True,
        ),
        _op(
            "migrate",
            "migrate",
            "active stopped",
            RESIZE_TASKS,
            ends_in="resized",
            power=None,
            progress=True,
        ),
        _op("confirm_resize", "confirmResize", "resized", "", ends_in=None, power=None),
        _op(
            "revert_resize", "revertResize", "resized", "resize_reverting", ends_in=None, power=None
        ),
        _op(
            "snapshot",
            "createImage",
            "active stopped paused suspended",
            "image_snapshot_pending image_snapshot image_pending_upload image_uploading",
            ends_in=None,
            power=None,
            progress=True,
        ),
        _op(
            "rebuild",
            "rebuild",
            "active stopped error",
            "rebuilding rebuild_block_device_mapping rebuild_spawning",
            progress=True,
        ),
        _op("start", "start", "stopped", "powering-on"),
        _op("stop", "stop", "active error", "powering-off", ends_in="stopped", power=SHUTDOWN),
        _op(
            "live_migrate",
            "os-migrateLive",
            "active paused",
            "migrating",
            ends_in=None,
            power=None,
            progress=True,
        ),
        _op("delete", "delete", "", "deleting", ends_in="deleted", power=NOSTATE, any_task=True),
    )
}

#: vm_states a volume can be attached or detached in (Nova's check_instance_state).
VOLUME_STATES = frozenset(
    ["active", "paused", "stopped", "resized", "soft-delete", "shelved", "shelved_offloaded"]
)


@runtime_checkable
class ImageCatalog(Protocol):
    """What compute needs of an image service: boot images and snapshots."""

    def bootable(self, image_id: str, now: float) -> Mapping[str, Any] | None:
        """Return the properties of an active image, or None if there is none."""

    def start_snapshot(
        self,
        name: str,
        owner: str,
        properties: Mapping[str, Any],
        saving_at: float,
        done_at: float | None,
        now: float,
    ) -> str:
        """Create a queued image that saves at ``saving_at`` and becomes active at
        ``done_at`` (never when None); return its id."""


@runtime_checkable
class VolumeHook(Protocol):
    """What compute tells a block storage service about attachments.

    A block storage backend registered as ``block-storage`` that has these methods is
    called; without one, any volume id attaches.
    """

    def attach_volume(self, volume_id: str, server_id: str, device: str, at: float) -> None:
        """Mark the volume in-use from ``at``; raise an ApiError to refuse."""

    def detach_volume(self, volume_id: str, server_id: str, at: float) -> None:
        """Mark the volume available from ``at``."""


@dataclass(frozen=True)
class Flavor:
    """A Nova flavor."""

    id: str
    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int = 0
    swap: int = 0
    extra_specs: Mapping[str, str] = field(default_factory=dict)


DEFAULT_FLAVORS = (
    Flavor("1", "m1.tiny", 1, 512, 1),
    Flavor("2", "m1.small", 1, 2048, 20),
    Flavor("3", "m1.medium", 2, 4096, 40),
    Flavor("4", "m1.large", 4, 8192, 80),
    Flavor("5", "m1.xlarge", 8, 16384, 160),
)


@dataclass(frozen=True)
class Attachment:
    """A volume attached to a server."""

    id: str
    volume_id: str
    server_id: str
    device: str
    delete_on_termination: bool = False


class Server(OwnedResource):
    """A Nova instance; the time-varying fields live in ``fields``.

    ``fields`` keys: status, vm_state, task_state, power_state, progress, host, fault,
    flavor_id, addresses, launched_at, terminated_at, deleted, metadata.
    """

    def __init__(
        self,
        resource_id: str,
        created_at: float,
        fields: dict[str, Any],
        *,
        name: str,
        owner: Principal,
        image_id: str,
        index: int,
        request: Mapping[str, Any],
    ) -> None:
        super().__init__(resource_id, created_at, fields, owner)
        self.name = name
        self.image_id = image_id
        self.index = index
        self.request = request
        self.attachments: dict[str, Attachment] = {}
        self.previous_flavor_id: str | None = None
        self.resized_from: str = "active"

    @property
    def status(self) -> str:
        """The API status as of the last settle."""
        return str(self.fields["status"])

    def host_id(self) -> str:
        """Nova's hostId: a per-project hash of the host, empty without a host."""
        host = self.fields.get("host")
        if not host:
            return ""
        return hashlib.sha224((self.project_id + host).encode()).hexdigest()


def admin_password(length: int = 12) -> str:
    """A random password, as Nova generates for ``adminPass``."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class ComputeBackend:
    """The servers and flavors of one cloud.

    Args:
        context: the cloud.
        flavors: the flavors on offer.
    """

    def __init__(self, context: CloudContext, flavors: Sequence[Flavor] = DEFAULT_FLAVORS):
        self.context = context
        self.flavors = {flavor.id: flavor for flavor in flavors}
        self.servers: ResourceStore[Server] = context.new_store("server")
        self._launched = 0

    # -- lookups ---------------------------------------------------------------------

    def flavor(self, flavor_id: str) -> Flavor:
        """Return a flavor.

        Raises:
            NotFound: if there is none with that id.
        """
        found = self.flavors.get(flavor_id)
        if found is None:
            raise NotFound(f"Flavor {flavor_id} could not be found.")
        return found

    def server(self, owner: Principal, server_id: str, now: float) -> Server:
        """Return a server of the caller's project as of ``now``.

        Raises:
            NotFound: if it does not exist, is deleted, or belongs to another project.
        """
        found: Server | None = find_owned(self.servers, owner, server_id, now)
        if found is None:
            raise NotFound(f"Instance {server_id} could not be found.")
        return found

    def list_servers(
        self,
        owner: Principal,
        now: float,
        *,
        since: float | None = None,
        before: float | None = None,
        status: str | None = None,
        name: str | None = None,
    ) -> list[Server]:
        """Return the caller's servers, newest first, as Nova filters them.

        With ``since`` or ``before`` (changes-since/-before) deleted servers are
        included; otherwise only with ``status=DELETED``.
        """
        pattern = re.compile(name) if name else None
        changes = since is not None or before is not None
        candidates: list[Server]
        if since is not None:
            candidates = self.servers.changed_between(since, before or now, now)
        else:
            candidates = list(self.servers.newest_first(now))
        result = []
        for server in candidates:
            if server.project_id != owner.project_id:
                continue
            if before is not None and server.updated_at > before:
                continue
            if server.deleted and not (changes or status == "DELETED"):
                continue
            if status is not None and server.status != status:
                continue
            if pattern is not None and not pattern.search(server.name):
                continue
            result.append(server)
        return result

    # -- lifecycle -------------------------------------------------------------------

    def create_server(
        self,
        owner: Principal,
        now: float,
        *,
        name: str,
        flavor_id: str,
        image_id: str,
        networks: str | list[Mapping[str, Any]],
        metadata: Mapping[str, str],
        request: Mapping[str, Any],
    ) -> Server:
        """Accept a boot request; the server starts in BUILD.

        Args:
            request: the other accepted fields (key_name, description, ...), shown
                back as Nova shows them.

        Raises:
            BadRequest: on an unknown flavor or image, as Nova answers.
        """
        if flavor_id not in self.flavors:
            raise BadRequest(f"Flavor {flavor_id} could not be found.")
        images = self._images()
        if images is not None and images.bootable(image_id, now) is None:
            raise BadRequest("Can not find requested image")
        self._launched += 1
        server = Server(
            self.context.new_uuid(),
            now,
            {
                "status": "BUILD",
                "vm_state": "building",
                "task_state": "scheduling",
                "power_state": NOSTATE,
                "progress": 0,
                "host": None,
                "fault": None,
                "flavor_id": flavor_id,
                "addresses": {},
                "launched_at": None,
                "terminated_at": None,
                "deleted": False,
                "metadata": dict(metadata),
            },
            name=name,
            owner=owner,
            image_id=image_id,
            index=self._launched,
            request=request,
        )
        plan = self._plan(server, "build")
        host = HOSTS[self._launched % len(HOSTS)]
        extra: dict[str, dict[str, Any]] = {}
        if plan.outcome is not Outcome.ERROR:
            extra["networking"] = {"host": host, "addresses": self._addresses(server, networks)}
        done = {"launched_at": now + plan.duration}
        steps = self._timeline(server, OPERATIONS["build"], plan, now, extra, done)
        return self.servers.add(server, steps)

    def delete_server(self, owner: Principal, server_id: str, now: float) -> None:
        """Start deleting: task_state ``deleting``, then ``DELETED`` and 404 on GET."""
        server = self.server(owner, server_id, now)
        if server.fields["task_state"] == "deleting":
            return
        plan = self._plan(server, "delete", force_ok=True)
        end = now + plan.duration
        hook = self._volumes()
        for attachment in server.attachments.values():
            if hook is not None:
                hook.detach_volume(attachment.volume_id, server.id, end)
        done = {"terminated_at": end, "deleted": True, "metadata": {}, "progress": 0}
        self._start(server, "delete", plan, now, done=done)

    def act(self, owner: Principal, server_id: str, key: str, now: float, **params: Any) -> Any:
        """Start a server action: ``reboot``, ``hard_reboot``, ``resize``, ``migrate``,
        ``confirm_resize``, ``revert_resize``, ``snapshot``, ``rebuild``, ``start``,
        ``stop`` or ``live_migrate``.

        Args:
            params: ``flavor_id`` (resize), ``name`` and ``metadata`` (snapshot),
                ``image_id`` and ``name`` (rebuild), ``host`` (live_migrate).

        Returns:
            the image id for ``snapshot``, else None.

        Raises:
            NotFound: if there is no such server.
            Conflict: if the server is in the wrong state or has no host, as Nova
                answers.
            BadRequest: on an invalid flavor, image or resize to the same flavor.
        """
        server = self.server(owner, server_id, now)
        self.check_state(server, OPERATIONS[key])
        if server.fields["host"] is None:
            # Nova's check_instance_host: a server that never reached a host cannot act.
            raise Conflict(f"Instance {server.id} is not ready")
        done: dict[str, Any] = {}
        if key in ("resize", "migrate"):
            new_flavor = params.get("flavor_id", server.fields["flavor_id"])
            if key == "resize":
                self.flavor(new_flavor)
                if new_flavor == server.fields["flavor_id"]:
                    raise BadRequest("When resizing, instances must change flavor!")
            server.previous_flavor_id = server.fields["flavor_id"]
            server.resized_from = server.fields["vm_state"]
            done = {"flavor_id": new_flavor, "host": self._other_host(server)}
        elif key == "confirm_resize":
            done = {"vm_state": server.resized_from}
        elif key == "revert_resize":
            done = {
                "vm_state": server.resized_from,
                "flavor_id": server.previous_flavor_id,
            }
        elif key == "live_migrate":
            done = {"host": params.get("host") or self._other_host(server)}
        elif key == "rebuild":
            image_id = params.get("image_id", server.image_id)
            images = self._images()
            if images is not None and images.bootable(image_id, now) is None:
                raise BadRequest("Cannot find requested image")
            server.image_id = image_id
            server.name = params.get("name") or server.name
            if server.fields["vm_state"] == "stopped":
                done = {"vm_state": "stopped", "power_state": SHUTDOWN}
        plan = self._plan(server, key)
        result = None
        if key == "snapshot":
            result = self._snapshot(server, plan, now, params)
        self._start(server, key, plan, now, done=done)
        return result

    def check_state(self, server: Server, op: Operation) -> None:
        """Refuse an operation in the wrong state, with Nova's 409 wording.

        Raises:
            Conflict: if the vm_state or task_state does not allow ``op``.
        """
        vm_state = server.fields["vm_state"]
        task_state = server.fields["task_state"]
        if op.from_states and vm_state not in op.from_states:
            raise Conflict(
                f"Cannot '{op.action}' instance {server.id} while it is in vm_state {vm_state}"
            )
        if task_state is not None and not op.any_task:
            raise Conflict(
                f"Cannot '{op.action}' instance {server.id} while it is in task_state {task_state}"
            )

    # -- volume attachments ----------------------------------------------------------

    def attach_volume(
        self, owner: Principal, server_id: str, volume_id: str, device: str | None, now: float
    ) -> Attachment:
        """Attach a volume (the block storage hook, if any, marks it in-use).

        Raises:
            Conflict: in a state Nova refuses, or if it is already attached.
            BadRequest: if ``volume_id`` is not a UUID.
        """
        server = self.server(owner, server_id, now)
        self._check_volume_state(server, "attach_volume")
        if volume_id in server.attachments:
            raise BadRequest(f"Invalid volume: volume {volume_id} already attached")
        device = device or f"/dev/vd{chr(ord('b') + len(server.attachments))}"
        hook = self._volumes()
        if hook is not None:
            hook.attach_volume(volume_id, server.id, device, now)
        attachment = Attachment(self.context.new_uuid(), volume_id, server.id, device)
        server.attachments[volume_id] = attachment
        return attachment

    def attachment(
        self, owner: Principal, server_id: str, volume_id: str, now: float
    ) -> Attachment:
        """Return one attachment.

        Raises:
            NotFound: as Nova words it when the volume is not attached.
        """
        server = self.server(owner, server_id, now)
        found = server.attachments.get(volume_id)
        if found is None:
            raise NotFound(f"Volume {volume_id} is not attached to the instance {server_id}")
        return found

    def detach_volume(self, owner: Principal, server_id: str, volume_id: str, now: float) -> None:
        """Detach a volume.

        Raises:
            NotFound: if it is not attached.
            Conflict: in a state Nova refuses.
        """
        attachment = self.attachment(owner, server_id, volume_id, now)
        server = self.server(owner, server_id, now)
        self._check_volume_state(server, "detach_volume")
        hook = self._volumes()
        if hook is not None:
            hook.detach_volume(attachment.volume_id, server.id, now)
        del server.attachments[volume_id]

    # -- internals -------------------------------------------------------------------

    def _images(self) -> ImageCatalog | None:
        found = self.context.backends.get("image")
        return found if isinstance(found, ImageCatalog) else None

    def _volumes(self) -> VolumeHook | None:
        found = self.context.backends.get("block-storage")
        return found if isinstance(found, VolumeHook) else None

    def _check_volume_state(self, server: Server, action: str) -> None:
        self.check_state(
            server,
            Operation(action, action, VOLUME_STATES, (), any_task=False),
        )

    def _plan(self, server: Server, key: str, force_ok: bool = False) -> Plan:
        plan = self.context.scenario.plan("server", key, server.name, server.plan_key())
        if force_ok and plan.outcome is not Outcome.OK:
            return Plan(plan.duration, Outcome.OK, plan.fault_message)
        return plan

    def _start(
        self, server: Server, key: str, plan: Plan, now: float, done: Mapping[str, Any]
    ) -> None:
        steps = self._timeline(server, OPERATIONS[key], plan, now, {}, done)
        self.servers.schedule(server, now, steps)

    def _timeline(
        self,
        server: Server,
        op: Operation,
        plan: Plan,
        now: float,
        at_task: Mapping[str, Mapping[str, Any]],
        done: Mapping[str, Any],
    ) -> list[Step]:
        """Turn a plan into steps: the task states spread evenly over the duration,
        ``progress`` moving ``progress_steps`` times, then the ending."""
        start_vm = server.fields["vm_state"]
        duration = plan.duration
        steps = []
        for index, task in enumerate(op.tasks):
            changes: dict[str, Any] = {"task_state": task, "status": status_of(start_vm, task)}
            if index == 0 and op.progress:
                changes["progress"] = 0
            changes.update(at_task.get(task, {}))
            steps.append(Step(now + duration * index / len(op.tasks), changes))
        if op.progress:
            count = self.context.scenario.progress_steps
            for k in range(1, count + 1):
                fraction = k / (count + 1)
                steps.append(Step(now + duration * fraction, {"progress": round(100 * fraction)}))
        end = now + duration
        if plan.outcome is Outcome.STUCK:
            return steps
        if plan.outcome is Outcome.ERROR:
            message = plan.fault_message or (
                NO_VALID_HOST if op.key == "build" else f"Failed to {op.action} the instance"
            )
            fault = {"code": 500, "message": message, "created": end}
            steps.append(
                Step(
                    end,
                    {"vm_state": "error", "task_state": None, "status": "ERROR", "fault": fault},
                )
            )
            return steps
        vm_state = done.get("vm_state") or op.ends_in or start_vm
        final: dict[str, Any] = {"vm_state": vm_state, "task_state": None}
        if op.power is not None:
            final["power_state"] = op.power
        if op.progress:
            final["progress"] = 100
        final.update(done)
        final["status"] = status_of(final["vm_state"], None)
        steps.append(Step(end, final))
        return steps

    def _snapshot(self, server: Server, plan: Plan, now: float, params: Mapping[str, Any]) -> str:
        images = self._images()
        if images is None:
            return self.context.new_uuid()
        tasks = OPERATIONS["snapshot"].tasks
        # The image starts saving when the server reaches image_uploading.
        saving_at = now + plan.duration * (len(tasks) - 1) / len(tasks)
        done_at = now + plan.duration if plan.outcome is Outcome.OK else None
        properties = {
            **dict(params.get("metadata") or {}),
            "image_type": "snapshot",
            "instance_uuid": server.id,
            "base_image_ref": server.image_id,
            "user_id": server.user_id,
        }
        return images.start_snapshot(
            params["name"], server.project_id, properties, saving_at, done_at, now
        )

    def _addresses(
        self, server: Server, networks: str | list[Mapping[str, Any]]
    ) -> dict[str, list[dict[str, Any]]]:
        if networks == "none" or networks == []:
            return {}
        octet = server.index % 250 + 2
        mac = f"fa:16:3e:{server.index >> 16 & 255:02x}:{server.index >> 8 & 255:02x}:" + (
            f"{server.index & 255:02x}"
        )
        return {
            "private": [
                {
                    "version": 4,
                    "addr": f"10.0.{server.index // 250 % 256}.{octet}",
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": mac,
                }
            ]
        }

    def _other_host(self, server: Server) -> str:
        current = server.fields.get("host")
        return next((h for h in HOSTS if h != current), HOSTS[0])
