"""Manila's answers: microversions, share bodies, create, delete and resize actions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from werkzeug.wrappers import Response

from ..accounting import count_records
from ..errors import BadRequest, NotFound, json_response, render_nova
from ..service import (
    OSLO_MAX_REQUEST_BODY_SIZE,
    Call,
    CloudContext,
    Route,
    ServiceFrontend,
    read_microversion,
)
from ..service import version_text as _text
from . import urls
from .models import Share, SharedFileSystemBackend

MIN_VERSION = (2, 0)
MAX_VERSION = (2, 99)
VERSION_HEADER = "X-OpenStack-Manila-API-Version"
#: Fields added to the share body from a microversion on (manila's views.shares).
VERSIONED_FIELDS: tuple[tuple[tuple[int, int], str, Any], ...] = (
    ((2, 2), "snapshot_support", True),
    ((2, 5), "task_state", None),
    ((2, 10), "access_rules_status", "active"),
    ((2, 11), "replication_type", None),
    ((2, 11), "has_replicas", False),
    ((2, 24), "create_share_from_snapshot_support", True),
    ((2, 27), "revert_to_snapshot_support", False),
    ((2, 31), "share_group_id", None),
    ((2, 31), "source_share_group_snapshot_member_id", None),
    ((2, 32), "mount_snapshot_support", False),
    ((2, 69), "is_soft_deleted", False),
    ((2, 69), "scheduled_to_be_deleted_at", None),
    ((2, 80), "source_backup_id", None),
    ((2, 90), "encryption_key_ref", None),
    ((2, 99), "snapshot_inherit_share_access_support", False),
)


class SharedFileSystemResponses(ServiceFrontend):
    """The manila frontend; errors take Nova's fault shape, as manila's wsgi gives them.

    Args:
        context: the cloud; makes the :class:`SharedFileSystemBackend` and registers
            it as ``shared-file-system``.
    """

    render_error = staticmethod(render_nova)
    max_body_size = OSLO_MAX_REQUEST_BODY_SIZE

    def __init__(self, context: CloudContext) -> None:
        super().__init__(context)
        self.backend = SharedFileSystemBackend(context)
        context.backends["shared-file-system"] = self.backend

    def routes(self) -> Sequence[Route]:
        """Return the routing table."""
        return urls.routes(self)

    # -- microversions ---------------------------------------------------------------

    def begin(self, call: Call) -> None:
        """Read ``X-OpenStack-Manila-API-Version``; 2.0 when absent.

        Manila reads a body only when its Content-Type is ``application/json``, and
        ignores any other without a word: the handler then sees no body.

        Raises:
            BadRequest: on a malformed version.
            NotAcceptable: outside the supported range.
        """
        call.version = MIN_VERSION  # also what a 400 on a malformed version echoes
        read_microversion(call, call.request.headers.get(VERSION_HEADER), MIN_VERSION, MAX_VERSION)
        call.discard_body = call.media_type != "application/json"

    def finish(self, call: Call, response: Response) -> Response:
        """Echo the version in effect, as manila does on every v2 answer."""
        response.headers[VERSION_HEADER] = _text(call.version)
        response.headers["Vary"] = VERSION_HEADER
        return response

    def versions(self, call: Call) -> Response:
        """GET / (300) and GET /v2/ (200): manila's one major version."""
        v2 = {
            "id": "v2.0",
            "status": "CURRENT",
            "version": _text(MAX_VERSION),
            "min_version": _text(MIN_VERSION),
            "updated": "2015-08-27T11:33:21Z",
            "links": [
                {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
                {"rel": "self", "href": f"{call.root}/v2/"},
            ],
            "media-types": [
                {
                    "base": "application/json",
                    "type": "application/vnd.openstack.share+json;version=1",
                }
            ],
        }
        root = call.request.path.rstrip("/") == call.prefix
        return json_response({"versions": [v2]}, 300 if root else 200)

    # -- shares ----------------------------------------------------------------------

    def list_shares(self, call: Call, project_id: str) -> Response:
        """GET /shares: ids, names and links."""
        shares = self._filtered(call)
        count_records(call.request.environ, len(shares))
        return json_response(
            {
                "shares": [
                    {"id": s.id, "name": s.name or None, "links": self._links(call, s)}
                    for s in shares
                ]
            }
        )

    def list_shares_detail(self, call: Call, project_id: str) -> Response:
        """GET /shares/detail: full bodies."""
        shares = self._filtered(call)
        count_records(call.request.environ, len(shares))
        return json_response({"shares": [self._view(call, s) for s in shares]})

    def show_share(self, call: Call, project_id: str, share_id: str) -> Response:
        """GET /shares/{id}; manila's show gives webob's bare 404."""
        share = self._bare_404(lambda: self.backend.get(call.caller, share_id, call.now))
        count_records(call.request.environ, 1)
        return json_response({"share": self._view(call, share)})

    def create_share(self, call: Call, project_id: str) -> Response:
        """POST /shares: 200 with the share, ``creating``."""
        body = self._body(call)
        spec = body.get("share")
        if not isinstance(spec, dict):
            # Manila's is_valid_body check answers 422.
            raise _Unprocessable("Unable to process the contained instructions")
        share = self.backend.create(call.caller, call.now, spec)
        return json_response({"share": self._view(call, share)})

    def delete_share(self, call: Call, project_id: str, share_id: str) -> Response:
        """DELETE /shares/{id}: 202, ``deleting``."""
        self._bare_404(lambda: self.backend.delete(call.caller, share_id, call.now))
        return Response(status=202, content_type="application/json")

    def share_action(self, call: Call, project_id: str, share_id: str) -> Response:
        """POST /shares/{id}/action: ``extend``/``shrink`` from 2.7, ``os-`` before."""
        body = self._body(call)
        if len(body) != 1:
            raise BadRequest("Malformed request body")
        ((action, params),) = body.items()
        legacy = call.version < (2, 7)
        resize = {"extend": self.backend.extend, "shrink": self.backend.shrink}
        name = action.removeprefix("os-")
        if name not in resize:
            raise BadRequest(f"There is no such action: {action}")
        if action.startswith("os-") != legacy:
            # The action exists, but not at this microversion: webob's bare 404.
            raise NotFound("The resource could not be found.")
        self.backend.get(call.caller, share_id, call.now)
        try:
            new_size = int(params["new_size"])
        except (KeyError, TypeError, ValueError):
            raise BadRequest("New share size must be specified as an integer.") from None
        resize[name](call.caller, share_id, new_size, call.now)
        return Response(status=202, content_type="application/json")

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    def _bare_404(action: Callable[[], Any]) -> Any:
        # Some manila handlers drop the backend's message and answer webob's own.
        try:
            return action()
        except NotFound:
            raise NotFound("The resource could not be found.") from None

    @staticmethod
    def _body(call: Call) -> dict[str, Any]:
        try:
            body = call.json()
        except ValueError:
            raise BadRequest("Malformed request body") from None
        return body if isinstance(body, dict) else {}

    def _filtered(self, call: Call) -> list[Share]:
        args = call.request.args
        shares = self.backend.list_shares(call.caller, call.now)
        for key in ("name", "status", "share_proto"):
            if key in args:
                shares = [s for s in shares if str(s.fields.get(key)) == args[key]]
        return shares

    def _links(self, call: Call, share: Share) -> list[dict[str, str]]:
        return [
            {"rel": "self", "href": f"{call.root}/v2/{share.project_id}/shares/{share.id}"},
            {"rel": "bookmark", "href": f"{call.root}/{share.project_id}/shares/{share.id}"},
        ]

    def _view(self, call: Call, share: Share) -> dict[str, Any]:
        """The share body of show, create and list-detail, per microversion."""
        f = share.fields
        when = self.context.clock.wall(share.created_at).replace(tzinfo=None)
        view: dict[str, Any] = {
            "id": share.id,
            "size": f["size"],
            "availability_zone": f["availability_zone"],
            # Manila shows naive UTC times with microseconds.
            "created_at": when.isoformat(timespec="microseconds"),
            "status": f["status"],
            "name": f["name"],
            "description": f["description"],
            "project_id": share.project_id,
            "snapshot_id": None,
            "share_network_id": None,
            "share_proto": f["share_proto"],
            "metadata": f["metadata"],
            "share_type": "default",
            "volume_type": "default",
            "links": self._links(call, share),
            "is_public": f["is_public"],
            "host": "fakecloud@generic#pool",
            "share_server_id": None,
        }
        if call.version < (2, 9):
            view["export_location"] = None
            view["export_locations"] = []
        if call.version >= (2, 6):
            view["share_type_name"] = "default"
        if call.version >= (2, 16):
            view["user_id"] = share.user_id
        if call.version >= (2, 54):
            view["progress"] = "100%" if f["status"] == "available" else "0%"
        view.update((key, value) for since, key, value in VERSIONED_FIELDS if call.version >= since)
        return view


class _Unprocessable(BadRequest):
    """422: a body without the resource key."""

    status = 422
