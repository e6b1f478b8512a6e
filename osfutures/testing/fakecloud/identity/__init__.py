"""Keystone v3: version discovery, password and token authentication, the catalog."""

from ..service import ServiceSpec
from .responses import IdentityResponses

SERVICE = ServiceSpec(
    name="identity",
    service_type="identity",
    catalog_name="keystone",
    endpoint="/identity",
    build=IdentityResponses,
)

__all__ = ["SERVICE"]
