"""The resource kinds a run creates and deletes, as users call openstacksdk for them.

Each :class:`Kind` knows the plain calls (create, wait until ready, delete, wait until
gone) and the names of the osfutures twins of the create and delete calls; the
approaches combine them without knowing which kind they handle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: What a creation needs from the cloud: ``image_id`` (boot and base image),
#: ``flavor_id`` and ``networks`` (what ``create_server`` is given).
Options = Mapping[str, str]


@dataclass(frozen=True)
class Kind:
    """One resource kind of a workload.

    Attributes:
        name: FakeCloud's name for the kind (its transitions key).
        service: the connection attribute of the proxy.
        create: the proxy method that starts a creation.
        delete: the proxy method that starts a deletion.
        arguments: the create call's keyword arguments for a resource name and the
            cloud's :data:`Options`.
        wait_ready: the plain waiter, as users write it (openstacksdk's defaults).
        ready: the states FakeCloud records when the creation is over.
        gone: the state FakeCloud records when the deletion is over.
    """

    name: str
    service: str
    create: str
    delete: str
    arguments: Callable[[str, Options], dict[str, Any]]
    wait_ready: Callable[[Any, Any], Any]
    ready: frozenset[str]
    gone: str

    def proxy(self, conn: Any) -> Any:
        return getattr(conn, self.service)

    def start(self, conn: Any, name: str, options: Options) -> Any:
        return getattr(self.proxy(conn), self.create)(**self.arguments(name, options))

    def start_async(self, conn: Any, name: str, options: Options) -> Any:
        twin = getattr(self.proxy(conn), f"{self.create}_async")
        return twin(**self.arguments(name, options))

    def remove(self, conn: Any, resource: Any) -> Any:
        return getattr(self.proxy(conn), self.delete)(resource)

    def remove_async(self, conn: Any, resource: Any) -> Any:
        return getattr(self.proxy(conn), f"{self.delete}_async")(resource)

    def wait_gone(self, conn: Any, resource: Any) -> Any:
        return self.proxy(conn).wait_for_delete(resource)


KINDS = {
    kind.name: kind
    for kind in (
        Kind(
            name="server",
            service="compute",
            create="create_server",
            delete="delete_server",
            arguments=lambda name, options: {
                "name": name,
                "image_id": options["image_id"],
                "flavor_id": options.get("flavor_id", "1"),
                "networks": options.get("networks", "none"),
            },
            wait_ready=lambda conn, res: conn.compute.wait_for_server(res),
            ready=frozenset({"ACTIVE", "ERROR"}),
            gone="DELETED",
        ),
        Kind(
            name="volume",
            service="block_storage",
            create="create_volume",
            delete="delete_volume",
            arguments=lambda name, _options: {"name": name, "size": 1},
            wait_ready=lambda conn, res: conn.block_storage.wait_for_status(
                res, "available", failures=["error"]
            ),
            ready=frozenset({"available", "error"}),
            gone="deleted",
        ),
        Kind(
            name="image",
            service="image",
            create="create_image",
            delete="delete_image",
            arguments=lambda name, _options: {
                "name": name,
                "disk_format": "raw",
                "container_format": "bare",
                "data": b"benchmark image",
                "validate_checksum": False,
                "allow_duplicates": True,
            },
            wait_ready=lambda conn, res: conn.image.wait_for_status(
                res, "active", failures=["killed"]
            ),
            ready=frozenset({"active", "killed"}),
            gone="deleted",
        ),
    )
}


@dataclass
class Item:
    """One resource of a run: created, waited on, deleted, waited on."""

    kind: Kind
    name: str
    resource: Any = None


def items_for(mix: dict[str, int]) -> list[Item]:
    """The run's resources, kinds interleaved so that they are all in flight at once."""
    queues = [[Item(KINDS[kind], f"bench-{kind}-{i}") for i in range(n)] for kind, n in mix.items()]
    longest = max((len(q) for q in queues), default=0)
    return [q[i] for i in range(longest) for q in queues if i < len(q)]
