"""Cinder (block storage v3): volumes and their actions, snapshots, backups, volume types."""

from ..service import ServiceSpec
from .responses import BlockStorageResponses

SERVICE = ServiceSpec(
    name="volume",
    service_type="block-storage",
    catalog_name="cinderv3",
    endpoint="/volume/v3/{project_id}",
    build=BlockStorageResponses,
)

__all__ = ["SERVICE"]
