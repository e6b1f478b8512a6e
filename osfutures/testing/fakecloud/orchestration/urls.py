"""Heat's routing table."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..service import Route

if TYPE_CHECKING:
    from .responses import OrchestrationResponses

STACKS = "/v1/<project_id>/stacks"
STACK = STACKS + "/<stack_name>/<stack_id>"


def routes(r: OrchestrationResponses) -> list[Route]:
    """Return the orchestration routes, answered by ``r``."""
    return [
        Route("/", ("GET",), r.versions, public=True),
        Route(STACKS, ("GET",), r.list_stacks),
        Route(STACKS, ("POST",), r.create_stack),
        # Heat redirects every method on a bare name or id to the canonical URL, and
        # GET on its subpaths (stack_lookup_subpath) to theirs.
        Route(STACKS + "/<stack_name>", ("GET", "PUT", "PATCH", "DELETE"), r.lookup),
        Route(STACKS + "/<stack_name>/events", ("GET",), partial(r.lookup, path="events")),
        Route(STACKS + "/<stack_name>/resources", ("GET",), partial(r.lookup, path="resources")),
        Route(STACK, ("GET",), r.show_stack),
        Route(STACK, ("PUT",), r.update_stack),
        Route(STACK, ("DELETE",), r.delete_stack),
        Route(STACK + "/events", ("GET",), r.list_events),
        Route(STACK + "/resources", ("GET",), r.list_resources),
        Route(STACK + "/resources/<resource_name>/events", ("GET",), r.list_events),
        Route(STACK + "/resources/<resource_name>/events/<event_id>", ("GET",), r.show_event),
    ]
