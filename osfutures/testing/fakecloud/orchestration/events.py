"""Heat's events and resources of a stack, planned with each stack action.

Heat records an event at every state change: the stack's own (``resource_name`` the
stack's name, type ``OS::Heat::Stack``) when an action starts and when it ends, and
each resource's ``IN_PROGRESS`` then ``COMPLETE`` (or ``FAILED``) in between. FakeCloud
plans them all when the action starts, with the stack's own steps, and shows an event
only once scenario time has reached it. A resource's state is that of its latest event
shown; one no action has reached yet is ``INIT_COMPLETE``, as heat stores it.

Resources are the template's ``resources``, worked one after another in the order
written: FakeCloud reads no dependencies (``depends_on``, ``get_resource``), so it
neither orders by them nor runs independent resources side by side as heat does.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from ..scenario import Outcome, Plan

#: The type of a stack's own events.
STACK_TYPE = "OS::Heat::Stack"
#: The reason heat's Resource.state_set gives every resource event but a failure.
STATE_CHANGED = "state changed"
#: The markers that pick the resource an ERROR (or STUCK) action ends on, as the
#: default name rules pick the stack.
CULPRIT_MARKERS = {Outcome.ERROR: "fail", Outcome.STUCK: "stuck"}
#: oslo.db's sort directions: ``asc`` or ``desc``, optionally ``-nullsfirst``/``-nullslast``.
SORT_DIRECTIONS = ("asc-nullsfirst", "asc-nullslast", "desc-nullsfirst", "desc-nullslast")


class UnknownSortDirection(BadRequest):
    """400: a ``sort_dir`` oslo.db's paginate_query refuses."""


# Heat passes sort_dir on to oslo.db, whose ValueError its fault wrapper answers with
# 400 under the exception's name; errors.render_heat names the type after the class.
UnknownSortDirection.__name__ = "ValueError"


@dataclass(frozen=True)
class TemplateResource:
    """One entry of a template's ``resources``.

    Attributes:
        name: its key in the template (heat's ``logical_resource_id``).
        type: its ``type`` (``Type`` in a CFN template).
        properties: its ``properties`` as written.
        description: its ``description``.
    """

    name: str
    type: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


#: What heat's failure text names when a stack fails whose template has no resources
#: (heat itself could not fail one): FakeCloud's failures have always named a server.
NO_RESOURCE = TemplateResource("server", "OS::Nova::Server")


def template_resources(template: Mapping[str, Any]) -> list[TemplateResource]:
    """Return a template's resources in the order written; malformed entries are read
    as far as they go (heat's validation, which would refuse them, is not modelled)."""
    section = template.get("resources", template.get("Resources"))
    if not isinstance(section, Mapping):
        return []
    found = []
    for name, spec in section.items():
        spec = spec if isinstance(spec, Mapping) else {}
        properties = spec.get("properties", spec.get("Properties"))
        found.append(
            TemplateResource(
                name=str(name),
                type=str(spec.get("type", spec.get("Type", ""))),
                properties=properties if isinstance(properties, Mapping) else {},
                description=str(spec.get("description", "")),
            )
        )
    return found


def derived_uuid(*parts: str) -> str:
    """Return a UUID4 drawn from a generator seeded by ``parts``.

    The ids of events and resources come from their stack's id, not from the cloud's
    shared sequence, so planning events shifts no other resource's id.
    """
    return str(uuid.UUID(int=random.Random("/".join(parts)).getrandbits(128), version=4))


def short_id(source: str) -> str:
    """Return heat's 12-character short id of a UUID4 (heat.common.short_id.get_id):
    the base32 of the 60 random bits of its time field."""
    bits = uuid.UUID(source).time
    packed = (bits << 4).to_bytes(8, "big")  # 60 bits, padded at the end to 64
    return base64.b32encode(packed)[:12].decode("ascii").lower()


def failure_reason(resource: TemplateResource, fault_message: str | None) -> str:
    """Return heat's ResourceFailure text for a resource that went to ERROR.

    Heat's resource plugins poll the service and raise ResourceInError quoting why;
    for a server, nova's fault (message and code).

    Args:
        fault_message: the scenario's message for the underlying fault; heat's
            ``Unknown`` when None.
    """
    if resource.type == "OS::Nova::Server":
        code = "500" if fault_message else "Unknown"  # nova records its faults as 500
        quoted = f"Message: {fault_message or 'Unknown'}, Code: {code}"
    else:
        quoted = fault_message or "Unknown"
    return f'ResourceInError: resources.{resource.name}: Went to status ERROR due to "{quoted}"'


@dataclass(frozen=True)
class StackEvent:
    """One event, as heat's event table holds it.

    Attributes:
        id: its uuid, the API's ``id``.
        sequence: its place among the stack's events: heat's row id, which breaks
            ties of its sort.
        at: the scenario time it is recorded.
        resource: the resource (for the stack's own events, the stack's name and type).
        action: CREATE, UPDATE or DELETE.
        status: IN_PROGRESS, COMPLETE or FAILED.
        reason: its ``resource_status_reason``.
        physical_resource_id: the physical resource's id once it exists, before that
            the name heat gives it; the stack's id for the stack's events.
    """

    id: str
    sequence: int
    at: float
    resource: TemplateResource
    action: str
    status: str
    reason: str
    physical_resource_id: str

    @property
    def state(self) -> str:
        """Heat's joined action and status, e.g. ``CREATE_FAILED``."""
        return f"{self.action}_{self.status}"


#: The event fields the ``sort_keys`` query may name (heat's sort_key_map).
SORT_KEYS: Mapping[str, Callable[[StackEvent], Any]] = {
    "event_time": lambda event: event.at,
    "resource_type": lambda event: event.resource.type,
}


@dataclass(frozen=True)
class Touch:
    """What one action does to one resource.

    Attributes:
        resource: the resource.
        action: CREATE, UPDATE or DELETE: a stack update creates the resources it
            adds (and those never made), updates the others, deletes those it drops.
        existed: whether its physical resource exists when the action starts.
    """

    resource: TemplateResource
    action: str
    existed: bool


@dataclass(frozen=True)
class ResourceState:
    """A resource as heat's resource list shows it at one moment.

    Attributes:
        resource: the resource.
        action: INIT (none of its events shown yet), CREATE, UPDATE or DELETE.
        status: IN_PROGRESS, COMPLETE or FAILED.
        reason: its ``resource_status_reason``.
        physical_resource_id: the physical resource's id, or empty before it exists.
        created_at: when its creation started, None before.
        updated_at: when its last update started, None before.
    """

    resource: TemplateResource
    action: str
    status: str
    reason: str
    physical_resource_id: str
    created_at: float | None
    updated_at: float | None


class EventLog:
    """The events of one stack, past and planned.

    Args:
        stack_id: the stack's id; seeds the ids of its events and resources.
        stack_name: the stack's name, which heat's physical resource names start with.

    Attributes:
        stack: what the stack's own events name as their resource.
    """

    def __init__(self, stack_id: str, stack_name: str) -> None:
        self.stack_id = stack_id
        self.stack = TemplateResource(stack_name, STACK_TYPE)
        self._events: list[StackEvent] = []
        self._sequence = 0

    def add(
        self,
        at: float,
        resource: TemplateResource,
        state: tuple[str, str],
        reason: str,
        physical_resource_id: str,
    ) -> StackEvent:
        """Record an event at ``at``, after every event recorded so far.

        Args:
            state: the action and the status.
        """
        self._sequence += 1
        action, status = state
        event = StackEvent(
            id=derived_uuid(self.stack_id, "event", str(self._sequence)),
            sequence=self._sequence,
            at=at,
            resource=resource,
            action=action,
            status=status,
            reason=reason,
            physical_resource_id=physical_resource_id,
        )
        self._events.append(event)
        return event

    def shown(self, now: float) -> list[StackEvent]:
        """Return the events recorded by ``now``, oldest first."""
        return [event for event in self._events if event.at <= now]

    def supersede(self, now: float) -> None:
        """Drop what the running action still had to do, as a stack delete cancels it.

        A resource caught in progress ends FAILED ``<ACTION> aborted`` at ``now``, as
        heat's action recorder marks a cancelled resource.
        """
        self._events = self.shown(now)
        for state in self.states(now, ()):
            if state.status == "IN_PROGRESS":
                touch = Touch(state.resource, state.action, bool(state.physical_resource_id))
                self._event(now, touch, "FAILED", f"{state.action} aborted")

    def physical(self, name: str, exists: bool) -> str:
        """Return what a resource's events show as its physical id: the physical
        resource's id once it exists, before that the name heat gives it
        (``<stack>-<resource>-<short id>``)."""
        if exists:
            return derived_uuid(self.stack_id, "physical", name)
        short = short_id(derived_uuid(self.stack_id, "resource", name))
        return f"{self.stack.name.rstrip('*')}-{name}-{short}"

    def states(self, now: float, template: Iterable[TemplateResource]) -> list[ResourceState]:
        """Return the stack's resources as of ``now``, deleted ones left out.

        They are the template's, in its order, then those an update dropped that are
        not deleted yet.

        Args:
            template: the resources of the stack's current template.
        """
        histories: dict[str, list[StackEvent]] = {}
        for event in self.shown(now):
            if event.resource != self.stack:
                histories.setdefault(event.resource.name, []).append(event)
        resources = {resource.name: resource for resource in template}
        for name, history in histories.items():
            resources.setdefault(name, history[-1].resource)
        states = [
            _state(self, resource, histories.get(name, [])) for name, resource in resources.items()
        ]
        return [s for s in states if (s.action, s.status) != ("DELETE", "COMPLETE")]

    def touches(self, action: str, now: float, template: Sequence[TemplateResource]) -> list[Touch]:
        """Return what ``action``, starting at ``now``, does to each resource, in order.

        A create makes every resource; an update makes those never made, updates the
        others and deletes (last, in reverse) those the new template drops; a delete
        deletes, in reverse, every resource an action has reached (heat skips those
        still INIT).
        """
        if action == "CREATE":
            return [Touch(resource, "CREATE", False) for resource in template]
        states = self.states(now, template)
        made = {s.resource.name for s in states if s.physical_resource_id}
        kept = {resource.name for resource in template} if action == "UPDATE" else set()
        dropped = [
            Touch(s.resource, "DELETE", s.resource.name in made)
            for s in reversed(states)
            if s.resource.name not in kept and s.action != "INIT"
        ]
        if action == "DELETE":
            return dropped
        return [
            Touch(r, "UPDATE" if r.name in made else "CREATE", r.name in made) for r in template
        ] + dropped

    def plan(self, touches: Sequence[Touch], start: float, plan: Plan) -> str | None:
        """Plan the resource events of one action, one resource after another over the
        plan's duration.

        With an OK plan every resource goes IN_PROGRESS then COMPLETE. Otherwise the
        culprit (:func:`culprit`) is the last to start: an ERROR plan fails it at the
        action's end and starts none after it (heat stops at the first failure), a
        STUCK plan never ends it.

        Returns:
            for an ERROR plan, the failure text (heat's ResourceFailure): the
            culprit's reason, or one naming a server if there are no resources.
        """
        index = culprit(touches, plan.outcome)
        worked = touches if index is None else touches[: index + 1]
        for number, touch in enumerate(worked):
            begin = start + plan.duration * number / len(worked)
            end = start + plan.duration * (number + 1) / len(worked)
            self._event(begin, touch, "IN_PROGRESS", STATE_CHANGED)
            if number != index:
                self._event(end, touch, "COMPLETE", STATE_CHANGED)
            elif plan.outcome is Outcome.ERROR:
                self._event(
                    end, touch, "FAILED", failure_reason(touch.resource, plan.fault_message)
                )
        if plan.outcome is not Outcome.ERROR:
            return None
        failed = touches[index].resource if index is not None else NO_RESOURCE
        return failure_reason(failed, plan.fault_message)

    def _event(self, at: float, touch: Touch, status: str, reason: str) -> None:
        # A completed create or update leaves the physical resource in place.
        exists = touch.existed or (status == "COMPLETE" and touch.action != "DELETE")
        physical = self.physical(touch.resource.name, exists)
        self.add(at, touch.resource, (touch.action, status), reason, physical)


def _state(
    log: EventLog, resource: TemplateResource, history: Sequence[StackEvent]
) -> ResourceState:
    """Return a resource's state after its ``history`` (INIT_COMPLETE before any)."""
    if not history:
        return ResourceState(resource, "INIT", "COMPLETE", "", "", None, None)
    latest = history[-1]
    creates = [e.at for e in history if e.state == "CREATE_IN_PROGRESS"]
    updates = [e.at for e in history if e.state == "UPDATE_IN_PROGRESS"]
    # Heat's resource list shows the physical id, or nothing before it exists.
    physical_id = log.physical(resource.name, True) if _exists(history) else ""
    return ResourceState(
        resource=latest.resource,
        action=latest.action,
        status=latest.status,
        reason=latest.reason,
        physical_resource_id=physical_id,
        created_at=creates[-1] if creates else None,
        updated_at=updates[-1] if updates else None,
    )


def _exists(history: Iterable[StackEvent]) -> bool:
    """Whether a resource's physical resource exists after these events: made by a
    completed create, gone after a completed delete."""
    exists = False
    for event in history:
        if event.state == "CREATE_COMPLETE":
            exists = True
        elif event.state == "DELETE_COMPLETE":
            exists = False
    return exists


def culprit(touches: Sequence[Touch], outcome: Outcome) -> int | None:
    """Return the index of the resource an ERROR or STUCK action ends on, None for an
    OK one (or one with no resources): the first whose name carries the outcome's
    marker (``fail``, ``stuck``), else the last."""
    marker = CULPRIT_MARKERS.get(outcome)
    if marker is None or not touches:
        return None
    marked = [i for i, touch in enumerate(touches) if marker in touch.resource.name]
    return marked[0] if marked else len(touches) - 1


@dataclass(frozen=True)
class EventQuery:
    """The query of heat's event list.

    Attributes:
        filters: allowed values by event field (``resource_status``,
            ``resource_action``, ``resource_name``, ``resource_type``); heat matches the
            status and the action apart (``FAILED``, not ``CREATE_FAILED``).
        sort_keys: the ``sort_keys`` given; those heat cannot sort by are dropped.
        sort_dir: ``sort_dir`` as given, or None.
        limit: at most this many events.
        marker: the id of the event the page starts after.
        nested_depth: how deep into nested stacks to list (FakeCloud has none; heat
            links the root stack from each event when it is given).
    """

    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    sort_keys: Sequence[str] = ()
    sort_dir: str | None = None
    limit: int | None = None
    marker: str | None = None
    nested_depth: int = 0


def _field(event: StackEvent, name: str) -> str:
    values = {
        "resource_status": event.status,
        "resource_action": event.action,
        "resource_name": event.resource.name,
        "resource_type": event.resource.type,
    }
    return values[name]


def descending(sort_dir: str) -> bool:
    """Return whether oslo.db sorts ``sort_dir`` descending.

    Raises:
        UnknownSortDirection: for anything but its directions.
    """
    main, _, nulls = sort_dir.partition("-")
    if main not in ("asc", "desc") or nulls not in ("", "nullsfirst", "nullslast"):
        raise UnknownSortDirection(
            f"Unknown sort direction, must be one of: {', '.join(SORT_DIRECTIONS)}"
        )
    return main == "desc"


def select(events: Sequence[StackEvent], query: EventQuery) -> list[StackEvent]:
    """Filter, sort and page events as heat's event list does.

    With no sort key heat sorts by time, newest first unless ``sort_dir`` says; with one
    it sorts ascending unless told. Ties go by the order events were recorded.

    Raises:
        UnknownSortDirection: for a ``sort_dir`` oslo.db refuses.
    """
    kept = [
        event
        for event in events
        if all(_field(event, name) in values for name, values in query.filters.items())
    ]
    keys = [SORT_KEYS[name] for name in query.sort_keys if name in SORT_KEYS]
    sort_dir = query.sort_dir
    if not keys:
        keys, sort_dir = [SORT_KEYS["event_time"]], sort_dir or "desc"
    reverse = descending(sort_dir if sort_dir is not None else "asc")

    def order(event: StackEvent) -> tuple[Any, ...]:
        return (*(key(event) for key in keys), event.sequence)

    ordered = sorted(kept, key=order, reverse=reverse)
    marker = next((event for event in events if event.id == query.marker), None)
    if marker is not None:
        # The page starts after the marker in sort order; an unknown marker is ignored.
        after = order(marker)
        ordered = [e for e in ordered if (order(e) < after if reverse else order(e) > after)]
    return ordered if query.limit is None else ordered[: query.limit]
