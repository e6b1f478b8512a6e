"""Octavia (load balancer v2): load balancers, listeners and pools, provisioning over time."""

from ..service import ServiceSpec
from .responses import LoadBalancerResponses

SERVICE = ServiceSpec(
    name="load-balancer",
    service_type="load-balancer",
    catalog_name="octavia",
    endpoint="/load-balancer",
    build=LoadBalancerResponses,
)

__all__ = ["SERVICE"]
