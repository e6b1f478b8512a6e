"""Nova (compute v2.1): servers, their actions and volume attachments, flavors."""

from ..service import ServiceSpec
from .responses import ComputeResponses

SERVICE = ServiceSpec(
    name="compute",
    service_type="compute",
    catalog_name="nova",
    endpoint="/compute/v2.1",
    build=ComputeResponses,
)

__all__ = ["SERVICE"]
