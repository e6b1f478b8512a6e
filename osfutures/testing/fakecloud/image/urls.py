"""Glance's routing table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..service import Route

if TYPE_CHECKING:
    from .responses import ImageResponses

IMAGE = "/v2/images/<image_id>"


def routes(r: ImageResponses) -> list[Route]:
    """Return the image routes, answered by ``r``."""
    return [
        Route("/", ("GET",), r.versions, public=True),
        Route("/v2/", ("GET",), r.versions, public=True),
        Route("/v2/images", ("GET",), r.list_images),
        Route("/v2/images", ("POST",), r.create_image),
        Route(IMAGE, ("GET",), r.show_image),
        Route(IMAGE, ("DELETE",), r.delete_image),
        Route(IMAGE + "/file", ("PUT",), r.upload),
        Route(IMAGE + "/file", ("GET",), r.download),
        Route(IMAGE + "/stage", ("PUT",), r.stage),
        Route(IMAGE + "/import", ("POST",), r.import_image),
        Route("/v2/info/import", ("GET",), r.import_info),
    ]
