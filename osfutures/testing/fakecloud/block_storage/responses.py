"""Cinder's answers: microversions, volume/snapshot/backup bodies, list filters and paging."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from ..accounting import count_records
from ..errors import (
    NOT_FOUND,
    BadRequest,
    NotFound,
    UnsupportedMediaType,
    json_response,
    render_nova,
)
from ..lifecycle import ResourceStore
from ..service import (
    OSLO_MAX_REQUEST_BODY_SIZE,
    VERSION_HEADER,
    Call,
    CloudContext,
    Handler,
    Route,
    ServiceFrontend,
    read_microversion,
    version_entry,
)
from ..service import version_text as _text
from . import urls
from .messages import COMMON_COLUMNS, UserMessage, base_row, ordered
from .models import (
    AVAILABILITY_ZONE,
    SERVICE_UUID,
    Backup,
    BlockStorageBackend,
    Owned,
    Snapshot,
    Volume,
    VolumeType,
    is_uuid,
)

MIN_VERSION = (3, 0)
MAX_VERSION = (3, 71)
#: The Content-Types cinder reads a body in (cinder.api.openstack.wsgi).
MEDIA_TYPES = frozenset({"application/json", "application/vnd.openstack.volume+json"})
#: When cinder last changed its version document (api_version_request.UPDATED).
UPDATED = "2023-08-31T00:00:00Z"
MAX_LIMIT = 1000  # cinder's osapi_max_limit
#: The microversions where bodies or rules change (cinder.api.microversions).
MESSAGES = (3, 3)
MESSAGES_PAGINATION = (3, 5)
GROUP_VOLUME = (3, 13)
GROUP_SNAPSHOTS = (3, 14)
BACKUP_PROJECT = (3, 18)
VOLUME_DETAIL_PROVIDER_ID = (3, 21)
RESOURCE_FILTER = (3, 31)
SNAPSHOT_LIST_USER_ID = (3, 41)
VOLUME_EXTEND_INUSE = (3, 42)
BACKUP_METADATA = (3, 43)
SUPPORT_COUNT_INFO = (3, 45)
VOLUME_SHARED_TARGETS = (3, 48)
BACKUP_AZ = (3, 51)
BACKUP_PROJECT_USER_ID = (3, 56)
VOLUME_CLUSTER_NAME = (3, 61)
VOLUME_TYPE_ID_IN_DETAIL = (3, 63)
USE_QUOTA = (3, 65)
SNAPSHOT_IN_USE = (3, 66)
SHARED_TARGETS_TRISTATE = (3, 69)
SNAPSHOT_IN_USE_FLAG_MSG = (
    "Since microversion 3.66 the 'force' flag is invalid for this request.  For backward "
    "compatability, however, when the 'force' flag is passed with a value evaluating to "
    "True, it is silently ignored."
)
#: Query parameters that page, sort or count rather than filter.
LIST_CONTROLS = frozenset(
    ["limit", "marker", "offset", "sort", "sort_key", "sort_dir", "with_count", "all_tenants"]
)
#: The filters a non-admin may use (cinder's default resource_filters.json).
USER_FILTERS = {
    "volume": frozenset(
        [
            "name",
            "status",
            "metadata",
            "bootable",
            "migration_status",
            "availability_zone",
            "group_id",
            "size",
            "created_at",
            "updated_at",
            "consumes_quota",
        ]
    ),
    "snapshot": frozenset(
        ["name", "status", "volume_id", "metadata", "availability_zone", "consumes_quota"]
    ),
    "backup": frozenset(["name", "status", "volume_id"]),
    "message": frozenset(
        ["resource_uuid", "resource_type", "event_id", "request_id", "message_level"]
    ),
}
#: The columns of cinder's messages table (cinder.db.models.Message and CinderBase): what
#: a message list may sort and filter on.
MESSAGE_COLUMNS = COMMON_COLUMNS | {"resource_uuid", "event_id"}
#: The sort keys cinder's database layer appends to any (process_sort_params).
DEFAULT_SORT_KEYS = ("created_at", "id")
#: constants.DB_MAX_INT, the largest ``offset``.
DB_MAX_INT = 0x7FFFFFFF
#: The extra specs a non-admin sees (cinder.policies.type_extra_specs).
USER_VISIBLE_EXTRA_SPECS = ("RESKEY:availability_zones", "multiattach", "replication_enabled")
_TRUE = ("True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t")
_FALSE = ("False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f")
#: parameter_types.boolean's enum, in its order (the order shows in error messages).
BOOLEAN_ENUM: tuple[bool | str, ...] = (True, *_TRUE, False, *_FALSE)

T = TypeVar("T", bound=Owned)
View = Callable[[Call, T], dict[str, Any]]


def invalid(field: str, value: Any, reason: str) -> BadRequest:
    """Return cinder's JSON-schema validation error for ``field``."""
    return BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. {reason}")


def _of_type(value: Any, *types: str) -> str:
    return f"{value!r} is not of type {', '.join(repr(t) for t in types)}"


def _object(body: Any, key: str) -> dict[str, Any]:
    """Return ``body[key]``, which must be an object."""
    if not isinstance(body, dict) or key not in body:
        # A missing top-level key has no path: cinder shows the bare schema message.
        raise BadRequest(f"'{key}' is a required property")
    value = body[key]
    if not isinstance(value, dict):
        raise invalid(key, value, _of_type(value, "object"))
    return value


def _closed(spec: Mapping[str, Any], where: str, allowed: Iterable[str]) -> None:
    """Refuse keys a schema with ``additionalProperties: False`` does not list."""
    extra = sorted(set(spec) - set(allowed))
    if extra:
        listed = ", ".join(repr(k) for k in extra)
        verb = "were" if len(extra) > 1 else "was"
        reason = f"Additional properties are not allowed ({listed} {verb} unexpected)"
        raise invalid(where, dict(spec), reason)


def _string(spec: Mapping[str, Any], key: str) -> str | None:
    """An optional string (or null); cinder strips names and descriptions."""
    value = spec.get(key)
    if value is not None and not isinstance(value, str):
        raise invalid(key, value, _of_type(value, "string", "null"))
    if value is not None and len(value) > 255:
        raise invalid(key, value, f"{value!r} is too long")
    return value.strip() if value is not None else None


def _size(value: Any, field: str = "size") -> int:
    """parameter_types.volume_size: an integer or a string of digits, at least 1."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise invalid(field, value, _of_type(value, "integer", "string"))
    if isinstance(value, str) and not re.fullmatch(r"[0-9]+", value):
        raise invalid(field, value, f"{value!r} does not match '^[0-9]+$'")
    if int(value) < 1:
        raise invalid(field, value, f"{int(value)} is less than the minimum of 1")
    return int(value)


def _flag(spec: Mapping[str, Any], key: str) -> bool:
    """parameter_types.boolean: a JSON boolean or one of oslo's boolean strings."""
    value = spec.get(key, False)
    if value is True or value in _TRUE:
        return True
    if value is False or value in _FALSE:
        return False
    raise invalid(key, value, f"{value!r} is not one of {list(BOOLEAN_ENUM)}")


def _query_flag(args: Mapping[str, str], key: str) -> bool:
    """cinder's get_bool_param on a query parameter."""
    value = args.get(key, "false")
    if value.lower() in ("1", "t", "true", "on", "y", "yes"):
        return True
    if value.lower() in ("0", "f", "false", "off", "n", "no"):
        return False
    raise BadRequest(f"Value '{value}' for '{key}' is not a boolean.")


def _metadata(spec: Mapping[str, Any]) -> dict[str, str] | None:
    value = spec.get("metadata")
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid("metadata", value, _of_type(value, "object", "null"))
    return value


def _optional_uuid(spec: Mapping[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is not None and not (isinstance(value, str) and is_uuid(value)):
        raise invalid(key, value, f"{value!r} is not a 'uuid'")
    return value


class BlockStorageResponses(ServiceFrontend):
    """The cinder frontend.

    Args:
        context: the cloud; makes the :class:`BlockStorageBackend` and registers it as
            ``block-storage``, where compute finds it for volume attachments.
    """

    render_error = staticmethod(render_nova)
    max_body_size = OSLO_MAX_REQUEST_BODY_SIZE

    def __init__(self, context: CloudContext) -> None:
        super().__init__(context)
        self.backend = BlockStorageBackend(context)
        context.backends["block-storage"] = self.backend

    def routes(self) -> Sequence[Route]:
        """Return the routing table."""
        return urls.routes(self)

    def scoped(self, handler: Handler) -> Handler:
        """Wrap the handler of a ``/v3/{project_id}/...`` route: cinder refuses a URL
        naming another project than the token's, then drops the id."""

        def answer(call: Call, project_id: str, **args: Any) -> Response:
            if project_id != call.caller.project_id:
                raise BadRequest("Malformed request url")
            return handler(call, **args)

        return answer

    # -- microversions ---------------------------------------------------------------

    def begin(self, call: Call) -> None:
        """Read ``OpenStack-API-Version: volume 3.x``, then the body's Content-Type, as
        cinder does: a body without a Content-Type is ignored.

        Raises:
            BadRequest: on a malformed version, or a header with no volume entry.
            NotAcceptable: on a version outside the supported range.
            UnsupportedMediaType: on a body of any other Content-Type (``text/plain``
                too, unlike Nova).
        """
        header = call.request.headers.get(VERSION_HEADER)
        if header is None:
            call.version = MIN_VERSION
        else:
            requested = version_entry(header, "volume")
            if not requested:
                raise BadRequest("API version None is not supported on this method.")
            read_microversion(call, requested, MIN_VERSION, MAX_VERSION)
        if not call.request.get_data():
            return
        if call.media_type is None:
            call.discard_body = True
        elif call.media_type not in MEDIA_TYPES:
            raise UnsupportedMediaType("Unsupported Content-Type")

    def finish(self, call: Call, response: Response) -> Response:
        """Echo the microversion in effect, as cinder does once it has read one."""
        if call.version != (0, 0):
            response.headers[VERSION_HEADER] = f"volume {_text(call.version)}"
            response.headers["Vary"] = VERSION_HEADER
        return response

    # -- version documents -----------------------------------------------------------

    def _versions(self, call: Call) -> dict[str, Any]:
        v3 = {
            "id": "v3.0",
            "status": "CURRENT",
            "version": _text(MAX_VERSION),
            "min_version": _text(MIN_VERSION),
            "updated": UPDATED,
            "links": [
                {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
                {"rel": "self", "href": f"{call.root}/v3/"},
            ],
            "media-types": [
                {
                    "base": "application/json",
                    "type": "application/vnd.openstack.volume+json;version=3",
                }
            ],
        }
        return {"versions": [v3]}

    def versions(self, call: Call) -> Response:
        """GET /: every version, 300 Multiple Choices as cinder answers."""
        return json_response(self._versions(call), 300)

    def version(self, call: Call) -> Response:
        """GET /v3/: the same list, 200."""
        return json_response(self._versions(call))

    # -- volumes ---------------------------------------------------------------------

    def list_volumes(self, call: Call) -> Response:
        """GET /volumes: ids, names and links."""
        return self._list(call, "volume", self._volume_summary, "volumes")

    def list_volumes_detail(self, call: Call) -> Response:
        """GET /volumes/detail: full bodies."""
        return self._list(call, "volume", self._volume_view, "volumes/detail")

    def show_volume(self, call: Call, volume_id: str) -> Response:
        """GET /volumes/{id}."""
        volume = self.backend.volume(call.caller, volume_id, call.now)
        count_records(call.request.environ, 1)
        return json_response({"volume": self._volume_view(call, volume)})

    def create_volume(self, call: Call) -> Response:
        """POST /volumes: 202 with the volume, ``creating``."""
        spec = _object(self._body(call), "volume")
        if _flag(spec, "multiattach"):
            raise BadRequest(
                "multiattach parameter has been removed. The default behavior is to use "
                "multiattach enabled volume types. Contact your administrator to create a "
                "multiattach enabled volume type and use it to create multiattach volumes."
            )
        size = spec.get("size")
        snapshot_id = _optional_uuid(spec, "snapshot_id")
        if size is None and snapshot_id is not None:
            size = self.backend.snapshot(call.caller, snapshot_id, call.now).size
        if size is None:
            raise BadRequest(
                "Invalid input received: Volume size 'None' must be an integer and greater than 0"
            )
        volume = self.backend.create_volume(
            call.caller,
            call.now,
            size=_size(size),
            name=_string(spec, "name"),
            description=_string(spec, "description"),
            type_name=_string(spec, "volume_type") or None,
            metadata=_metadata(spec),
            snapshot_id=snapshot_id,
            request_id=call.request_id,
        )
        return json_response({"volume": self._volume_view(call, volume, extended=False)}, 202)

    def delete_volume(self, call: Call, volume_id: str) -> Response:
        """DELETE /volumes/{id}: 202; ``deleting``, then gone."""
        cascade = _query_flag(call.request.args, "cascade")
        self.backend.delete_volume(call.caller, volume_id, call.now, cascade)
        return _accepted()

    def volume_action(self, call: Call, volume_id: str) -> Response:
        """POST /volumes/{id}/action: one action per body, as cinder dispatches them."""
        body = self._body(call)
        if not isinstance(body, dict) or len(body) != 1:
            raise BadRequest("Malformed request body")
        (action,) = body
        actions: dict[str, Callable[[Call, str, Any], None]] = {
            "os-extend": self._extend,
            "os-retype": self._retype,
        }
        handler = actions.get(action)
        if handler is None:
            raise BadRequest(
                f"There is no such action: {action}. Verify the request body and "
                "Content-Type header and try again."
            )
        handler(call, volume_id, _object(body, action))
        # An action that returns nothing still goes through cinder's JSON serializer.
        return _accepted("application/json")

    def _extend(self, call: Call, volume_id: str, params: dict[str, Any]) -> None:
        _closed(params, "os-extend", ["new_size"])
        if "new_size" not in params:
            raise invalid("os-extend", params, "'new_size' is a required property")
        self.backend.extend_volume(
            call.caller,
            volume_id,
            _size(params["new_size"], "new_size"),
            call.now,
            attached_ok=call.version >= VOLUME_EXTEND_INUSE,
            request_id=call.request_id,
        )

    def _retype(self, call: Call, volume_id: str, params: dict[str, Any]) -> None:
        _closed(params, "os-retype", ["new_type", "migration_policy"])
        if "new_type" not in params:
            raise invalid("os-retype", params, "'new_type' is a required property")
        new_type = params["new_type"]
        if not isinstance(new_type, str):
            raise invalid("new_type", new_type, _of_type(new_type, "string"))
        policy = params.get("migration_policy")
        if policy not in (None, "on-demand", "never"):
            raise invalid(
                "migration_policy", policy, f"{policy!r} is not one of ['on-demand', 'never']"
            )
        self.backend.retype_volume(call.caller, volume_id, new_type, call.now)

    # -- volume types ----------------------------------------------------------------

    def list_types(self, call: Call) -> Response:
        """GET /types."""
        types = [self._type_view(call, t) for t in self.backend.volume_types.values()]
        return json_response({"volume_types": types})

    def show_type(self, call: Call, type_id: str) -> Response:
        """GET /types/{id}."""
        volume_type = self.backend.volume_type(type_id)
        return json_response({"volume_type": self._type_view(call, volume_type)})

    # -- snapshots -------------------------------------------------------------------

    def list_snapshots(self, call: Call) -> Response:
        """GET /snapshots: cinder's summary already has every base field."""
        return self._list(
            call, "snapshot", lambda c, s: self._snapshot_view(c, s, extended=False), "snapshots"
        )

    def list_snapshots_detail(self, call: Call) -> Response:
        """GET /snapshots/detail."""
        return self._list(call, "snapshot", self._snapshot_view, "snapshots/detail")

    def show_snapshot(self, call: Call, snapshot_id: str) -> Response:
        """GET /snapshots/{id}."""
        snapshot = self.backend.snapshot(call.caller, snapshot_id, call.now)
        count_records(call.request.environ, 1)
        return json_response({"snapshot": self._snapshot_view(call, snapshot)})

    def create_snapshot(self, call: Call) -> Response:
        """POST /snapshots: 202, ``creating``."""
        spec = _object(self._body(call), "snapshot")
        _closed(
            spec,
            "snapshot",
            ["name", "display_name", "description", "volume_id", "force", "metadata"],
        )
        volume_id = _optional_uuid(spec, "volume_id")
        if "volume_id" not in spec:
            raise invalid("snapshot", spec, "'volume_id' is a required property")
        if volume_id is None:
            raise NotFound("Volume None could not be found.")
        self.backend.volume(call.caller, volume_id, call.now)
        force = _flag(spec, "force")
        if "force" in spec and not force and call.version >= SNAPSHOT_IN_USE:
            raise BadRequest(SNAPSHOT_IN_USE_FLAG_MSG)
        snapshot = self.backend.create_snapshot(
            call.caller,
            call.now,
            volume_id=volume_id,
            name=_string(spec, "name") or _string(spec, "display_name"),
            description=_string(spec, "description"),
            metadata=_metadata(spec),
            allow_in_use=force or call.version >= SNAPSHOT_IN_USE,
            request_id=call.request_id,
        )
        body = {"snapshot": self._snapshot_view(call, snapshot, extended=False)}
        return json_response(body, 202)

    def delete_snapshot(self, call: Call, snapshot_id: str) -> Response:
        """DELETE /snapshots/{id}: 202."""
        self.backend.delete_snapshot(call.caller, snapshot_id, call.now)
        return _accepted()

    # -- backups ---------------------------------------------------------------------

    def list_backups(self, call: Call) -> Response:
        """GET /backups: ids, names and links."""
        return self._list(call, "backup", self._backup_summary, "backups")

    def list_backups_detail(self, call: Call) -> Response:
        """GET /backups/detail."""
        return self._list(call, "backup", self._backup_view, "backups/detail")

    def show_backup(self, call: Call, backup_id: str) -> Response:
        """GET /backups/{id}."""
        backup = self.backend.backup(call.caller, backup_id, call.now)
        count_records(call.request.environ, 1)
        return json_response({"backup": self._backup_view(call, backup)})

    def create_backup(self, call: Call) -> Response:
        """POST /backups: 202 with id, name and links."""
        spec = _object(self._body(call), "backup")
        allowed = [
            "volume_id",
            "container",
            "description",
            "incremental",
            "force",
            "name",
            "snapshot_id",
        ]
        if call.version >= BACKUP_METADATA:
            allowed.append("metadata")
        if call.version >= BACKUP_AZ:
            allowed.append("availability_zone")
        _closed(spec, "backup", allowed)
        if "volume_id" not in spec:
            raise invalid("backup", spec, "'volume_id' is a required property")
        volume_id = _optional_uuid(spec, "volume_id")
        if volume_id is None:
            raise invalid("volume_id", None, _of_type(None, "string"))
        backup = self.backend.create_backup(
            call.caller,
            call.now,
            volume_id=volume_id,
            name=_string(spec, "name"),
            description=_string(spec, "description"),
            container=_string(spec, "container"),
            incremental=_flag(spec, "incremental"),
            force=_flag(spec, "force"),
            snapshot_id=_optional_uuid(spec, "snapshot_id"),
            metadata=_metadata(spec),
            availability_zone=_string(spec, "availability_zone"),
            request_id=call.request_id,
        )
        return json_response({"backup": self._backup_summary(call, backup)}, 202)

    def delete_backup(self, call: Call, backup_id: str) -> Response:
        """DELETE /backups/{id}: 202."""
        self.backend.delete_backup(call.caller, backup_id, call.now)
        return _accepted()

    def restore_backup(self, call: Call, backup_id: str) -> Response:
        """POST /backups/{id}/restore: 202 with the backup, volume id and volume name."""
        body = self._body(call)
        if not isinstance(body, dict) or "restore" not in body:
            raise BadRequest("'restore' is a required property")
        spec = body["restore"] or {}
        if not isinstance(spec, dict):
            raise invalid("restore", spec, _of_type(spec, "object", "null"))
        _closed(spec, "restore", ["name", "volume_id"])
        restore = self.backend.restore_backup(
            call.caller,
            backup_id,
            call.now,
            volume_id=_optional_uuid(spec, "volume_id"),
            name=_string(spec, "name"),
            request_id=call.request_id,
        )
        view = {
            "backup_id": restore.backup_id,
            "volume_id": restore.volume_id,
            "volume_name": restore.volume_name,
        }
        return json_response({"restore": view}, 202)

    # -- user messages ---------------------------------------------------------------

    def list_messages(self, call: Call) -> Response:
        """GET /messages (3.3+); filtered, sorted and paged from 3.5, as cinder's index."""
        _since(call, MESSAGES)
        # The list view reads ``limit`` for its next link at every version.
        limit = self._limit(call.request.args.get("limit"))
        messages = self.backend.messages.visible(call.caller, call.now)
        if call.version >= MESSAGES_PAGINATION:
            page = self._message_page(call, messages, limit)
        else:
            page = self._sorted_messages(messages, _with_default_keys([]))
        body: dict[str, Any] = {"messages": [self._message_view(call, m) for m in page]}
        count_records(call.request.environ, len(page))
        self._add_next_link(call, body, "messages", [m.id for m in page], limit)
        return json_response(body)

    def show_message(self, call: Call, message_id: str) -> Response:
        """GET /messages/{id} (3.3+)."""
        _since(call, MESSAGES)
        message = self.backend.messages.get(call.caller, message_id, call.now)
        count_records(call.request.environ, 1)
        return json_response({"message": self._message_view(call, message)})

    def delete_message(self, call: Call, message_id: str) -> Response:
        """DELETE /messages/{id} (3.3+): 204."""
        _since(call, MESSAGES)
        self.backend.messages.remove(call.caller, message_id, call.now)
        return Response(status=204, content_type="text/html; charset=UTF-8")

    def _message_page(
        self, call: Call, messages: list[UserMessage], limit: int
    ) -> list[UserMessage]:
        """What message_get_all returns for the query's filters, sort, marker and offset.

        Raises:
            BadRequest: on a bad offset or sort, or a filter a user may not use (3.31+).
            NotFound: on an unknown marker.
        """
        filters = dict(call.request.args.items())
        filters.pop("limit", None)
        marker = filters.pop("marker", None)
        offset = _offset(filters.pop("offset", "0"))
        sort = _sort_keys(filters)
        if call.version >= RESOURCE_FILTER:
            _reject_invalid_filters(call, filters, "message")
        keys = _with_default_keys(sort)
        if not {key.rstrip("~") for key in filters} <= MESSAGE_COLUMNS:
            return []  # is_valid_model_filters fails: the query is never run
        rows = {m.id: self._message_row(m) for m in messages}
        found = [m for m in messages if _row_matches(rows[m.id], filters)]
        log = self.backend.messages
        after = log.get(call.caller, marker, call.now) if marker is not None else None
        if after is not None and after not in found:
            found.append(after)  # a keyset marker need not pass the filters itself
        result = self._sorted_messages(found, keys, rows)
        if after is not None:
            result = result[result.index(after) + 1 :]
        return result[offset : offset + limit]

    def _sorted_messages(
        self,
        messages: list[UserMessage],
        keys: Sequence[tuple[str, bool]],
        rows: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[UserMessage]:
        """Sort as cinder's paginate_query does.

        Raises:
            BadRequest: on a key that is not a column.
        """
        if any(key not in MESSAGE_COLUMNS for key, _ in keys):
            raise BadRequest("Invalid input received: Invalid sort key")
        table = rows or {m.id: self._message_row(m) for m in messages}
        return ordered(messages, keys, lambda message, key: table[message.id][key])

    def _message_row(self, message: UserMessage) -> dict[str, Any]:
        """The message as cinder's messages table holds it: what filters and sorts read."""
        row = base_row(message, self._time)
        row.update(resource_uuid=message.resource_id, event_id=_event_id(message), deleted=False)
        return row

    def _message_view(self, call: Call, message: UserMessage) -> dict[str, Any]:
        """cinder's message view; the texts are those translate_action and
        translate_detail give the message's ids."""
        failure = message.failure
        return {
            "id": message.id,
            "event_id": _event_id(message),
            "user_message": f"{failure.action[1]}:{failure.detail[1]}",
            "message_level": message.level,
            "created_at": self._time(message.at),
            "guaranteed_until": self._time(message.expires_at),
            "request_id": message.request_id,
            "links": self._links(call, "messages", message.id),
            "resource_type": failure.resource_type,
            "resource_uuid": message.resource_id,
        }

    # -- lists -----------------------------------------------------------------------

    def _list(self, call: Call, kind: str, view: View[Any], path: str) -> Response:
        """Filter, page and render one collection as cinder's list views do."""
        args = call.request.args
        admin = call.caller.is_admin
        filters = {k: v for k, v in args.items() if k not in LIST_CONTROLS}
        _reject_invalid_filters(call, filters, kind)
        limit = self._limit(args.get("limit"))
        all_projects = _query_flag(args, "all_tenants") if admin else False
        store, lookup = self._collection(kind)
        items = list(self.backend.listed(store, call.caller, call.now, all_projects))
        if filters:
            detail = self._detail_view(kind)
            items = [item for item in items if _matches(detail(call, item), filters)]
        marker = args.get("marker")
        if marker is not None:
            found = lookup(call, marker)
            key = (found.created_at, found.id)
            items = [i for i in items if (i.created_at, i.id) < key]
        page = items[:limit]
        collection = path.split("/")[0]
        body: dict[str, Any] = {collection: [view(call, item) for item in page]}
        count_records(call.request.environ, len(page))
        self._add_next_link(call, body, path, [item.id for item in page], limit)
        if call.version >= SUPPORT_COUNT_INFO and _query_flag(args, "with_count"):
            body["count"] = len(items)
        return json_response(body)

    def _add_next_link(
        self, call: Call, body: dict[str, Any], path: str, ids: Sequence[str], limit: int
    ) -> None:
        """Link the next page when this one is full, as cinder's _get_collection_links."""
        if not ids or len(ids) < limit:
            return
        params = [(k, v) for k, v in call.request.args.items(multi=True) if k != "marker"]
        params.append(("marker", ids[-1]))
        href = f"{self._base(call)}/{path}?{urlencode(params)}"
        body[f"{path.split('/')[0]}_links"] = [{"rel": "next", "href": href}]

    def _collection(self, kind: str) -> tuple[ResourceStore[Any], Callable[[Call, str], Owned]]:
        backend = self.backend
        getters: dict[str, tuple[ResourceStore[Any], Callable[[Call, str], Owned]]] = {
            "volume": (backend.volumes, lambda c, i: backend.volume(c.caller, i, c.now)),
            "snapshot": (backend.snapshots, lambda c, i: backend.snapshot(c.caller, i, c.now)),
            "backup": (backend.backups, lambda c, i: backend.backup(c.caller, i, c.now)),
        }
        return getters[kind]

    def _detail_view(self, kind: str) -> View[Any]:
        views: dict[str, View[Any]] = {
            "volume": self._volume_view,
            "snapshot": self._snapshot_view,
            "backup": self._backup_view,
        }
        return views[kind]

    @staticmethod
    def _limit(value: str | None) -> int:
        if value is None:
            return MAX_LIMIT
        try:
            limit = int(value)
        except ValueError:
            raise BadRequest("limit param must be an integer") from None
        if limit < 0:
            raise BadRequest("limit param must be positive")
        return min(limit, MAX_LIMIT)

    # -- views -----------------------------------------------------------------------

    def _body(self, call: Call) -> Any:
        try:
            return call.json()
        except ValueError:
            raise BadRequest("Malformed request body") from None

    def _base(self, call: Call) -> str:
        return f"{call.root}/v3/{call.caller.project_id}"

    def _links(self, call: Call, collection: str, item_id: str) -> list[dict[str, str]]:
        project = call.caller.project_id
        return [
            {"rel": "self", "href": f"{self._base(call)}/{collection}/{item_id}"},
            {"rel": "bookmark", "href": f"{call.root}/{project}/{collection}/{item_id}"},
        ]

    def _time(self, at: float | None) -> str | None:
        # cinder's timestamps come out without a zone and with microseconds.
        if at is None:
            return None
        wall = self.context.clock.wall(at).replace(tzinfo=None)
        return wall.isoformat(timespec="microseconds")

    def _updated(self, item: Owned) -> str | None:
        # Null until the first change after creation, as in cinder's create response.
        return None if item.updated_at == item.created_at else self._time(item.updated_at)

    def _volume_summary(self, call: Call, volume: Volume) -> dict[str, Any]:
        return {
            "id": volume.id,
            "name": volume.name,
            "links": self._links(call, "volumes", volume.id),
        }

    def _volume_view(self, call: Call, volume: Volume, extended: bool = True) -> dict[str, Any]:
        """The volume body of show, list-detail and create, per microversion and role.

        ``extended`` adds what cinder's attribute extensions add to show and list-detail
        (host, migration and tenant attributes); create goes without them.
        """
        f = volume.fields
        version = call.version
        admin = call.caller.is_admin
        volume_type = self.backend.volume_types[f["volume_type_id"]]
        body: dict[str, Any] = {
            "id": volume.id,
            "status": f["status"],
            "size": f["size"],
            "availability_zone": AVAILABILITY_ZONE,
            "created_at": self._time(volume.created_at),
            "updated_at": self._updated(volume),
            "name": volume.name,
            "description": volume.description,
            "volume_type": volume_type.name,
            "snapshot_id": volume.snapshot_id,
            "source_volid": None,
            "metadata": f["metadata"],
            "links": self._links(call, "volumes", volume.id),
            "user_id": volume.user_id,
            "bootable": "false",
            "encrypted": False,
            "replication_status": None,
            "consistencygroup_id": None,
            "multiattach": False,
            "attachments": [self._attachment(call, volume, a) for a in f["attachments"]],
        }
        if admin:
            body["migration_status"] = None
        if version >= GROUP_VOLUME:
            body["group_id"] = None
        if admin and version >= VOLUME_DETAIL_PROVIDER_ID:
            body["provider_id"] = None
        if version >= VOLUME_SHARED_TARGETS:
            # LVM exports one target per volume; before 3.69 a null showed as true.
            body["shared_targets"] = False
            body["service_uuid"] = SERVICE_UUID if f["host"] else None
        if admin and version >= VOLUME_CLUSTER_NAME:
            body["cluster_name"] = None
        if version >= VOLUME_TYPE_ID_IN_DETAIL:
            body["volume_type_id"] = volume_type.id
        if version >= USE_QUOTA:
            body["consumes_quota"] = True
        if extended:
            if admin:
                body["os-vol-host-attr:host"] = f["host"]
                body["os-vol-mig-status-attr:migstat"] = None
                body["os-vol-mig-status-attr:name_id"] = None
            body["os-vol-tenant-attr:tenant_id"] = volume.project_id
        return body

    def _attachment(
        self, call: Call, volume: Volume, attachment: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "id": volume.id,
            "attachment_id": attachment["attachment_id"],
            "volume_id": volume.id,
            "server_id": attachment["server_id"],
            # Shown to admins only; the fake does not know which compute host it is.
            "host_name": None,
            "device": attachment["device"],
            "attached_at": self._time(attachment["attached_at"]),
        }

    def _type_view(self, call: Call, volume_type: VolumeType) -> dict[str, Any]:
        admin = call.caller.is_admin
        specs = dict(volume_type.extra_specs)
        if not admin:
            specs = {k: v for k, v in specs.items() if k in USER_VISIBLE_EXTRA_SPECS}
        view: dict[str, Any] = {
            "id": volume_type.id,
            "name": volume_type.name,
            "is_public": volume_type.is_public,
            "description": volume_type.description,
            "extra_specs": specs,
        }
        if admin:
            view["qos_specs_id"] = None
        view["os-volume-type-access:is_public"] = volume_type.is_public
        return view

    def _snapshot_view(
        self, call: Call, snapshot: Snapshot, extended: bool = True
    ) -> dict[str, Any]:
        f = snapshot.fields
        body: dict[str, Any] = {
            "id": snapshot.id,
            "created_at": self._time(snapshot.created_at),
            "updated_at": self._updated(snapshot),
            "name": snapshot.name,
            "description": snapshot.description,
            "volume_id": snapshot.volume_id,
            "status": f["status"],
            "size": snapshot.size,
            "metadata": f["metadata"],
        }
        if call.version >= GROUP_SNAPSHOTS:
            body["group_snapshot_id"] = None
        if call.version >= SNAPSHOT_LIST_USER_ID:
            body["user_id"] = snapshot.user_id
        if call.version >= USE_QUOTA:
            body["consumes_quota"] = True
        if extended:
            body["os-extended-snapshot-attributes:progress"] = f["progress"]
            body["os-extended-snapshot-attributes:project_id"] = snapshot.project_id
        return body

    def _backup_summary(self, call: Call, backup: Backup) -> dict[str, Any]:
        return {
            "id": backup.id,
            "name": backup.name,
            "links": self._links(call, "backups", backup.id),
        }

    def _backup_view(self, call: Call, backup: Backup) -> dict[str, Any]:
        f = backup.fields
        body: dict[str, Any] = {
            "id": backup.id,
            "status": f["status"],
            "size": backup.size,
            "object_count": f["object_count"],
            "availability_zone": backup.availability_zone,
            "container": f["container"],
            "created_at": self._time(backup.created_at),
            "updated_at": self._updated(backup),
            "name": backup.name,
            "description": backup.description,
            "fail_reason": f["fail_reason"],
            "volume_id": backup.volume_id,
            "links": self._links(call, "backups", backup.id),
            "is_incremental": backup.parent_id is not None,
            "has_dependent_backups": self.backend.has_dependents(backup, call.now),
            "snapshot_id": backup.snapshot_id,
            "data_timestamp": self._time(backup.created_at),
        }
        if call.version >= BACKUP_METADATA:
            body["metadata"] = f["metadata"]
        # Shown to admins only (backup:backup_project_attribute is admin_api).
        if call.caller.is_admin and call.version >= BACKUP_PROJECT:
            body["os-backup-project-attr:project_id"] = backup.project_id
        if call.caller.is_admin and call.version >= BACKUP_PROJECT_USER_ID:
            body["user_id"] = backup.user_id
        return body


def _since(call: Call, version: tuple[int, int]) -> None:
    """Refuse a method older microversions lack as cinder does: a bare 404, as if the
    method did not exist.

    Raises:
        NotFound: below ``version``.
    """
    if call.version < version:
        raise NotFound(NOT_FOUND)


def _reject_invalid_filters(call: Call, filters: dict[str, str], kind: str) -> None:
    """Refuse filters a user may not use, as common.reject_invalid_filters does.

    Raises:
        BadRequest: naming them, in the query's order; never for an admin.
    """
    if call.caller.is_admin:
        return
    # cinderclient always sends all_tenants, so cinder drops it for a user (bug 1917574).
    filters.pop("all_tenants", None)
    unknown = [key for key in filters if key not in USER_FILTERS[kind]]
    if unknown:
        raise BadRequest(f"Invalid filters {','.join(unknown)} are found in query options.")


def _offset(value: str) -> int:
    """common._get_offset_param: oslo's validate_integer from 0 to DB_MAX_INT.

    Raises:
        BadRequest: worded as oslo words it.
    """
    try:
        offset = int(value)
    except ValueError:
        raise BadRequest("offset must be an integer") from None
    if offset < 0:
        raise BadRequest("offset must be >= 0")
    if offset > DB_MAX_INT:
        raise BadRequest(f"offset must be <= {DB_MAX_INT}")
    return offset


def _sort_keys(params: dict[str, str]) -> list[tuple[str, str]]:
    """Take the sort parameters out of ``params``, as common.get_sort_params does.

    Returns:
        ``(key, direction)`` pairs: from ``sort=k1:asc,k2`` or ``sort_key``/``sort_dir``,
        ``created_at``/``desc`` by default.

    Raises:
        BadRequest: if ``sort`` comes with ``sort_key`` or ``sort_dir``.
    """
    if "sort" in params and ("sort_key" in params or "sort_dir" in params):
        raise BadRequest(
            "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used "
            "with the 'sort' parameter."
        )
    if "sort" not in params:
        key = params.pop("sort_key", "created_at").strip()
        return [(key, params.pop("sort_dir", "desc").strip())]
    keys = []
    for item in params.pop("sort").strip().split(","):
        key, _, direction = item.partition(":")
        keys.append((key.strip(), (direction or "desc").strip()))
    return keys


def _with_default_keys(keys: list[tuple[str, str]]) -> list[tuple[str, bool]]:
    """Check directions and append the default keys, as the db's process_sort_params does.

    Returns:
        ``(key, descending)`` pairs ending with ``created_at`` and ``id``, which take
        the first key's direction (descending without keys).

    Raises:
        BadRequest: on a direction other than ``asc`` or ``desc``.
    """
    if any(direction not in ("asc", "desc") for _, direction in keys):
        raise BadRequest("Invalid input received: Unknown sort direction, must be 'desc' or 'asc'.")
    first = keys[0][1] if keys else "desc"
    named = [key for key, _ in keys]
    added = [(key, first) for key in DEFAULT_SORT_KEYS if key not in named]
    return [(key, direction == "desc") for key, direction in keys + added]


def _row_matches(row: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    """Whether a row passes exact filters and, for ``key~``, cinder's LIKE ``%value%``."""
    for key, wanted in filters.items():
        value = row[key.rstrip("~")]
        if value is None:
            return False
        text = str(value)
        if not (wanted in text if key.endswith("~") else text == wanted):
            return False
    return True


def _event_id(message: UserMessage) -> str:
    """The event id cinder's message API composes: ``VOLUME_<type>_<action>_<detail>``."""
    failure = message.failure
    return f"VOLUME_{failure.resource_type}_{failure.action[0]}_{failure.detail[0]}"


def _accepted(content_type: str = "text/html; charset=UTF-8") -> Response:
    """An empty 202; cinder's deletes answer with webob's default content type."""
    return Response(status=202, content_type=content_type)


def _matches(view: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    """Whether a detail view has every filtered field equal to the wanted text.

    A field the view lacks matches nothing, as an unknown column does in cinder's query.
    """
    for key, wanted in filters.items():
        if key not in view:
            return False
        value = view[key]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if text != (wanted.lower() if isinstance(value, bool) else wanted):
            return False
    return True
