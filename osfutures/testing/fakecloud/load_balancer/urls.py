"""Octavia's routing table: the same API under ``/v2`` and ``/v2.0``."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..service import Route
from .models import LISTENER, LOAD_BALANCER, POOL

if TYPE_CHECKING:
    from .responses import LoadBalancerResponses

COLLECTIONS = {LOAD_BALANCER: "loadbalancers", LISTENER: "listeners", POOL: "pools"}


def routes(r: LoadBalancerResponses) -> list[Route]:
    """Return the load balancer routes, answered by ``r``."""
    table = [Route("/", ("GET",), r.versions, public=True)]
    for version in ("/v2", "/v2.0"):
        for kind, collection in COLLECTIONS.items():
            path = f"{version}/lbaas/{collection}"
            table += [
                Route(path, ("GET",), partial(r.list_objects, kind=kind)),
                Route(path, ("POST",), partial(r.create_object, kind=kind)),
                Route(path + "/<object_id>", ("GET",), partial(r.show_object, kind=kind)),
                Route(path + "/<object_id>", ("DELETE",), partial(r.delete_object, kind=kind)),
            ]
    return table
