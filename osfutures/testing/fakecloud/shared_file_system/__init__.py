"""Manila (shared file system v2): shares created, resized and deleted over time."""

from ..service import ServiceSpec
from .responses import SharedFileSystemResponses

SERVICE = ServiceSpec(
    name="share",
    service_type="shared-file-system",
    catalog_name="manilav2",
    endpoint="/share/v2/{project_id}",
    build=SharedFileSystemResponses,
)

__all__ = ["SERVICE"]
