"""Heat (orchestration v1): stacks created, updated and deleted over scenario time."""

from ..service import ServiceSpec
from .responses import OrchestrationResponses

SERVICE = ServiceSpec(
    name="heat-api",
    service_type="orchestration",
    catalog_name="heat",
    endpoint="/heat-api/v1/{project_id}",
    build=OrchestrationResponses,
)

__all__ = ["SERVICE"]
