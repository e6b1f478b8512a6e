"""Glance (image v2): images, upload and import, and the snapshots compute makes."""

from ..service import ServiceSpec
from .responses import ImageResponses

SERVICE = ServiceSpec(
    name="image",
    service_type="image",
    catalog_name="glance",
    endpoint="/image",
    build=ImageResponses,
)

__all__ = ["SERVICE"]
