"""Manila's routing table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..service import Route

if TYPE_CHECKING:
    from .responses import SharedFileSystemResponses

SHARES = "/v2/<project_id>/shares"


def routes(r: SharedFileSystemResponses) -> list[Route]:
    """Return the shared file system routes, answered by ``r``."""
    return [
        # Manila's version documents carry no microversion headers.
        Route("/", ("GET",), r.versions, public=True, framed=False),
        Route("/v2/", ("GET",), r.versions, public=True, framed=False),
        Route(SHARES, ("GET",), r.list_shares),
        Route(SHARES + "/detail", ("GET",), r.list_shares_detail),
        Route(SHARES, ("POST",), r.create_share),
        Route(SHARES + "/<share_id>", ("GET",), r.show_share),
        Route(SHARES + "/<share_id>", ("DELETE",), r.delete_share),
        Route(SHARES + "/<share_id>/action", ("POST",), r.share_action),
    ]
