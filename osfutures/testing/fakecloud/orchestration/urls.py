"""Heat's routing table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..service import Route

if TYPE_CHECKING:
    from .responses import OrchestrationResponses

STACKS = "/v1/<project_id>/stacks"


def routes(r: OrchestrationResponses) -> list[Route]:
    """Return the orchestration routes, answered by ``r``."""
    return [
        Route("/", ("GET",), r.versions, public=True),
        Route(STACKS, ("GET",), r.list_stacks),
        Route(STACKS, ("POST",), r.create_stack),
        # Heat redirects every method on a bare name or id to the canonical URL.
        Route(STACKS + "/<stack_name>", ("GET", "PUT", "PATCH", "DELETE"), r.lookup),
        Route(STACKS + "/<stack_name>/<stack_id>", ("GET",), r.show_stack),
        Route(STACKS + "/<stack_name>/<stack_id>", ("PUT",), r.update_stack),
        Route(STACKS + "/<stack_name>/<stack_id>", ("DELETE",), r.delete_stack),
    ]
