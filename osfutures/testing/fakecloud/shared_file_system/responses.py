"""Manila's answers: microversions, share bodies, create, delete and resize actions."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timezone
from typing import Any

from werkzeug.wrappers import Response

from ..accounting import count_records
from ..block_storage.messages import COMMON_COLUMNS, UserMessage, base_row, ordered
from ..clock import parse_isotime
from ..errors import NOT_FOUND, BadRequest, NotFound, json_response, render_nova
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
#: The microversions of user messages and of their time filters (manila.api.v2.messages).
MESSAGES_VERSION = (2, 37)
MESSAGES_QUERY_BY_TIMESTAMP = (2, 52)
MAX_LIMIT = 1000  # manila's osapi_max_limit
DB_MAX_INT = 0x7FFFFFFF
#: The columns of manila's messages table (manila.db.sqlalchemy.models.Message and
#: ManilaBase): what ``sort_key`` may name.
MESSAGE_COLUMNS = COMMON_COLUMNS | {"resource_id"}
#: The filters message_get_all applies exactly (its legal_filter_keys, less the times).
MESSAGE_FILTERS = (
    "request_id",
    "resource_type",
    "resource_id",
    "action_id",
    "detail_id",
    "message_level",
)
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
        share = self.backend.create(call.caller, call.now, spec, request_id=call.request_id)
        return json_response({"share": self._view(call, share)})

    def delete_share(self, call: Call, project_id: str, share_id: str) -> Response:
        """DELETE /shares/{id}: 202, ``deleting``."""
        self._bare_404(
            lambda: self.backend.delete(call.caller, share_id, call.now, request_id=call.request_id)
        )
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
        resize[name](call.caller, share_id, new_size, call.now, request_id=call.request_id)
        return Response(status=202, content_type="application/json")

    # -- user messages ---------------------------------------------------------------

    def list_messages(self, call: Call, project_id: str | None = None) -> Response:
        """GET /messages (2.37+): filtered, sorted and paged as manila's index."""
        _messages_call(call, project_id)
        limit = _query_integer(call.request.args, "limit")
        page = self._message_page(call, limit)
        body: dict[str, Any] = {"messages": [self._message_view(call, m, project_id) for m in page]}
        if limit and limit == len(page):
            body["messages_links"] = [{"rel": "next", "href": _next_href(call, project_id, page)}]
        count_records(call.request.environ, len(page))
        return json_response(body)

    def _message_page(self, call: Call, limit: int | None) -> list[UserMessage]:
        """What message_get_all returns for the query's filters, sort, offset and ``limit``.

        Manila takes ``marker`` but ignores it.

        Raises:
            BadRequest: on a bad offset, time or sort key, as manila words them.
        """
        args = call.request.args
        offset = _query_integer(args, "offset") or 0
        times = _created_range(call)
        messages = self.backend.messages.visible(call.caller, call.now)
        rows = {m.id: self._message_row(m) for m in messages}
        found = [m for m in messages if _message_matches(rows[m.id], args, times)]
        sort_key = args.get("sort_key", "created_at")
        if sort_key not in MESSAGE_COLUMNS:
            raise BadRequest(f"Invalid input received: Invalid sort key {sort_key}.")
        descending = args.get("sort_dir", "desc") == "desc"  # anything else is ascending
        result = ordered(found, [(sort_key, descending)], lambda m, key: rows[m.id][key])[offset:]
        return result if limit is None else result[: min(limit, MAX_LIMIT)]

    def show_message(self, call: Call, message_id: str, project_id: str | None = None) -> Response:
        """GET /messages/{id} (2.37+)."""
        _messages_call(call, project_id)
        message = self.backend.messages.get(call.caller, message_id, call.now)
        count_records(call.request.environ, 1)
        return json_response({"message": self._message_view(call, message, project_id)})

    def delete_message(
        self, call: Call, message_id: str, project_id: str | None = None
    ) -> Response:
        """DELETE /messages/{id} (2.37+): 204."""
        _messages_call(call, project_id)
        self.backend.messages.remove(call.caller, message_id, call.now)
        return Response(status=204, content_type="text/html; charset=UTF-8")

    def _message_row(self, message: UserMessage) -> dict[str, Any]:
        """The message as manila's messages table holds it: what filters and sorts read."""
        # Manila's ``deleted`` column is a string.
        return {
            **base_row(message, self._time),
            "resource_id": message.resource_id,
            "deleted": "False",
        }

    def _message_view(
        self, call: Call, message: UserMessage, project_id: str | None
    ) -> dict[str, Any]:
        """manila's message view: the row's fields, links and the two texts joined."""
        row = self._message_row(message)
        view = {key: row[key] for key in _VIEW_FIELDS}
        scope = _scope(project_id)
        view["links"] = [
            {"rel": "self", "href": f"{call.root}/v2{scope}/messages/{message.id}"},
            {"rel": "bookmark", "href": f"{call.root}{scope}/messages/{message.id}"},
        ]
        failure = message.failure
        view["resource_type"] = row["resource_type"]
        view["resource_id"] = row["resource_id"]
        view["user_message"] = f"{failure.action[1]}: {failure.detail[1]}"
        return view

    # -- helpers ---------------------------------------------------------------------

    def _time(self, at: float) -> str:
        """Manila shows naive UTC times with microseconds."""
        wall = self.context.clock.wall(at).replace(tzinfo=None)
        return wall.isoformat(timespec="microseconds")

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
        view: dict[str, Any] = {
            "id": share.id,
            "size": f["size"],
            "availability_zone": f["availability_zone"],
            "created_at": self._time(share.created_at),
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


#: The fields manila's message view copies from the row, in its order, before the links.
_VIEW_FIELDS = (
    "id",
    "project_id",
    "action_id",
    "detail_id",
    "message_level",
    "created_at",
    "expires_at",
    "request_id",
)


def _messages_call(call: Call, project_id: str | None) -> None:
    """Check what manila checks before a message method runs.

    Raises:
        BadRequest: if the URL names another project than the token's.
        NotFound: below 2.37, webob's bare 404, as if the method did not exist.
    """
    if project_id is not None and project_id != call.caller.project_id:
        raise BadRequest("Malformed request url")
    if call.version < MESSAGES_VERSION:
        raise NotFound(NOT_FOUND)


def _scope(project_id: str | None) -> str:
    """The project part of manila's links: there only when the request URL had it."""
    return f"/{project_id}" if project_id else ""


def _invalid_query(name: str, value: str, reason: str) -> BadRequest:
    """Manila's query schema error."""
    return BadRequest(f"Invalid input for query parameters {name}. Value: {value}. {reason}")


def _query_integer(args: Mapping[str, str], name: str) -> int | None:
    """A ``non_negative_integer`` query parameter of manila's schema; None when absent.

    Raises:
        BadRequest: worded as manila's schema validation words it.
    """
    text = args.get(name)
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]*", text):
        raise _invalid_query(name, text, f"{text!r} does not match '^[0-9]*$'")
    if not text:
        raise _invalid_query(name, text, "'' should be non-empty")
    if int(text) > DB_MAX_INT:
        raise _invalid_query(name, text, f"{int(text)} is greater than the maximum of {DB_MAX_INT}")
    return int(text)


def _created_range(call: Call) -> tuple[str | None, str | None]:
    """``created_since`` and ``created_before`` as row times; manila ignores them below 2.52.

    Raises:
        BadRequest: on a value that is not a date-time, as manila's schema words it.
    """
    if call.version < MESSAGES_QUERY_BY_TIMESTAMP:
        return None, None
    found: list[str | None] = []
    for name in ("created_since", "created_before"):
        text = call.request.args.get(name)
        if text is None:
            found.append(None)
            continue
        try:
            wall = parse_isotime(text)
        except ValueError:
            raise _invalid_query(name, text, f"{text!r} is not a 'date-time'") from None
        # Rows hold naive UTC text of one width, so text order is time order.
        naive = wall.astimezone(timezone.utc).replace(tzinfo=None)
        found.append(naive.isoformat(timespec="microseconds"))
    return found[0], found[1]


def _message_matches(
    row: Mapping[str, Any], args: Mapping[str, str], times: tuple[str | None, str | None]
) -> bool:
    """Whether a row passes message_get_all's exact filters and time bounds."""
    if any(key in args and row[key] != args[key] for key in MESSAGE_FILTERS):
        return False
    since, before = times
    created = str(row["created_at"])
    return (since is None or created >= since) and (before is None or created <= before)


def _next_href(call: Call, project_id: str | None, page: Sequence[UserMessage]) -> str:
    """The next link of a full page: the query with ``marker`` set, unencoded as
    manila's dict_to_query_str joins it."""
    params = [(k, v) for k, v in call.request.args.items(multi=True) if k != "marker"]
    params.append(("marker", page[-1].id))
    query = "&".join(f"{key}={value}" for key, value in params)
    return f"{call.root}/v2{_scope(project_id)}/messages?{query}"


class _Unprocessable(BadRequest):
    """422: a body without the resource key."""

    status = 422
