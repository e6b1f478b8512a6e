"""Resources whose fields change over scenario time, computed lazily on read.

An operation turns its plan into :class:`Step` objects with absolute scenario times the
moment it starts. A store folds the steps that are due into the resource whenever it is
read; nothing runs in the background. Every step time is also put in a sorted index, so
"what changed since T" costs the number of changes since T, not the number of resources.

Stores do no locking: the HTTP layer holds the cloud lock around each request, and the
Python API takes the same lock.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .accounting import Accounting

if TYPE_CHECKING:
    from .service import Principal


@dataclass(frozen=True)
class Step:
    """Field changes that take effect at scenario time ``at``."""

    at: float
    changes: Mapping[str, Any]


class Resource:
    """A resource with time-varying ``fields``.

    Args:
        resource_id: the id.
        created_at: scenario time of creation.
        fields: the initial fields; ``fields["deleted"]`` true hides the resource from
            reads by id and from plain lists (Nova's soft delete).
    """

    def __init__(self, resource_id: str, created_at: float, fields: dict[str, Any]) -> None:
        self.id = resource_id
        self.created_at = created_at
        self.updated_at = created_at
        self.fields = fields
        self.pending: list[Step] = []
        #: Operations started so far: with the id, the seed of each operation's plan.
        self.operations = 0

    @property
    def deleted(self) -> bool:
        """Whether the resource is gone for reads by id."""
        return bool(self.fields.get("deleted"))

    def plan_key(self) -> str:
        """Return a key unique to the next operation, and count it."""
        self.operations += 1
        return f"{self.id}/{self.operations}"


R = TypeVar("R", bound=Resource)


class ResourceStore(Generic[R]):
    """The resources of one kind, indexed by creation and by change time.

    Args:
        kind: the resource type, for accounting (``"server"``).
        accounting: where state transitions are recorded.
        state_field: the field whose changes count as state transitions.
    """

    def __init__(self, kind: str, accounting: Accounting, state_field: str = "status") -> None:
        self.kind = kind
        self._accounting = accounting
        self._state_field = state_field
        self._items: dict[str, R] = {}
        self._by_created: list[tuple[float, str]] = []
        self._changes: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._items)

    def add(self, resource: R, steps: Iterable[Step] = ()) -> R:
        """Store a new resource and schedule its first steps; return it."""
        self._items[resource.id] = resource
        bisect.insort(self._by_created, (resource.created_at, resource.id))
        self._index(resource.created_at, resource.id)
        self._record(resource, resource.fields.get(self._state_field), resource.created_at)
        self.schedule(resource, resource.created_at, steps)
        return resource

    def schedule(self, resource: R, now: float, steps: Iterable[Step]) -> None:
        """Replace what is still to come for ``resource`` with ``steps``.

        Steps due by ``now`` take effect at once; the rest wait for a read.
        """
        self.settle(resource, now)
        resource.pending = sorted(steps, key=lambda step: step.at)
        for step in resource.pending:
            self._index(step.at, resource.id)
        self.settle(resource, now)

    def settle(self, resource: R, now: float) -> R:
        """Fold the steps due by ``now`` into the resource; return it."""
        pending = resource.pending
        due = 0
        while due < len(pending) and pending[due].at <= now:
            step = pending[due]
            before = resource.fields.get(self._state_field)
            resource.fields.update(step.changes)
            resource.updated_at = step.at
            after = resource.fields.get(self._state_field)
            if after != before:
                self._record(resource, after, step.at)
            due += 1
        if due:
            del pending[:due]
        return resource

    def get(self, resource_id: str, now: float, include_deleted: bool = False) -> R | None:
        """Return the resource as of ``now``, or None if absent (or deleted)."""
        resource = self._items.get(resource_id)
        if resource is None:
            return None
        self.settle(resource, now)
        if resource.deleted and not include_deleted:
            return None
        return resource

    def discard(self, resource_id: str) -> None:
        """Forget a resource (a hard delete); its transition history stays recorded."""
        resource = self._items.pop(resource_id, None)
        if resource is not None:
            self._by_created.remove((resource.created_at, resource.id))

    def newest_first(self, now: float) -> Iterator[R]:
        """Yield every resource, deleted ones included, newest first (ties: id desc)."""
        for _, resource_id in reversed(self._by_created):
            resource = self._items.get(resource_id)
            if resource is not None:
                yield self.settle(resource, now)

    def changed_between(self, since: float, until: float, now: float) -> list[R]:
        """Return resources whose ``updated_at`` is in ``[since, until]`` as of ``now``.

        Newest first by creation, as Nova sorts lists.

        Only index entries in the window are visited. An entry left by a step that was
        later cancelled is dropped by the final check on the settled resource.
        """
        low = bisect.bisect_left(self._changes, (since, ""))
        found: dict[str, R] = {}
        for at, resource_id in self._changes[low:]:
            if at > until:
                break
            resource = self._items.get(resource_id)
            if resource is not None and resource_id not in found:
                found[resource_id] = resource
        return sorted(
            (r for r in found.values() if since <= self.settle(r, now).updated_at <= until),
            key=lambda r: (r.created_at, r.id),
            reverse=True,
        )

    def settle_all(self, now: float) -> None:
        """Fold due steps into every resource, so transition history is complete."""
        for resource in self._items.values():
            self.settle(resource, now)

    def _index(self, at: float, resource_id: str) -> None:
        bisect.insort(self._changes, (at, resource_id))

    def _record(self, resource: R, state: Any, at: float) -> None:
        if state is not None:
            self._accounting.record_transition(self.kind, resource.id, str(state), at)


class OwnedResource(Resource):
    """A resource of one project, made by one user (servers, volumes, stacks, ...).

    Args:
        owner: the principal whose request created it.
    """

    def __init__(
        self, resource_id: str, created_at: float, fields: dict[str, Any], owner: Principal
    ) -> None:
        super().__init__(resource_id, created_at, fields)
        self.project_id = owner.project_id
        self.user_id = owner.user_id
        self.user_name = owner.user_name

    def visible_to(self, principal: Principal) -> bool:
        """Whether ``principal`` may see it: its own project's, or anything for an admin."""
        return self.project_id == principal.project_id or principal.is_admin


OwnedT = TypeVar("OwnedT", bound=OwnedResource)


def find_owned(
    store: ResourceStore[OwnedT],
    principal: Principal,
    resource_id: str,
    now: float,
    include_deleted: bool = False,
) -> OwnedT | None:
    """Return the resource as of ``now`` if ``principal`` may see it, else None.

    The services answer another project's id as they answer an unknown one (404).
    """
    found = store.get(resource_id, now, include_deleted)
    return found if found is not None and found.visible_to(principal) else None
