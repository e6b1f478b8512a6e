"""Octavia's backend: load balancers, listeners and pools, with no HTTP.

Every object has a ``provisioning_status`` (PENDING_* while the controller works, then
ACTIVE, ERROR or gone) and an ``operating_status``. Changing a child locks its load
balancer in PENDING_UPDATE until the change ends, and octavia refuses any other change
to a load balancer that is not ACTIVE: that is why clients wait between calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import BadRequest, Conflict, NotFound
from ..lifecycle import OwnedResource, ResourceStore, Step, find_owned
from ..scenario import Outcome
from ..service import CloudContext, Principal

#: The resource names octavia puts in its messages (data_models.X._name()).
LOAD_BALANCER, LISTENER, POOL = "Load Balancer", "Listener", "Pool"
#: Each kind's store and scenario name (``loadbalancer.create`` timings).
KEYS = {LOAD_BALANCER: "loadbalancer", LISTENER: "listener", POOL: "pool"}
#: What an operation shows while it runs, and when it succeeds.
PENDING = {"create": "PENDING_CREATE", "delete": "PENDING_DELETE"}
DONE: dict[str, dict[str, Any]] = {
    "create": {"provisioning_status": "ACTIVE", "operating_status": "ONLINE"},
    "delete": {"provisioning_status": "DELETED", "deleted": True},
}


class LbObject(OwnedResource):
    """A load balancer, listener or pool; ``fields`` holds the statuses, the request's
    attributes and ``deleted``."""

    def __init__(
        self,
        kind: str,
        resource_id: str,
        created_at: float,
        fields: dict[str, Any],
        owner: Principal,
    ) -> None:
        super().__init__(resource_id, created_at, fields, owner)
        self.kind = kind

    @property
    def name(self) -> str:
        """The name ('' when unnamed)."""
        return str(self.fields.get("name") or "")

    @property
    def status(self) -> str:
        """The provisioning status as of the last settle."""
        return str(self.fields["provisioning_status"])


def _validation(detail: str) -> BadRequest:
    return BadRequest(f"Validation failure: {detail}")


class LoadBalancerBackend:
    """The load balancers of one cloud and their listeners and pools.

    Args:
        context: the cloud.
    """

    def __init__(self, context: CloudContext) -> None:
        self.context = context
        self.stores: dict[str, ResourceStore[LbObject]] = {
            kind: context.new_store(key, "provisioning_status") for kind, key in KEYS.items()
        }
        self._vips = 0

    # -- lookups ---------------------------------------------------------------------

    def get(self, kind: str, owner: Principal, object_id: str, now: float) -> LbObject:
        """Return a live object of ``kind`` (``LOAD_BALANCER``, ``LISTENER``, ``POOL``).

        Raises:
            NotFound: with octavia's wording, also for another project's object.
        """
        found = find_owned(self.stores[kind], owner, object_id, now)
        if found is None:
            raise NotFound(f"{kind} {object_id} not found.")
        return found

    def owned(self, kind: str, owner: Principal, now: float) -> list[LbObject]:
        """Return the caller's live objects of ``kind``, oldest first as octavia sorts."""
        return [item for item in self._live(kind, now) if item.visible_to(owner)]

    def children(self, lb_id: str, kind: str, now: float) -> list[LbObject]:
        """Return the live listeners or pools of a load balancer."""
        return [item for item in self._live(kind, now) if item.fields["loadbalancer_id"] == lb_id]

    def listeners_of(self, pool: LbObject, now: float) -> list[LbObject]:
        """Return the listeners whose default pool is ``pool``."""
        listeners = self.children(pool.fields["loadbalancer_id"], LISTENER, now)
        return [item for item in listeners if item.fields.get("default_pool_id") == pool.id]

    # -- load balancers --------------------------------------------------------------

    def create_load_balancer(
        self, owner: Principal, now: float, spec: Mapping[str, Any]
    ) -> LbObject:
        """Accept a load balancer: PENDING_CREATE, then ACTIVE/ONLINE or ERROR.

        Raises:
            BadRequest: without a VIP subnet, network or port.
        """
        if not any(spec.get(key) for key in ("vip_port_id", "vip_network_id", "vip_subnet_id")):
            raise _validation(
                "VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id."
            )
        self._vips += 1
        fields = {
            "name": "",
            "description": "",
            "admin_state_up": True,
            "vip_network_id": self.context.new_uuid(),
            "vip_subnet_id": self.context.new_uuid(),
            "vip_port_id": self.context.new_uuid(),
            "vip_address": f"203.0.113.{self._vips % 250 + 2}",
            "vip_qos_policy_id": None,
            "provider": "amphora",
            "flavor_id": None,
            "availability_zone": None,
            "tags": [],
            **{key: value for key, value in spec.items() if value is not None},
            "provisioning_status": "PENDING_CREATE",
            "operating_status": "OFFLINE",
            "deleted": False,
        }
        lb = LbObject(LOAD_BALANCER, self.context.new_uuid(), now, fields, owner)
        self.stores[LOAD_BALANCER].add(lb)
        self._operate(lb, "create", now)
        return lb

    def delete_load_balancer(
        self, owner: Principal, lb_id: str, now: float, cascade: bool = False
    ) -> None:
        """Start deleting: PENDING_DELETE, then gone (404).

        Raises:
            BadRequest: if it has children and ``cascade`` is false.
            Conflict: unless it is ACTIVE or ERROR, as octavia words it.
        """
        lb = self.get(LOAD_BALANCER, owner, lb_id, now)
        children = self.children(lb.id, LISTENER, now) + self.children(lb.id, POOL, now)
        if children and not cascade:
            raise _validation(f"Cannot delete Load Balancer {lb.id} - it has children")
        if lb.status not in ("ACTIVE", "ERROR"):
            raise Conflict(f"Invalid state {lb.status} of loadbalancer resource {lb.id}")
        self._operate(lb, "delete", now, cascade=children)

    # -- listeners and pools ---------------------------------------------------------

    def create_child(
        self, kind: str, owner: Principal, now: float, spec: Mapping[str, Any]
    ) -> LbObject:
        """Accept a listener or pool on a load balancer (a pool may name a listener).

        Raises:
            NotFound: if the load balancer or listener does not exist.
            Conflict: if the load balancer is not ACTIVE, the port is taken, or the
                listener already has a default pool.
        """
        fields = dict(spec)
        listener = None
        if kind == POOL and fields.get("listener_id"):
            listener = self.get(LISTENER, owner, fields["listener_id"], now)
            fields["loadbalancer_id"] = listener.fields["loadbalancer_id"]
            if listener.fields.get("default_pool_id"):
                raise Conflict("This listener already has a default pool")
        if not fields.get("loadbalancer_id"):
            raise _validation("Must provide at least one of: loadbalancer_id, listener_id")
        lb = self.get(LOAD_BALANCER, owner, fields["loadbalancer_id"], now)
        if kind == LISTENER:
            for other in self.children(lb.id, LISTENER, now):
                if (other.fields["protocol"], other.fields["protocol_port"]) == (
                    fields["protocol"],
                    fields["protocol_port"],
                ):
                    raise Conflict(
                        "Another Listener on this Load Balancer is already using protocol "
                        f"{fields['protocol']} and protocol_port {fields['protocol_port']}"
                    )
        self._check_mutable(lb)
        fields.update(provisioning_status="PENDING_CREATE", operating_status="OFFLINE")
        fields["deleted"] = False
        child = LbObject(kind, self.context.new_uuid(), now, fields, owner)
        self.stores[kind].add(child)
        if listener is not None:
            listener.fields["default_pool_id"] = child.id
        self._operate(child, "create", now, held=[lb, *([listener] if listener else [])])
        return child

    def delete_child(self, kind: str, owner: Principal, child_id: str, now: float) -> None:
        """Start deleting a listener or pool: PENDING_DELETE, then gone.

        Raises:
            NotFound: if it does not exist.
            Conflict: if its load balancer is not ACTIVE.
        """
        child = self.get(kind, owner, child_id, now)
        lb = self.get(LOAD_BALANCER, owner, child.fields["loadbalancer_id"], now)
        self._check_mutable(lb)
        parents = [lb]
        if kind == POOL:
            # Listeners using the pool are updated with it, and lose it as default.
            for listener in self.listeners_of(child, now):
                listener.fields["default_pool_id"] = None
                parents.append(listener)
        self._operate(child, "delete", now, held=parents)

    # -- internals -------------------------------------------------------------------

    @staticmethod
    def _check_mutable(lb: LbObject) -> None:
        if lb.status != "ACTIVE":
            raise Conflict(f"{LOAD_BALANCER} {lb.id} is immutable and cannot be updated.")

    def _live(self, kind: str, now: float) -> list[LbObject]:
        live = [item for item in self.stores[kind].newest_first(now) if not item.deleted]
        return live[::-1]

    def _operate(
        self,
        target: LbObject,
        operation: str,
        now: float,
        held: Sequence[LbObject] = (),
        cascade: Sequence[LbObject] = (),
    ) -> None:
        """Schedule one ``create`` or ``delete`` as the scenario plans it.

        ``target`` and ``cascade`` (the children a cascade delete takes along) show
        PENDING_CREATE/PENDING_DELETE now and end together. ``held`` (the load balancer
        and listener a child change locks) stay PENDING_UPDATE until then and return to
        ACTIVE whatever the outcome, as octavia's flows revert them; a stuck operation
        holds them forever.
        """
        plan = self.context.scenario.plan(
            KEYS[target.kind], operation, target.name, target.plan_key()
        )
        end = now + plan.duration
        final: dict[str, Any] | None = None
        if plan.outcome is Outcome.ERROR:
            final = {"provisioning_status": "ERROR"}
        elif plan.outcome is Outcome.OK:
            final = DONE[operation]
        for item in (target, *cascade):
            self._schedule(item, now, PENDING[operation], end, final)
        released = None if final is None else {"provisioning_status": "ACTIVE"}
        for item in held:
            self._schedule(item, now, "PENDING_UPDATE", end, released)

    def _schedule(
        self, item: LbObject, now: float, pending: str, end: float, final: dict[str, Any] | None
    ) -> None:
        steps = [Step(now, {"provisioning_status": pending})]
        if final is not None:
            steps.append(Step(end, final))
        self.stores[item.kind].schedule(item, now, steps)
