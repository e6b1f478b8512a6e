"""Glance's answers: version list, image bodies, paging with a relative ``next``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from ..accounting import count_records
from ..clock import isotime
from ..errors import NOT_FOUND, BadRequest, MethodNotAllowed, NotFound, json_response, render_webob
from ..service import Call, CloudContext, Route, ServiceFrontend, wants_json
from . import urls
from .models import Image, ImageBackend

DEFAULT_LIMIT = 25  # glance's limit_param_default
MAX_LIMIT = 1000  # glance's api_limit_max
CURRENT = (2, 16)


class ImageResponses(ServiceFrontend):
    """The glance frontend.

    Args:
        context: the cloud; makes the :class:`ImageBackend` and registers it as
            ``image``, where compute finds it for boot images and snapshots.
    """

    render_error = staticmethod(render_webob)

    def __init__(self, context: CloudContext) -> None:
        super().__init__(context)
        self.backend = ImageBackend(context)
        context.backends["image"] = self.backend

    def routes(self) -> Sequence[Route]:
        """Return the routing table."""
        return urls.routes(self)

    def unrouted(self, request: Request, allow: Sequence[str]) -> Response:
        """Answer as glance's router does: every path it knows has a catch-all route
        that answers 405 with ``Allow``; an unknown path gets webob's 404."""
        error = MethodNotAllowed(request.method, allow) if allow else NotFound(NOT_FOUND)
        return render_webob(error, wants_json(request))

    def versions(self, call: Call) -> Response:
        """GET /: every v2 minor version, 300 Multiple Choices as glance answers."""
        versions = [
            {
                "id": f"v2.{minor}",
                "status": "CURRENT" if minor == CURRENT[1] else "SUPPORTED",
                "links": [{"rel": "self", "href": f"{call.root}/v2/"}],
            }
            for minor in range(CURRENT[1], -1, -1)
        ]
        return json_response({"versions": versions}, 300)

    def list_images(self, call: Call) -> Response:
        """GET /v2/images: filters id, name, status, owner (each also as ``in:a,b``),
        visibility; limit and marker."""
        args = call.request.args
        limit_text = args.get("limit", str(DEFAULT_LIMIT))
        if not limit_text.isdigit():
            raise BadRequest("limit param must be an integer")
        limit = min(int(limit_text), MAX_LIMIT)
        # Glance's "in" operator: id=in:a,b,c lists exactly those.
        filters = {
            key: frozenset(args[key][3:].split(",") if args[key].startswith("in:") else [args[key]])
            for key in ("id", "name", "status", "owner")
            if key in args
        }
        visibility = args.get("visibility")
        images = []
        for image in self.backend.images.newest_first(call.now):
            values = {**image.fields, "id": image.id}
            if image.deleted or any(values.get(k) not in v for k, v in filters.items()):
                continue
            if visibility and image.fields["visibility"] != visibility:
                continue
            images.append(image)
        marker = args.get("marker")
        if marker is not None:
            found = self.backend.get(marker, call.now)
            key = (found.created_at, found.id)
            images = [i for i in images if (i.created_at, i.id) < key]
        page = images[:limit]
        body: dict[str, Any] = {
            "images": [self._view(i) for i in page],
            "first": "/v2/images",
            "schema": "/v2/schemas/images",
        }
        if page and len(images) > limit:
            params = [(k, v) for k, v in args.items(multi=True) if k != "marker"]
            params.append(("marker", page[-1].id))
            body["next"] = f"/v2/images?{urlencode(params)}"
        count_records(call.request.environ, len(page))
        return json_response(body)

    def create_image(self, call: Call) -> Response:
        """POST /v2/images: 201, queued."""
        try:
            spec = call.json() or {}
        except ValueError:
            raise BadRequest("Malformed JSON in request body.") from None
        if not isinstance(spec, dict):
            raise BadRequest("Malformed JSON in request body.")
        image = self.backend.create(call.caller.project_id, call.now, spec)
        response = json_response(self._view(image), 201)
        response.headers["Location"] = f"{call.root}/v2/images/{image.id}"
        return response

    def show_image(self, call: Call, image_id: str) -> Response:
        """GET /v2/images/{id}."""
        image = self.backend.get(image_id, call.now)
        count_records(call.request.environ, 1)
        return json_response(self._view(image))

    def delete_image(self, call: Call, image_id: str) -> Response:
        """DELETE /v2/images/{id}: 204."""
        self.backend.delete(image_id, call.now)
        return Response(status=204)

    def upload(self, call: Call, image_id: str) -> Response:
        """PUT /v2/images/{id}/file: 204."""
        self.backend.upload(image_id, call.request.get_data(), call.now)
        return Response(status=204)

    def download(self, call: Call, image_id: str) -> Response:
        """GET /v2/images/{id}/file: the data, 204 when there is none yet."""
        image = self.backend.get(image_id, call.now)
        if image.fields["status"] != "active":
            return Response(status=204)
        data = self.backend.data.get(image.id, b"")
        response = Response(data, content_type="application/octet-stream")
        response.headers["Content-MD5"] = image.fields["checksum"]
        return response

    def stage(self, call: Call, image_id: str) -> Response:
        """PUT /v2/images/{id}/stage: 204, uploading."""
        self.backend.stage(image_id, call.request.get_data(), call.now)
        return Response(status=204)

    def import_image(self, call: Call, image_id: str) -> Response:
        """POST /v2/images/{id}/import: 202, importing."""
        self.backend.import_(image_id, call.now)
        return Response(status=202)

    def import_info(self, call: Call) -> Response:
        """GET /v2/info/import: the import methods on offer."""
        methods = {
            "description": "Import methods available.",
            "type": "array",
            "value": ["glance-direct", "web-download"],
        }
        return json_response({"import-methods": methods})

    def _view(self, image: Image) -> dict[str, Any]:
        f = image.fields
        clock = self.context.clock
        view: dict[str, Any] = {
            "status": f["status"],
            "name": f["name"],
            "tags": f["tags"],
            "container_format": f["container_format"],
            "created_at": isotime(clock.wall(image.created_at)),
            "disk_format": f["disk_format"],
            "updated_at": isotime(clock.wall(image.updated_at)),
            "visibility": f["visibility"],
            "self": f"/v2/images/{image.id}",
            "min_disk": f["min_disk"],
            "protected": f["protected"],
            "id": image.id,
            "file": f"/v2/images/{image.id}/file",
            "checksum": f["checksum"],
            "os_hash_algo": "sha512" if f["os_hash_value"] else None,
            "os_hash_value": f["os_hash_value"],
            "owner": f["owner"],
            "size": f["size"],
            "min_ram": f["min_ram"],
            "schema": "/v2/schemas/image",
            "virtual_size": None,
            "os_hidden": f["os_hidden"],
        }
        view.update(f["properties"])
        return view
