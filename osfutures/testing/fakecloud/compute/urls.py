"""Nova's routing table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..service import Route

if TYPE_CHECKING:
    from .responses import ComputeResponses

SERVER = "/v2.1/servers/<server_id>"
#: Nova's version documents answer whatever the method (its versions applications
#: read none).
ANY = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def routes(r: ComputeResponses) -> list[Route]:
    """Return the compute routes, answered by ``r``."""
    return [
        Route("/", ANY, r.versions, public=True, framed=False, request_ids=False),
        Route("/v2/", ANY, r.version_v2, public=True, framed=False),
        Route("/v2.1/", ANY, r.version, public=True),
        Route("/v2.1/servers", ("GET",), r.list_servers),
        Route("/v2.1/servers/detail", ("GET",), r.list_servers_detail),
        Route("/v2.1/servers", ("POST",), r.create_server),
        Route(SERVER, ("GET",), r.show_server),
        Route(SERVER, ("DELETE",), r.delete_server),
        Route(SERVER + "/action", ("POST",), r.server_action),
        Route(SERVER + "/os-instance-actions", ("GET",), r.list_instance_actions),
        Route(SERVER + "/os-instance-actions/<request_id>", ("GET",), r.show_instance_action),
        Route(SERVER + "/os-volume_attachments", ("GET",), r.list_attachments),
        Route(SERVER + "/os-volume_attachments", ("POST",), r.attach_volume),
        Route(SERVER + "/os-volume_attachments/<volume_id>", ("GET",), r.show_attachment),
        Route(SERVER + "/os-volume_attachments/<volume_id>", ("DELETE",), r.detach_volume),
        Route("/v2.1/flavors", ("GET",), r.list_flavors),
        Route("/v2.1/flavors/detail", ("GET",), r.list_flavors_detail),
        Route("/v2.1/flavors/<flavor_id>", ("GET",), r.show_flavor),
    ]
