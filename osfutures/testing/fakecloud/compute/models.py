"""Nova's backend: flavors, servers and the instance state machine, with no HTTP.

Each server operation is an :class:`Operation` declaration: the ``vm_state`` values it
may start from, the task states it passes through, where it ends, and the instance
action and events Nova records for it. When an operation is accepted the scenario plans
it and the whole timeline becomes timestamped steps at once; reads fold the due steps in
(see :mod:`..lifecycle`). Its :class:`InstanceAction` is planned at the same moment, and
shows as of the time it is asked for.
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
from ..service import CloudContext, Principal, new_request_id

NOSTATE, RUNNING, SHUTDOWN = 0, 1, 4
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
HOSTS = ("compute1", "compute2")
#: The one availability zone, Nova's default.
AVAILABILITY_ZONE = "nova"
#: Where nova-conductor runs: the host of its events (its ``CONF.host``).
CONDUCTOR_HOST = "controller"
#: The instance action event results (nova.objects.instance_action's
#: ``pack_action_event_finish``).
SUCCESS, ERROR = "Success", "Error"

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
        tasks: the task states it passes through, the first set at once by the API;
            None is a stretch with no task (a build's, between nova-conductor and the
            compute host).
        weights: each task's share of the duration; empty for equal shares.
        ends_in: the vm_state on success; None keeps the one it started from.
        power: the power state on success; None keeps it.
        progress: whether ``progress`` moves while it runs (libvirt reports a live
            migration's; Nova leaves every other operation's at 0, and sets it back to 0
            when the migration ends).
        any_task: whether it may start while another task runs.
        host_first: whether Nova checks that the server has a host before its state
            (``check_instance_host`` is the outer decorator of ``stop`` and ``start``).
        events: the instance action events Nova's services record for it, in the order
            they start.
        enclosing: the event, among ``events``, that runs until the operation ends with
            the events after it nested inside (``compute_live_migration`` holds
            ``pre_live_migration`` and ``post_live_migration_at_destination``); it carries
            the ending. Empty: the events run one after another and the last carries it.
        recorded_as: the instance action Nova records, when not ``action``.
        revertible: whether Nova can undo it when it fails (see ``Outcome.REVERT``).
    """

    key: str
    action: str
    from_states: frozenset[str]
    tasks: tuple[str | None, ...]
    weights: tuple[float, ...] = ()
    ends_in: str | None = "active"
    power: int | None = RUNNING
    progress: bool = False
    any_task: bool = False
    host_first: bool = False
    events: tuple[str, ...] = ()
    enclosing: str = ""
    recorded_as: str = ""
    revertible: bool = True

    @property
    def instance_action(self) -> str:
        """The ``action`` of the instance action Nova records for it."""
        return self.recorded_as or self.action

    def task_starts(self) -> list[float]:
        """Where each task starts, as a fraction of the duration."""
        weights = self.weights or (1.0,) * len(self.tasks)
        total = sum(weights)
        starts, at = [], 0.0
        for weight in weights:
            starts.append(at / total)
            at += weight
        return starts


def _op(key: str, action: str, states: str, tasks: str, events: str, **kwargs: Any) -> Operation:
    return Operation(
        key,
        action,
        frozenset(states.split()),
        tuple(tasks.split()),
        events=tuple(events.split()),
        **kwargs,
    )


RESIZE_TASKS = "resize_prep resize_migrating resize_migrated resize_finish"
# The events: nova/compute/manager.py's ComputeManager methods under
# @wrap_instance_event(prefix="compute") are "compute_<method>", nova/conductor/manager.py's
# under prefix "conductor" are "conductor_<method>", and its EventReporter blocks are
# named bare ("cold_migrate", "rebuild_server"). Where Nova's events nest (cold_migrate runs
# inside conductor_migrate_server, pre_live_migration inside live_migration) FakeCloud
# runs them one after another over the operation's duration, and the last one carries the
# ending: an Error there is the action's failure.
RESIZE_EVENTS = (
    "conductor_migrate_server cold_migrate compute_prep_resize compute_resize_instance"
    " compute_finish_resize"
)
# compute_live_migration runs on the source until the migration ends, with
# pre_live_migration (on the destination) and post_live_migration_at_destination inside
# it; it is the event that fails a failed live migration.
LIVE_MIGRATION_EVENTS = (
    "conductor_live_migrate_instance compute_check_can_live_migrate_destination"
    " compute_check_can_live_migrate_source compute_live_migration compute_pre_live_migration"
    " compute_post_live_migration_at_destination"
)
#: A build: nova-conductor schedules it (while it is still a build request), the compute
#: host clears the task state while it claims resources, sets ``networking`` (allocation
#: runs in the background, so Nova holds it for milliseconds, even for ``networks:
#: "none"``) and ``block_device_mapping`` (quick for an image boot), then ``spawning``
#: while the hypervisor boots it.
BUILD_TASKS: tuple[str | None, ...] = (
    "scheduling",
    None,
    "networking",
    "block_device_mapping",
    "spawning",
)
BUILD_WEIGHTS = (0.15, 0.05, 0.025, 0.025, 0.75)
OPERATIONS: dict[str, Operation] = {
    op.key: op
    for op in (
        # A failed build is buried in cell0 with conductor_schedule_and_build_instances
        # instead (see ComputeBackend.create_server).
        Operation(
            "build",
            "build",
            frozenset(),
            BUILD_TASKS,
            BUILD_WEIGHTS,
            events=("compute__do_build_and_run_instance",),
            recorded_as="create",
            revertible=False,
        ),
        _op(
            "reboot",
            "reboot",
            "active",
            "rebooting reboot_pending reboot_started",
            "compute_reboot_instance",
        ),
        _op(
            "hard_reboot",
            "reboot",
            "active stopped error",
            "rebooting_hard reboot_pending_hard reboot_started_hard",
            "compute_reboot_instance",
        ),
        _op(
            "resize",
            "resize",
            "active stopped",
            RESIZE_TASKS,
            RESIZE_EVENTS,
            ends_in="resized",
            power=None,
        ),
        _op(
            "migrate",
            "migrate",
            "active stopped",
            RESIZE_TASKS,
            RESIZE_EVENTS,
            ends_in="resized",
            power=None,
        ),
        _op(
            "confirm_resize",
            "confirmResize",
            "resized",
            "",
            "compute_confirm_resize",
            ends_in=None,
            power=None,
        ),
        _op(
            "revert_resize",
            "revertResize",
            "resized",
            "resize_reverting",
            "compute_revert_resize compute_finish_revert_resize",
            ends_in=None,
            power=None,
        ),
        _op(
            "snapshot",
            "createImage",
            "active stopped paused suspended",
            "image_snapshot_pending image_snapshot image_pending_upload image_uploading",
            "compute_snapshot_instance",
            ends_in=None,
            power=None,
        ),
        _op(
            "rebuild",
            "rebuild",
            "active stopped error",
            "rebuilding rebuild_block_device_mapping rebuild_spawning",
            "rebuild_server compute_rebuild_instance",
        ),
        _op(
            "start",
            "start",
            "stopped",
            "powering-on",
            "compute_start_instance",
            host_first=True,
        ),
        _op(
            "stop",
            "stop",
            "active error",
            "powering-off",
            "compute_stop_instance",
            ends_in="stopped",
            power=SHUTDOWN,
            host_first=True,
        ),
        _op(
            "live_migrate",
            "os-migrateLive",
            "active paused",
            "migrating",
            LIVE_MIGRATION_EVENTS,
            ends_in=None,
            power=None,
            progress=True,
            enclosing="compute_live_migration",
            recorded_as="live-migration",
        ),
        _op(
            "delete",
            "delete",
            "",
            "deleting",
            "compute_terminate_instance",
            ends_in="deleted",
            power=NOSTATE,
            any_task=True,
            revertible=False,
        ),
    )
}
#: Events nova-conductor records, on its own host.
CONDUCTOR_EVENTS = frozenset(
    {
        "conductor_schedule_and_build_instances",
        "conductor_migrate_server",
        "cold_migrate",
        "rebuild_server",
        "conductor_live_migrate_instance",
    }
)
#: Compute events that run on the host a server moves to; the others run on the host it
#: is on when the action starts.
DESTINATION_EVENTS = frozenset(
    {
        "compute_prep_resize",
        "compute_finish_resize",
        "compute_check_can_live_migrate_destination",
        "compute_pre_live_migration",
        "compute_post_live_migration_at_destination",
    }
)

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


def host_id(project_id: str, host: str | None) -> str:
    """Nova's hostId (nova.utils.generate_hostid): a per-project hash of a host, empty
    without one."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


@dataclass(frozen=True)
class ActionEvent:
    """One event of an instance action, planned whole when the action starts.

    Attributes:
        event: Nova's name for it (``compute_stop_instance``).
        start_time: the scenario time it starts.
        finish_time: the scenario time it ends; None if it never does (a stuck plan).
        result: ``Success`` or ``Error``: what it ends with.
        host: the service host it runs on.
        details: an Error's message (Nova keeps the exception's), else None.
    """

    event: str
    start_time: float
    finish_time: float | None
    result: str
    host: str
    details: str | None = None

    def finished(self, now: float) -> bool:
        """Whether it has ended by ``now``: before, Nova shows no finish_time, no result."""
        return self.finish_time is not None and self.finish_time <= now

    def moments(self, now: float) -> list[float]:
        """Its start and finish times that have come by ``now``."""
        return [t for t in (self.start_time, self.finish_time) if t is not None and t <= now]


@dataclass(frozen=True)
class InstanceAction:
    """Nova's record of one operation on a server, as nova.objects.InstanceAction.

    Attributes:
        action: Nova's action name (``stop``, ``create``, ``live-migration``).
        instance_uuid: the server.
        request_id: the id of the request that started it.
        user_id: who asked (the caller, not the server's owner).
        project_id: the caller's project.
        start_time: when the request came (the API's ``context.timestamp``).
        recorded_at: when the record exists: the request's time, except for a create,
            which nova-conductor records once the server is scheduled.
        sequence: its place among the server's actions, for Nova's newest-first order.
        events: its events, in the order they start.
    """

    action: str
    instance_uuid: str
    request_id: str
    user_id: str
    project_id: str
    start_time: float
    recorded_at: float
    sequence: int
    events: tuple[ActionEvent, ...]

    @property
    def order(self) -> tuple[float, int]:
        """Nova's sort key of actions (created_at, id), newest last."""
        return (self.recorded_at, self.sequence)

    def events_at(self, now: float) -> list[ActionEvent]:
        """The events started by ``now``, newest first, as Nova lists them."""
        return [e for e in reversed(self.events) if e.start_time <= now]

    def message_at(self, now: float) -> str | None:
        """``Error`` once an event has ended in Error (Nova's action_event_finish), else None."""
        failed = any(e.result == ERROR and e.finished(now) for e in self.events)
        return ERROR if failed else None

    def updated_at(self, now: float) -> float:
        """The time of the last event start or finish by ``now``: Nova moves the action's
        ``updated_at`` at each; the request's time before any."""
        return max([self.start_time, *(t for e in self.events for t in e.moments(now))])


class Server(OwnedResource):
    """A Nova instance; the time-varying fields live in ``fields``.

    ``fields`` keys: status, vm_state, task_state, power_state, progress, host, fault,
    flavor_id, addresses, launched_at, terminated_at, deleted, metadata, build_request
    (see :attr:`build_request`), zone (the availability zone it shows).
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
        #: Nova's instance actions on it, oldest first.
        self.actions: list[InstanceAction] = []

    @property
    def status(self) -> str:
        """The API status as of the last settle."""
        return str(self.fields["status"])

    @property
    def build_request(self) -> bool:
        """Whether it is still a build request (as of the last settle): nova-conductor
        has not yet made it an instance in a cell (``scheduling``), so Nova shows it
        from the API database, lists it whatever ``changes-since`` or
        ``changes-before`` say, and stores no ``updated_at`` for it."""
        return bool(self.fields.get("build_request"))

    def host_id(self) -> str:
        """Nova's hostId: a per-project hash of the host, empty without a host."""
        return host_id(self.project_id, self.fields.get("host"))


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
        #: Ids of servers that may still be build requests; pruned as they stop being.
        self._booking: set[str] = set()

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

    def server(
        self, owner: Principal, server_id: str, now: float, include_deleted: bool = False
    ) -> Server:
        """Return a server of the caller's project as of ``now``.

        Args:
            include_deleted: find a deleted server too (Nova's ``read_deleted``).

        Raises:
            NotFound: if it does not exist, is deleted (unless ``include_deleted``), or
                belongs to another project.
        """
        found: Server | None = find_owned(self.servers, owner, server_id, now, include_deleted)
        if found is None:
            raise NotFound(f"Instance {server_id} could not be found.")
        return found

    def cell_instance(self, owner: Principal, server_id: str, now: float) -> Server:
        """Return a server as Nova's ``os-start``/``os-stop`` look it up: through its
        instance mapping, straight in its cell, so a build request is not found.

        Raises:
            NotFound: ``Instance X has no mapping to a cell.`` for an id Nova never had;
                ``Instance X could not be found.`` for a build request, a deleted server
                or another project's.
        """
        if self.servers.get(server_id, now, include_deleted=True) is None:
            raise NotFound(f"Instance {server_id} has no mapping to a cell.")
        server = self.server(owner, server_id, now)
        if server.build_request:
            raise NotFound(f"Instance {server_id} could not be found.")
        return server

    def build_requests(self, now: float) -> list[Server]:
        """The servers that are build requests at ``now``, newest first."""
        found = []
        for server_id in list(self._booking):
            server = self.servers.get(server_id, now)
            if server is None or not server.build_request:
                self._booking.discard(server_id)
            else:
                found.append(server)
        return sorted(found, key=lambda s: (s.created_at, s.id), reverse=True)

    def server_actions(
        self, server: Server, now: float, changes: tuple[float | None, float | None] = (None, None)
    ) -> list[InstanceAction]:
        """Return the server's instance actions recorded by ``now``, newest first.

        Args:
            changes: ``(since, before)``: keep those whose ``updated_at`` is at or after
                ``since`` and at or before ``before`` (changes-since, changes-before);
                None leaves that end open.
        """
        since, before = changes
        found = []
        for action in sorted(server.actions, key=lambda a: a.order, reverse=True):
            if action.recorded_at > now:
                continue
            updated = action.updated_at(now)
            if (since is not None and updated < since) or (before is not None and updated > before):
                continue
            found.append(action)
        return found

    def server_action(self, server: Server, request_id: str, now: float) -> InstanceAction:
        """Return the server's instance action started by the request ``request_id``.

        Raises:
            NotFound: if it has none recorded by ``now``, as Nova words it.
        """
        for action in self.server_actions(server, now):
            if action.request_id == request_id:
                return action
        raise NotFound(f"Action {request_id} not found")

    def list_servers(
        self,
        owner: Principal,
        now: float,
        *,
        since: float | None = None,
        before: float | None = None,
        statuses: frozenset[str] = frozenset(),
        name: str | None = None,
    ) -> list[Server]:
        """Return the caller's servers as Nova filters them: build requests first (they
        match ``changes-since`` and ``changes-before`` whatever their times), then the
        others newest first.

        With ``since`` or ``before`` (changes-since/-before) deleted servers are
        included; otherwise only with ``DELETED`` among ``statuses`` (any of which a
        server may show).
        """
        pattern = re.compile(name) if name else None
        changes = since is not None or before is not None
        booking = self.build_requests(now)
        candidates: list[Server]
        if since is not None:
            candidates = self.servers.changed_between(since, before or now, now)
        else:
            candidates = list(self.servers.newest_first(now))
        result = []
        for server in [*booking, *(s for s in candidates if not s.build_request)]:
            if server.project_id != owner.project_id:
                continue
            if before is not None and server.updated_at > before and not server.build_request:
                continue
            if server.deleted and not (changes or "DELETED" in statuses):
                continue
            if statuses and server.status not in statuses:
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
        request_id: str | None = None,
        availability_zone: str | None = None,
    ) -> Server:
        """Accept a boot request; the server starts in BUILD.

        Args:
            request: the other accepted fields (key_name, description, ...), shown
                back as Nova shows them.
            request_id: the request's id, which its ``create`` instance action records;
                a new one when omitted.
            availability_zone: ``ZONE``, ``ZONE:HOST``, ``ZONE:HOST:NODE`` or
                ``ZONE::NODE``, as Nova reads it: the zone (``nova``, the only one, or
                empty) is shown from the start (and as ``pinned_availability_zone``);
                a host or node forces it there, and one that does not exist makes the
                build fail as no host takes it (``No valid host was found. No such
                host ...``).

        Raises:
            BadRequest: on an unknown flavor, image or zone, as Nova answers.
        """
        if flavor_id not in self.flavors:
            raise BadRequest(f"Flavor {flavor_id} could not be found.")
        images = self._images()
        if images is not None and images.bootable(image_id, now) is None:
            raise BadRequest("Can not find requested image")
        zone, _, forced = (availability_zone or "").partition(":")
        forced_host, _, forced_node = forced.partition(":")
        if zone not in ("", AVAILABILITY_ZONE):
            raise BadRequest("The requested availability zone is not available")
        no_such_host = None
        if any(h not in HOSTS for h in (forced_host, forced_node) if h):
            # nova-scheduler's NoValidHost, as its host manager words a forced host or
            # node it does not know.
            no_such_host = (
                f"No valid host was found. No such host - host: {forced_host or None}"
                f" node: {forced_node or None} "
            )
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
                "build_request": True,
                "zone": zone or None,
            },
            name=name,
            owner=owner,
            image_id=image_id,
            index=self._launched,
            request={**request, "availability_zone": zone or None},
        )
        plan = self._plan(server, "build")
        if no_such_host is not None:
            plan = Plan(plan.duration, Outcome.ERROR, no_such_host)
        host = forced_host or forced_node or HOSTS[self._launched % len(HOSTS)]
        op = OPERATIONS["build"]
        end = now + plan.duration
        if plan.outcome is Outcome.ERROR:
            # No host takes it: it stays a build request, scheduling, until
            # nova-conductor buries it in cell0 in ERROR, and only then records the
            # action, with its own event failed (_create_instance_action_for_cell0).
            failed = ActionEvent(
                "conductor_schedule_and_build_instances",
                end,
                end,
                ERROR,
                CONDUCTOR_HOST,
                self._failure(op, plan),
            )
            self._record(server, op, owner, now, request_id, [failed], recorded_at=end)
            steps = [Step(end, self._failed(op, plan, end) | {"build_request": False})]
        else:
            # nova-conductor makes it an instance in a cell on the host's zone and
            # records the action once it is scheduled (the request's time its start);
            # the compute host claims it (its host) and allocates its networks.
            scheduled = now + plan.duration * op.task_starts()[1]
            extra: dict[str | None, dict[str, Any]] = {
                None: {"build_request": False, "zone": AVAILABILITY_ZONE},
                "networking": {"host": host, "addresses": self._addresses(server, networks)},
            }
            steps = self._timeline(server, op, plan, now, extra, {"launched_at": end})
            events = self._events(op, plan, scheduled, end, host, host)
            self._record(server, op, owner, now, request_id, events, recorded_at=scheduled)
        self._booking.add(server.id)
        return self.servers.add(server, steps)

    def delete_server(
        self, owner: Principal, server_id: str, now: float, request_id: str | None = None
    ) -> None:
        """Start deleting: task_state ``deleting``, then ``DELETED`` and 404 on GET.

        A build request is gone at once, listed nowhere after (Nova deletes the
        request, there is no instance yet); a server on no host (one no host took, in
        ERROR) is deleted by the API itself, at once (``API._local_delete``).

        Args:
            request_id: the request's id, which its ``delete`` instance action records;
                a new one when omitted.
        """
        server = self.server(owner, server_id, now)
        if server.build_request:
            self._booking.discard(server.id)
            self.servers.discard(server.id)
            return
        if server.fields["task_state"] == "deleting":
            # Nova returns before it records an action (compute.api.API._delete).
            return
        local = server.fields["host"] is None
        plan = Plan(0.0, Outcome.OK, None) if local else self._plan(server, "delete", True)
        end = now + plan.duration
        hook = self._volumes()
        for attachment in server.attachments.values():
            if hook is not None:
                hook.detach_volume(attachment.volume_id, server.id, end)
        # Faults are soft-deleted with the instance: a DELETED listing shows none.
        done = {
            "terminated_at": end,
            "deleted": True,
            "metadata": {},
            "progress": 0,
            "fault": None,
        }
        # Nova destroys a server that never reached a host (unless it failed, which may
        # have left ports or volumes) without recording an action (API._delete).
        recorded = not local or server.fields["vm_state"] == "error"
        self._start(server, "delete", plan, now, done, owner, request_id, record=recorded)

    def act(
        self,
        owner: Principal,
        server_id: str,
        key: str,
        now: float,
        *,
        request_id: str | None = None,
        **params: Any,
    ) -> Any:
        """Start a server action: ``reboot``, ``hard_reboot``, ``resize``, ``migrate``,
        ``confirm_resize``, ``revert_resize``, ``snapshot``, ``rebuild``, ``start``,
        ``stop`` or ``live_migrate``.

        Args:
            request_id: the request's id, which the action's instance action records; a
                new one when omitted.
            params: ``flavor_id`` (resize), ``name`` and ``metadata`` (snapshot),
                ``image_id`` and ``name`` (rebuild), ``host`` (live_migrate).

        Returns:
            the image id for ``snapshot``, else None.

        Raises:
            NotFound: if there is no such server; for ``start`` and ``stop`` also while
                it is a build request (see :meth:`cell_instance`).
            Conflict: if the server is in the wrong state or has no host, as Nova
                answers (checking the host first for ``start`` and ``stop``).
            BadRequest: on an invalid flavor, image or resize to the same flavor.
        """
        op = OPERATIONS[key]
        if key in ("start", "stop"):
            server = self.cell_instance(owner, server_id, now)
        else:
            server = self.server(owner, server_id, now)
        if op.host_first:
            self._check_host(server)
        self.check_state(server, op)
        self._check_host(server)
        done: dict[str, Any] = {}
        if key in ("resize", "migrate"):
            new_flavor = params.get("flavor_id", server.fields["flavor_id"])
            if key == "resize":
                if new_flavor not in self.flavors:
                    # Nova's controller turns the FlavorNotFound into a 400.
                    raise BadRequest(f"Flavor {new_flavor} could not be found.")
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
                raise BadRequest("Cannot find image for rebuild")
            server.image_id = image_id
            server.name = params.get("name") or server.name
            if server.fields["vm_state"] == "stopped":
                done = {"vm_state": "stopped", "power_state": SHUTDOWN}
        plan = self._plan(server, key)
        result = None
        if key == "snapshot":
            result = self._snapshot(server, plan, now, params)
        self._start(server, key, plan, now, done, owner, request_id)
        return result

    @staticmethod
    def _check_host(server: Server) -> None:
        """Nova's check_instance_host: a server on no host cannot act.

        Raises:
            Conflict: ``Instance X is not ready``.
        """
        if server.fields["host"] is None:
            raise Conflict(f"Instance {server.id} is not ready")

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
        revertible = OPERATIONS[key].revertible
        plan = self.context.scenario.plan(
            "server", key, server.name, server.plan_key(), revertible=revertible
        )
        if force_ok and plan.outcome is not Outcome.OK:
            return Plan(plan.duration, Outcome.OK, plan.fault_message)
        return plan

    def _start(
        self,
        server: Server,
        key: str,
        plan: Plan,
        now: float,
        done: Mapping[str, Any],
        caller: Principal,
        request_id: str | None,
        record: bool = True,
    ) -> None:
        """Schedule an operation on an existing server and record its instance action.

        Args:
            caller: who asked, whom the action names.
            request_id: the id its action records; a new one when None.
            record: whether Nova records an action for it.
        """
        op = OPERATIONS[key]
        steps = self._timeline(server, op, plan, now, {}, done)
        if record:
            source = server.fields["host"]
            events = self._events(op, plan, now, now + plan.duration, source, done.get("host"))
            self._record(server, op, caller, now, request_id, events)
        # Should a later operation cut this one short (only a delete can), its action keeps
        # the events planned: Nova's per-instance lock would let it finish first.
        self.servers.schedule(server, now, steps)

    def _record(
        self,
        server: Server,
        op: Operation,
        caller: Principal,
        now: float,
        request_id: str | None,
        events: Sequence[ActionEvent],
        recorded_at: float | None = None,
    ) -> None:
        """Add the instance action of ``op``, asked by ``caller`` at ``now``.

        Args:
            recorded_at: when the record appears; ``now`` when None.
        """
        action = InstanceAction(
            action=op.instance_action,
            instance_uuid=server.id,
            request_id=request_id or new_request_id(),
            user_id=caller.user_id,
            project_id=caller.project_id,
            start_time=now,
            recorded_at=now if recorded_at is None else recorded_at,
            sequence=len(server.actions),
            events=tuple(events),
        )
        server.actions.append(action)

    def _events(
        self,
        op: Operation,
        plan: Plan,
        begin: float,
        end: float,
        source: str | None,
        destination: str | None,
    ) -> list[ActionEvent]:
        """Nova's events of ``op`` from ``begin`` to ``end``, one after another, or nested
        in ``op.enclosing``; the last (or the enclosing one) ends as the plan does
        (never if stuck, in Error if it fails or is undone). A migration that fails or
        never ends reaches no nested event after the first (no
        ``post_live_migration_at_destination``).

        Args:
            source: the host the server is on; None for a server on no host, which the
                API deletes itself, with no event (API._local_delete).
            destination: the host it moves to; None if it stays.
        """
        if source is None:
            return []
        names = op.events
        ending = names.index(op.enclosing) if op.enclosing else len(names) - 1
        if op.enclosing and plan.outcome is not Outcome.OK:
            names = names[: ending + 2]
        span = (end - begin) / len(names)
        failed = plan.outcome in (Outcome.ERROR, Outcome.REVERT)
        events = []
        for index, name in enumerate(names):
            host = self._event_host(name, source, destination)
            start = begin + span * index
            if index != ending:
                finish = begin + span * (index + 1)
                events.append(ActionEvent(name, start, min(finish, end), SUCCESS, host))
                continue
            events.append(
                ActionEvent(
                    name,
                    start,
                    None if plan.outcome is Outcome.STUCK else end,
                    ERROR if failed else SUCCESS,
                    host,
                    self._failure(op, plan) if failed else None,
                )
            )
        return events

    @staticmethod
    def _event_host(event: str, source: str, destination: str | None) -> str:
        if event in CONDUCTOR_EVENTS:
            return CONDUCTOR_HOST
        if event in DESTINATION_EVENTS:
            return destination or source
        return source

    @staticmethod
    def _failure(op: Operation, plan: Plan) -> str:
        """The message of a failed operation: its fault's and its failed event's."""
        if plan.fault_message:
            return plan.fault_message
        return NO_VALID_HOST if op.key == "build" else f"Failed to {op.action} the instance"

    def _failed(self, op: Operation, plan: Plan, end: float) -> dict[str, Any]:
        """The changes of an operation that ends in ERROR at ``end``, with its fault."""
        fault = {"code": 500, "message": self._failure(op, plan), "created": end}
        return {"vm_state": "error", "task_state": None, "status": "ERROR", "fault": fault}

    def _timeline(
        self,
        server: Server,
        op: Operation,
        plan: Plan,
        now: float,
        at_task: Mapping[str | None, Mapping[str, Any]],
        done: Mapping[str, Any],
    ) -> list[Step]:
        """Turn a plan into steps: the task states over the duration (in the shares of
        ``op.weights``), ``progress`` moving ``progress_steps`` times for an operation
        that reports it, then the ending.

        Nova leaves ``progress`` at 0 through builds, resizes, migrations, snapshots
        and rebuilds (its API sets it to 0 as they start); only libvirt's live
        migration reports it, and Nova sets it back to 0 as the migration ends, well or
        not.
        """
        start_vm = server.fields["vm_state"]
        duration = plan.duration
        steps = []
        for task, start in zip(op.tasks, op.task_starts(), strict=True):
            changes: dict[str, Any] = {"task_state": task, "status": status_of(start_vm, task)}
            changes.update(at_task.get(task, {}))
            steps.append(Step(now + duration * start, changes))
        if op.progress:
            steps[0] = Step(steps[0].at, {**steps[0].changes, "progress": 0})
            count = self.context.scenario.progress_steps
            for k in range(1, count + 1):
                fraction = k / (count + 1)
                steps.append(Step(now + duration * fraction, {"progress": round(100 * fraction)}))
        end = now + duration
        if plan.outcome is Outcome.STUCK:
            return steps
        ended: dict[str, Any] = {"progress": 0} if op.progress else {}
        if plan.outcome is Outcome.ERROR:
            steps.append(Step(end, self._failed(op, plan, end) | ended))
            return steps
        if plan.outcome is Outcome.REVERT:
            # Nova's reverts_task_state (or nova-conductor, for a move no host takes) puts
            # task_state back and leaves vm_state and power_state; the fault is recorded
            # all the same (wrap_instance_fault), but Nova shows a fault only on an ERROR
            # or DELETED server, so the instance action alone tells the failure.
            undone: dict[str, Any] = {
                "task_state": None,
                "status": status_of(start_vm, None),
                "fault": self._failed(op, plan, end)["fault"],
                **ended,
            }
            steps.append(Step(end, undone))
            return steps
        vm_state = done.get("vm_state") or op.ends_in or start_vm
        final: dict[str, Any] = {"vm_state": vm_state, "task_state": None, **ended}
        if op.power is not None:
            final["power_state"] = op.power
        final.update(done)
        final["status"] = status_of(final["vm_state"], None)
        steps.append(Step(end, final))
        return steps

    def _snapshot(self, server: Server, plan: Plan, now: float, params: Mapping[str, Any]) -> str:
        images = self._images()
        if images is None:
            return self.context.new_uuid()
        # The image starts saving when the server reaches image_uploading.
        saving_at = now + plan.duration * OPERATIONS["snapshot"].task_starts()[-1]
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
