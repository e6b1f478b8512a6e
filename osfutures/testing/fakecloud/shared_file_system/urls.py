"""Manila's routing table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..service import Handler, Route

if TYPE_CHECKING:
    from .responses import SharedFileSystemResponses

SHARES = "/v2/<project_id>/shares"
MESSAGE = "/messages/<message_id>"


def routes(r: SharedFileSystemResponses) -> list[Route]:
    """Return the shared file system routes, answered by ``r``."""
    messages: list[tuple[str, tuple[str, ...], Handler]] = [
        ("/messages", ("GET",), r.list_messages),
        (MESSAGE, ("GET",), r.show_message),
        (MESSAGE, ("DELETE",), r.delete_message),
    ]
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
        # Manila's newer resources answer with and without the project id in the URL.
        *(
            Route(root + rule, methods, handler)
            for root in ("/v2/<project_id>", "/v2")
            for rule, methods, handler in messages
        ),
    ]
