"""Nova's answers: microversions, server bodies, list filters and paging, actions and
their instance action records."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from ..accounting import count_records
from ..clock import isotime, parse_isotime
from ..errors import (
    NOT_FOUND,
    BadRequest,
    Forbidden,
    NotFound,
    UnsupportedMediaType,
    json_response,
    render_nova,
    render_webob,
)
from ..service import (
    OSLO_MAX_REQUEST_BODY_SIZE,
    REQUEST_ID_HEADER,
    VERSION_HEADER,
    Call,
    CloudContext,
    Route,
    ServiceFrontend,
    read_microversion,
    version_entry,
)
from ..service import version_text as _text
from . import urls
from .models import (
    ERROR,
    FILTER_STATUSES,
    ActionEvent,
    Attachment,
    ComputeBackend,
    Flavor,
    InstanceAction,
    Server,
    admin_password,
    host_id,
)

MIN_VERSION = (2, 1)
MAX_VERSION = (2, 100)
MAX_LIMIT = 1000  # Nova's osapi_max_limit
LEGACY_VERSION_HEADER = "X-OpenStack-Nova-API-Version"
#: The Content-Types Nova reads a body in (nova.api.openstack.wsgi).
MEDIA_TYPES = frozenset({"application/json", "application/vnd.openstack.compute+json"})
# Nova shows progress only in these statuses.
PROGRESS_STATUSES = frozenset(
    {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}
)
_NAME_RE = re.compile(r"^(?! )[\S ]*(?<! )$")
#: The query parameters the instance action list takes from 2.58 (its schema refuses
#: others); ``changes-before`` joins them at 2.66.
ACTION_LIST_QUERY = frozenset({"limit", "marker", "changes-since"})
#: The instance action fields Nova shows as they are stored (its ACTION_KEYS, but the
#: times and the message, which FakeCloud works out for the time of the request).
ACTION_FIELDS = ("action", "instance_uuid", "request_id", "user_id", "project_id")


def invalid(field: str, value: Any, reason: str) -> BadRequest:
    """Return Nova's JSON-schema validation error."""
    return BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. {reason}")


def invalid_query(field: str, value: Any, reason: str) -> BadRequest:
    """Return Nova's query-parameter validation error."""
    return BadRequest(f"Invalid input for query parameters {field}. Value: {value}. {reason}")


def _require(container: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in container:
        raise invalid(where, container, f"'{key}' is a required property")
    return container[key]


def _object(body: Any, key: str) -> dict[str, Any]:
    if not isinstance(body, dict) or key not in body:
        # A missing top-level key has no path: Nova shows the bare schema message.
        raise BadRequest(f"'{key}' is a required property")
    value = body[key]
    if not isinstance(value, dict):
        raise invalid(key, value, f"{value!r} is not of type 'object'")
    return value


def _string(container: Mapping[str, Any], key: str, *, max_length: int = 255) -> str:
    value = container[key]
    if not isinstance(value, str):
        raise invalid(key, value, f"{value!r} is not of type 'string'")
    if not value:
        raise invalid(key, value, "'' is too short")
    if len(value) > max_length:
        raise invalid(key, value, f"{value!r} is too long")
    return value


def _ref(value: Any, field: str) -> str:
    # flavorRef and imageRef may be ids or URLs; Nova takes the last path segment.
    if not isinstance(value, (str, int)) or value == "":
        raise invalid(field, value, f"{value!r} is not of type 'string', 'integer'")
    return str(value).rstrip("/").rsplit("/", 1)[-1]


class ComputeResponses(ServiceFrontend):
    """The Nova frontend.

    Args:
        context: the cloud; makes the :class:`ComputeBackend` and registers it as
            ``compute``.
    """

    render_error = staticmethod(render_nova)
    max_body_size = OSLO_MAX_REQUEST_BODY_SIZE
    # Nova's compute_req_id filter repeats the request id in a header of its own.
    request_id_headers = (REQUEST_ID_HEADER, "x-compute-request-id")

    def __init__(self, context: CloudContext) -> None:
        super().__init__(context)
        self.backend = ComputeBackend(context)
        context.backends["compute"] = self.backend

    def routes(self) -> Sequence[Route]:
        """Return the routing table."""
        return urls.routes(self)

    def respond(self, route: Route, call: Call, args: dict[str, Any]) -> Response:
        """Answer HEAD as Nova's ``routes`` mapper does: no route takes it (only the
        version documents answer any method)."""
        if call.request.method == "HEAD" and route.methods != urls.ANY:
            # webob words it for HEAD as for a client that takes no JSON.
            return render_webob(NotFound(NOT_FOUND), False)
        return super().respond(route, call, args)

    # -- microversions ---------------------------------------------------------------

    def begin(self, call: Call) -> None:
        """Read the requested microversion, then check the Content-Type as Nova does.

        Raises:
            BadRequest: on a malformed version.
            NotAcceptable: on a version outside the supported range.
            UnsupportedMediaType: on a Content-Type Nova reads no body in, whatever
                the method and even with no body; an empty one or ``text/plain`` (what some
                servers default to) counts as none.
        """
        headers = call.request.headers
        requested = version_entry(headers.get(VERSION_HEADER), "compute")
        if requested is None:
            requested = headers.get(LEGACY_VERSION_HEADER)
        read_microversion(call, requested, MIN_VERSION, MAX_VERSION)
        if call.media_type not in (None, "", "text/plain", *MEDIA_TYPES):
            raise UnsupportedMediaType("Unsupported Content-Type")

    def finish(self, call: Call, response: Response) -> Response:
        """Echo the microversion in effect, as Nova does on every v2.1 answer but the 400
        to a version it cannot read (``call.version`` is then still unset)."""
        if call.version == (0, 0):
            return response
        text = _text(call.version)
        response.headers[VERSION_HEADER] = f"compute {text}"
        response.headers[LEGACY_VERSION_HEADER] = text
        response.headers["Vary"] = f"{VERSION_HEADER}, {LEGACY_VERSION_HEADER}"
        return response

    # -- version documents -----------------------------------------------------------

    def _v21(self, call: Call) -> dict[str, Any]:
        return {
            "id": "v2.1",
            "status": "CURRENT",
            "version": _text(MAX_VERSION),
            "min_version": _text(MIN_VERSION),
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{call.root}/v2.1/"}],
        }

    def _v20(self, call: Call) -> dict[str, Any]:
        return {
            "id": "v2.0",
            "status": "DEPRECATED",
            "version": "",
            "min_version": "",
            "updated": "2025-07-04T12:00:00Z",
            "links": [{"rel": "self", "href": f"{call.root}/v2/"}],
        }

    def versions(self, call: Call) -> Response:
        """GET /: the versions list."""
        return json_response({"versions": [self._v20(call), self._v21(call)]})

    def version_v2(self, call: Call) -> Response:
        """GET /v2: the legacy API's version document (the API itself is not served)."""
        doc = self._v20(call)
        doc["links"].append(
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
        )
        doc["media-types"] = [
            {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}
        ]
        return json_response({"version": doc})

    def version(self, call: Call) -> Response:
        """GET /v2.1: this version, with its microversion range."""
        doc = self._v21(call)
        doc["links"].append(
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
        )
        doc["media-types"] = [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ]
        return json_response({"version": doc})

    # -- servers ---------------------------------------------------------------------

    def list_servers(self, call: Call) -> Response:
        """GET /servers: ids, names and links."""
        return self._list(call, self._summary, "servers")

    def list_servers_detail(self, call: Call) -> Response:
        """GET /servers/detail: full bodies."""
        return self._list(call, lambda c, s: self._detail(c, s, show=False), "servers/detail")

    def show_server(self, call: Call, server_id: str) -> Response:
        """GET /servers/{id}."""
        server = self.backend.server(call.caller, server_id, call.now)
        count_records(call.request.environ, 1)
        return json_response({"server": self._detail(call, server, show=True)})

    def create_server(self, call: Call) -> Response:
        """POST /servers: 202 with id, links and adminPass."""
        spec = _object(self._body(call), "server")
        name = _string(spec, "name") if "name" in spec else _require(spec, "name", "server")
        if not _NAME_RE.match(name):
            raise invalid("name", name, f"{name!r} does not match '^(?! )[\\S ]*(?<! )$'")
        flavor_id = _ref(_require(spec, "flavorRef", "server"), "flavorRef")
        image_id = _ref(spec.get("imageRef", ""), "imageRef") if "imageRef" in spec else ""
        if not image_id:
            raise BadRequest("Can not find requested image")
        networks = spec.get("networks", "auto")
        if call.version >= (2, 37):
            networks = _require(spec, "networks", "server")
            if not (networks in ("auto", "none") or isinstance(networks, list)):
                raise invalid(
                    "networks",
                    networks,
                    f"{networks!r} is not valid under any of the given schemas",
                )
        metadata = spec.get("metadata") or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise invalid("metadata", metadata, f"{metadata!r} is not of type 'object'")
        zone = spec.get("availability_zone")
        if zone is not None:
            zone = _string(spec, "availability_zone")
            # ZONE, ZONE:HOST, ZONE:HOST:NODE or ZONE::NODE: a host or a node forces
            # one, which only admins may (Nova's servers:create:forced_host policy).
            if zone.count(":") and not call.caller.is_admin:
                raise Forbidden(
                    "Policy doesn't allow os_compute_api:servers:create:forced_host to be "
                    "performed."
                )
        server = self.backend.create_server(
            call.caller,
            call.now,
            name=name,
            flavor_id=flavor_id,
            image_id=image_id,
            networks=networks,
            metadata=metadata,
            request={
                k: spec[k] for k in ("key_name", "description", "user_data", "tags") if k in spec
            },
            request_id=call.request_id,
            availability_zone=zone,
        )
        password = spec.get("adminPass") or admin_password()
        body = {
            "server": {
                "id": server.id,
                "links": self._links(call, "servers", server.id),
                "OS-DCF:diskConfig": "MANUAL",
                "security_groups": [{"name": "default"}],
                "adminPass": password,
            }
        }
        response = json_response(body, 202)
        response.headers["Location"] = f"{call.root}/v2.1/servers/{server.id}"
        return response

    def delete_server(self, call: Call, server_id: str) -> Response:
        """DELETE /servers/{id}: 204; the server is deleting, then gone."""
        self.backend.delete_server(call.caller, server_id, call.now, call.request_id)
        return Response(status=204, content_type="application/json")

    def server_action(self, call: Call, server_id: str) -> Response:
        """POST /servers/{id}/action: one action per body, as Nova's action routing."""
        body = self._body(call)
        if not isinstance(body, dict) or len(body) != 1:
            raise BadRequest("Malformed request body")
        ((action, params),) = body.items()
        handler = self._actions().get(action)
        if handler is None:
            raise BadRequest(f"There is no such action: {action}")
        return handler(call, server_id, params if isinstance(params, dict) else {})

    def _actions(self) -> dict[str, Callable[[Call, str, dict[str, Any]], Response]]:
        return {
            "reboot": self._reboot,
            "resize": self._resize,
            "confirmResize": self._simple("confirm_resize", 204),
            "revertResize": self._simple("revert_resize"),
            "createImage": self._create_image,
            "rebuild": self._rebuild,
            "os-start": self._simple("start"),
            "os-stop": self._simple("stop"),
            "migrate": self._simple("migrate"),
            "os-migrateLive": self._live_migrate,
        }

    def _simple(
        self, key: str, status: int = 202
    ) -> Callable[[Call, str, dict[str, Any]], Response]:
        def act(call: Call, server_id: str, params: dict[str, Any]) -> Response:
            self._act(call, server_id, key)
            return Response(status=status, content_type="application/json")

        return act

    def _act(self, call: Call, server_id: str, key: str, **params: Any) -> Any:
        """Start a backend action in the caller's name, under this request's id."""
        return self.backend.act(
            call.caller, server_id, key, call.now, request_id=call.request_id, **params
        )

    def _reboot(self, call: Call, server_id: str, params: dict[str, Any]) -> Response:
        kind = _require(params, "type", "reboot")
        if not isinstance(kind, str) or kind.upper() not in ("SOFT", "HARD"):
            raise invalid(
                "type",
                kind,
                f"{kind!r} is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']",
            )
        key = "hard_reboot" if kind.upper() == "HARD" else "reboot"
        self._act(call, server_id, key)
        return Response(status=202, content_type="application/json")

    def _resize(self, call: Call, server_id: str, params: dict[str, Any]) -> Response:
        flavor_id = _ref(_require(params, "flavorRef", "resize"), "flavorRef")
        self._act(call, server_id, "resize", flavor_id=flavor_id)
        return Response(status=202, content_type="application/json")

    def _live_migrate(self, call: Call, server_id: str, params: dict[str, Any]) -> Response:
        self._act(call, server_id, "live_migrate", host=params.get("host"))
        return Response(status=202, content_type="application/json")

    def _create_image(self, call: Call, server_id: str, params: dict[str, Any]) -> Response:
        name = (
            _string(params, "name") if "name" in params else _require(params, "name", "createImage")
        )
        image_id = self._act(
            call, server_id, "snapshot", name=name, metadata=params.get("metadata") or {}
        )
        if call.version >= (2, 45):
            return json_response({"image_id": image_id}, 202)
        response = Response(status=202, content_type="text/html; charset=UTF-8")
        # Nova's glance.generate_image_url: the image endpoint (its version cut off) and
        # /images/<id>.
        response.headers["Location"] = f"{call.base_url}/image/images/{image_id}"
        return response

    def _rebuild(self, call: Call, server_id: str, params: dict[str, Any]) -> Response:
        image_id = _ref(_require(params, "imageRef", "rebuild"), "imageRef")
        name = _string(params, "name") if "name" in params else None
        self._act(call, server_id, "rebuild", image_id=image_id, name=name)
        server = self.backend.server(call.caller, server_id, call.now)
        body = self._detail(call, server, show=True, rebuild=True)
        body["adminPass"] = params.get("adminPass") or admin_password()
        if call.version >= (2, 57):
            body["user_data"] = server.request.get("user_data")
        response = json_response({"server": body}, 202)
        response.headers["Location"] = f"{call.root}/v2.1/servers/{server.id}"
        return response

    # -- instance actions ------------------------------------------------------------
    # Not counted as resource records: an action is not a resource whose status a
    # client polls, and the accounting's records measure what status answers cost.

    def list_instance_actions(self, call: Call, server_id: str) -> Response:
        """GET /servers/{id}/os-instance-actions: the server's actions, newest first.

        From 2.58 with ``updated_at``, the ``changes-since``, ``limit`` and ``marker``
        parameters and a next link in ``links``; ``changes-before`` from 2.66.
        """
        server = self._acted_on(call, server_id)
        if call.version < (2, 58):
            actions = self.backend.server_actions(server, call.now)
            return json_response({"instanceActions": [self._action(call, a) for a in actions]})
        args = call.request.args
        limit = self._limit(args.get("limit"))
        allowed = ACTION_LIST_QUERY | ({"changes-before"} if call.version >= (2, 66) else set())
        extras = sorted(set(args) - allowed)
        if extras:
            verb = "was" if len(extras) == 1 else "were"
            listed = ", ".join(repr(extra) for extra in extras)
            raise BadRequest(f"Additional properties are not allowed ({listed} {verb} unexpected)")
        changes = self._changes(call)
        page: list[InstanceAction] = []
        if limit:
            actions = self.backend.server_actions(server, call.now, changes)
            page = self._after_marker(call, server, actions)[:limit]
        body: dict[str, Any] = {"instanceActions": [self._action(call, a) for a in page]}
        path = f"servers/{server_id}/os-instance-actions"
        links = self._next_links(call, path, [a.request_id for a in page], limit)
        if links:
            body["links"] = links
        return json_response(body)

    def show_instance_action(self, call: Call, server_id: str, request_id: str) -> Response:
        """GET /servers/{id}/os-instance-actions/{request_id}: one action as of now.

        Its events show to admins at every microversion, to the server's project from
        2.51; a traceback and the host to admins only, ``hostId`` from 2.62, and
        ``details`` (an Error's message) to admins from 2.84.
        """
        server = self._acted_on(call, server_id)
        action = self.backend.server_action(server, request_id, call.now)
        view = self._action(call, action)
        if call.caller.is_admin or call.version >= (2, 51):
            events = action.events_at(call.now)
            view["events"] = [self._event(call, action, event) for event in events]
        return json_response({"instanceAction": view})

    def _acted_on(self, call: Call, server_id: str) -> Server:
        # From 2.21 Nova reads the actions of a deleted server too.
        return self.backend.server(call.caller, server_id, call.now, call.version >= (2, 21))

    def _after_marker(
        self, call: Call, server: Server, actions: list[InstanceAction]
    ) -> list[InstanceAction]:
        marker = call.request.args.get("marker")
        if marker is None:
            return actions
        try:
            found = self.backend.server_action(server, marker, call.now)
        except NotFound:
            # Nova's actions_get overwrites the marker with the lookup's None before it
            # words the error, so every unknown marker reads the same.
            raise BadRequest("Marker None could not be found.") from None
        return [a for a in actions if a.order < found.order]

    def _action(self, call: Call, action: InstanceAction) -> dict[str, Any]:
        view: dict[str, Any] = {key: getattr(action, key) for key in ACTION_FIELDS}
        view["start_time"] = self._time(action.start_time, subsecond=True)
        view["message"] = action.message_at(call.now)
        if call.version >= (2, 58):
            view["updated_at"] = self._time(action.updated_at(call.now), subsecond=True)
        return view

    def _event(self, call: Call, action: InstanceAction, event: ActionEvent) -> dict[str, Any]:
        admin = call.caller.is_admin
        finished = event.finished(call.now)
        failed = finished and event.result == ERROR
        view: dict[str, Any] = {
            "event": event.event,
            "start_time": self._time(event.start_time, subsecond=True),
            "finish_time": self._time(event.finish_time, subsecond=True) if finished else None,
            "result": event.result if finished else None,
        }
        if admin:
            view["traceback"] = _traceback(event.details) if failed else None
        if call.version >= (2, 62):
            if admin:
                view["host"] = event.host
            view["hostId"] = host_id(action.project_id, event.host)
        if call.version >= (2, 84) and admin:
            view["details"] = event.details if failed else None
        return view

    # -- volume attachments ----------------------------------------------------------

    def list_attachments(self, call: Call, server_id: str) -> Response:
        """GET /servers/{id}/os-volume_attachments."""
        server = self.backend.server(call.caller, server_id, call.now)
        views = [self._attachment(call, a) for a in server.attachments.values()]
        return json_response({"volumeAttachments": views})

    def attach_volume(self, call: Call, server_id: str) -> Response:
        """POST /servers/{id}/os-volume_attachments: 200 with the attachment."""
        spec = _object(self._body(call), "volumeAttachment")
        volume_id = _require(spec, "volumeId", "volumeAttachment")
        try:
            uuid.UUID(str(volume_id))
        except ValueError:
            raise invalid("volumeId", volume_id, f"{volume_id!r} is not a 'uuid'") from None
        attachment = self.backend.attach_volume(
            call.caller, server_id, str(volume_id), spec.get("device"), call.now
        )
        return json_response({"volumeAttachment": self._attachment(call, attachment)})

    def show_attachment(self, call: Call, server_id: str, volume_id: str) -> Response:
        """GET /servers/{id}/os-volume_attachments/{volume_id}."""
        attachment = self.backend.attachment(call.caller, server_id, volume_id, call.now)
        return json_response({"volumeAttachment": self._attachment(call, attachment)})

    def detach_volume(self, call: Call, server_id: str, volume_id: str) -> Response:
        """DELETE /servers/{id}/os-volume_attachments/{volume_id}: 202."""
        self.backend.detach_volume(call.caller, server_id, volume_id, call.now)
        return Response(status=202, content_type="application/json")

    def _attachment(self, call: Call, attachment: Attachment) -> dict[str, Any]:
        view: dict[str, Any] = {
            "device": attachment.device,
            "serverId": attachment.server_id,
            "volumeId": attachment.volume_id,
        }
        if call.version < (2, 89):
            view["id"] = attachment.volume_id
        if call.version >= (2, 70):
            view["tag"] = None
        if call.version >= (2, 79):
            view["delete_on_termination"] = attachment.delete_on_termination
        if call.version >= (2, 89):
            view["attachment_id"] = attachment.id
            view["bdm_uuid"] = attachment.id
        return view

    # -- flavors ---------------------------------------------------------------------

    def list_flavors(self, call: Call) -> Response:
        """GET /flavors."""
        views = []
        for flavor in self.backend.flavors.values():
            view: dict[str, Any] = {
                "id": flavor.id,
                "name": flavor.name,
                "links": self._links(call, "flavors", flavor.id),
            }
            if call.version >= (2, 55):
                view["description"] = None
            views.append(view)
        return json_response({"flavors": views})

    def list_flavors_detail(self, call: Call) -> Response:
        """GET /flavors/detail."""
        flavors = self.backend.flavors.values()
        return json_response({"flavors": [self._flavor(call, f) for f in flavors]})

    def show_flavor(self, call: Call, flavor_id: str) -> Response:
        """GET /flavors/{id}."""
        flavor = self.backend.flavor(flavor_id)
        return json_response({"flavor": self._flavor(call, flavor)})

    def _flavor(self, call: Call, flavor: Flavor) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": flavor.id,
            "name": flavor.name,
            "ram": flavor.ram,
            "disk": flavor.disk,
            # Before 2.75 Nova showed a zero swap as "".
            "swap": flavor.swap if flavor.swap or call.version >= (2, 75) else "",
            "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral,
            "OS-FLV-DISABLED:disabled": False,
            "vcpus": flavor.vcpus,
            "os-flavor-access:is_public": True,
            "rxtx_factor": 1.0,
            "links": self._links(call, "flavors", flavor.id),
        }
        if call.version >= (2, 55):
            view["description"] = None
        if call.version >= (2, 61):
            view["extra_specs"] = dict(flavor.extra_specs)
        return view

    # -- views -----------------------------------------------------------------------

    def _body(self, call: Call) -> Any:
        try:
            return call.json()
        except ValueError:
            raise BadRequest("Malformed request body") from None

    def _list(
        self, call: Call, view: Callable[[Call, Server], dict[str, Any]], path: str
    ) -> Response:
        args = call.request.args
        since, before = self._changes(call)
        asked = frozenset(value.upper() for value in args.getlist("status"))
        # Nova ignores the statuses it does not know, and refuses a list of only those.
        statuses = asked & FILTER_STATUSES
        if asked and not statuses:
            raise BadRequest("Invalid status value")
        if statuses == {"DELETED"} and not call.caller.is_admin:
            raise Forbidden("Only administrators may list deleted instances")
        name = args.get("name")
        if name is not None:
            try:
                re.compile(name)
            except re.error:
                raise invalid_query("name", name, "invalid regular expression") from None
        limit = self._limit(args.get("limit"))
        servers = self.backend.list_servers(
            call.caller,
            call.now,
            since=since,
            before=before,
            statuses=statuses,
            name=name,
        )
        marker = args.get("marker")
        if marker is not None:
            found = self.backend.servers.get(marker, call.now, include_deleted=True)
            if found is None:
                raise BadRequest(f"marker [{marker}] not found")
            key = (found.created_at, found.id)
            servers = [s for s in servers if (s.created_at, s.id) < key]
        page = servers[:limit]
        body: dict[str, Any] = {"servers": [view(call, s) for s in page]}
        count_records(call.request.environ, len(page))
        links = self._next_links(call, path, [s.id for s in page], limit)
        if links:
            body["servers_links"] = links
        return json_response(body)

    def _changes(self, call: Call) -> tuple[float | None, float | None]:
        """Return ``changes-since`` and, from 2.66, ``changes-before`` as scenario times.

        Raises:
            BadRequest: on a value that is not a date-time, or a window that ends before
                it starts, as Nova words them.
        """
        args = call.request.args
        since = self._time_arg(args.get("changes-since"), "changes-since")
        before = None
        if call.version >= (2, 66):
            before = self._time_arg(args.get("changes-before"), "changes-before")
        if since is not None and before is not None and since > before:
            raise BadRequest(
                "The value of changes-since must be less than or equal to changes-before."
            )
        return since, before

    def _next_links(
        self, call: Call, path: str, ids: list[str], limit: int
    ) -> list[dict[str, str]]:
        """Nova's collection links (common.ViewBuilder._get_collection_links): a next
        link when the page is full, with the query sorted and the marker set to the last
        id; none otherwise."""
        if not ids or len(ids) != limit:
            return []
        params = dict(sorted(call.request.args.items(multi=True)))
        params["marker"] = ids[-1]
        return [{"rel": "next", "href": f"{call.root}/v2.1/{path}?{urlencode(params)}"}]

    def _time_arg(self, value: str | None, field: str) -> float | None:
        if value is None:
            return None
        try:
            return self.context.clock.scenario_time(parse_isotime(value))
        except ValueError:
            raise invalid_query(field, value, f"{value!r} is not a 'date-time'") from None

    @staticmethod
    def _limit(value: str | None) -> int:
        if value is None:
            return MAX_LIMIT
        if not value.isdigit():
            raise invalid_query("limit", value, f"{value!r} does not match '^[0-9]*$'")
        return min(int(value), MAX_LIMIT)

    def _links(self, call: Call, collection: str, item_id: str) -> list[dict[str, str]]:
        return [
            {"rel": "self", "href": f"{call.root}/v2.1/{collection}/{item_id}"},
            {"rel": "bookmark", "href": f"{call.root}/{collection}/{item_id}"},
        ]

    def _summary(self, call: Call, server: Server) -> dict[str, Any]:
        return {
            "id": server.id,
            "name": server.name,
            "links": self._links(call, "servers", server.id),
        }

    def _time(self, at: float | None, subsecond: bool = False) -> str | None:
        if at is None:
            return None
        when = self.context.clock.wall(at)
        return _naive(when) if subsecond else isotime(when)

    def _detail(
        self, call: Call, server: Server, show: bool, rebuild: bool = False
    ) -> dict[str, Any]:
        """The server body of show and list-detail, as Nova's view builder shapes it per
        microversion; with ``rebuild``, the body of a rebuild's answer, which leaves
        out what only 2.75 added to it (zone, config drive, launch times, extended
        attributes and states, volumes, host status) and ``user_data``."""
        f = server.fields
        version = call.version
        admin = call.caller.is_admin
        full = not rebuild or version >= (2, 75)
        flavor = self.backend.flavors[f["flavor_id"]]
        # A build request has no updated_at yet: Nova shows the time of the request.
        updated = call.now if server.build_request else server.updated_at
        addresses = f["addresses"]
        if not full:
            addresses = {
                net: [{"version": a["version"], "addr": a["addr"]} for a in entries]
                for net, entries in addresses.items()
            }
        body: dict[str, Any] = {
            "accessIPv4": "",
            "accessIPv6": "",
            "addresses": addresses,
            "created": self._time(server.created_at),
            "flavor": self._server_flavor(call, flavor),
            "hostId": server.host_id(),
            "id": server.id,
            "image": self._server_image(call, server),
            "links": self._links(call, "servers", server.id),
            "metadata": f["metadata"],
            "name": server.name,
            "status": f["status"],
            "tenant_id": server.project_id,
            "user_id": server.user_id,
            "updated": self._time(updated),
            "OS-DCF:diskConfig": "MANUAL",
        }
        fault = f["fault"]
        if fault and f["vm_state"] in ("error", "deleted"):
            body["fault"] = {
                "code": fault["code"],
                "created": self._time(fault["created"]),
                "message": fault["message"],
            }
            # Nova keeps the failure's traceback as the fault's details, shown to
            # admins (and to anyone for a fault that is not a 500).
            if admin or fault["code"] != 500:
                body["fault"]["details"] = _traceback(fault["message"])
        if f["status"] in PROGRESS_STATUSES:
            body["progress"] = f["progress"]
        if full:
            body["OS-EXT-AZ:availability_zone"] = f.get("zone") or ""
            body["config_drive"] = ""
        if full or version >= (2, 54):
            body["key_name"] = server.request.get("key_name")
        if full:
            body["OS-SRV-USG:launched_at"] = self._time(f["launched_at"], subsecond=True)
            body["OS-SRV-USG:terminated_at"] = self._time(f["terminated_at"], subsecond=True)
            if f["addresses"]:
                body["security_groups"] = [{"name": "default"}]
        extended = admin and full
        if extended:
            body.update(self._admin_attributes(call, server, user_data=not rebuild))
        if full:
            body["OS-EXT-STS:task_state"] = f["task_state"]
            body["OS-EXT-STS:vm_state"] = f["vm_state"]
            body["OS-EXT-STS:power_state"] = f["power_state"]
            body["os-extended-volumes:volumes_attached"] = [
                {
                    "id": a.volume_id,
                    **({"delete_on_termination": False} if version >= (2, 3) else {}),
                }
                for a in server.attachments.values()
            ]
        if version >= (2, 9):
            body["locked"] = False
        if version >= (2, 16) and admin and full:
            body["host_status"] = "UP" if f["host"] and not server.deleted else ""
        if version >= (2, 19):
            body["description"] = server.request.get("description")
        if version >= (2, 26):
            body["tags"] = list(server.request.get("tags") or [])
        if version >= (2, 63):
            body["trusted_image_certificates"] = None
        if version >= (2, 71) and show:
            body["server_groups"] = []
        if version >= (2, 73):
            body["locked_reason"] = None
        if version >= (2, 90) and not extended:
            # 2.90 shows the hostname to everyone; admins see it with the others.
            body["OS-EXT-SRV-ATTR:hostname"] = _hostname(server.name)
        if version >= (2, 96) and full:
            body["pinned_availability_zone"] = server.request.get("availability_zone") or None
        if version >= (2, 100):
            body["scheduler_hints"] = {}
        return body

    def _admin_attributes(
        self, call: Call, server: Server, user_data: bool = True
    ) -> dict[str, Any]:
        f = server.fields
        spawned = f["host"] is not None
        # A build request has no database id yet, so Nova's name template gives "".
        name = "" if server.build_request else f"instance-{server.index:08x}"
        attributes: dict[str, Any] = {
            "OS-EXT-SRV-ATTR:host": f["host"],
            "OS-EXT-SRV-ATTR:instance_name": name,
            "OS-EXT-SRV-ATTR:hypervisor_hostname": f["host"],
        }
        if call.version >= (2, 3):
            attributes.update(
                {
                    "OS-EXT-SRV-ATTR:hostname": _hostname(server.name),
                    "OS-EXT-SRV-ATTR:kernel_id": "",
                    "OS-EXT-SRV-ATTR:launch_index": 0,
                    "OS-EXT-SRV-ATTR:ramdisk_id": "",
                    "OS-EXT-SRV-ATTR:reservation_id": "r-" + server.id[:8],
                    "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda" if spawned else None,
                }
            )
            if user_data:
                attributes["OS-EXT-SRV-ATTR:user_data"] = server.request.get("user_data")
        return attributes

    def _server_flavor(self, call: Call, flavor: Flavor) -> dict[str, Any]:
        if call.version >= (2, 47):
            return {
                "vcpus": flavor.vcpus,
                "ram": flavor.ram,
                "disk": flavor.disk,
                "ephemeral": flavor.ephemeral,
                "swap": flavor.swap,
                "original_name": flavor.name,
                "extra_specs": dict(flavor.extra_specs),
            }
        return {
            "id": flavor.id,
            "links": [{"rel": "bookmark", "href": f"{call.root}/flavors/{flavor.id}"}],
        }

    def _server_image(self, call: Call, server: Server) -> dict[str, Any]:
        image: dict[str, Any] = {
            "id": server.image_id,
            "links": [{"rel": "bookmark", "href": f"{call.root}/images/{server.image_id}"}],
        }
        if call.version >= (2, 98):
            image["properties"] = {"architecture": "x86_64"}
        return image


def _hostname(name: str) -> str:
    """Nova's hostname of a server name (utils.sanitize_hostname, roughly)."""
    return re.sub(r"[^a-z0-9-]", "-", name.lower())


def _traceback(message: str | None) -> str:
    # Nova keeps the formatted traceback of the exception that failed an event; FakeCloud
    # has no frames to show, only the exception's line.
    return f"Traceback (most recent call last):\nException: {message}\n"


def _naive(when: datetime) -> str:
    # launched_at and terminated_at come out of Nova without a zone and with microseconds.
    return when.replace(tzinfo=None).isoformat(timespec="microseconds")
