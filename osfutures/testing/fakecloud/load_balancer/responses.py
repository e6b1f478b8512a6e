"""Octavia's answers: the version list, object bodies, create and delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from werkzeug.wrappers import Request, Response

from ..accounting import count_records
from ..errors import (
    NOT_FOUND,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    UnsupportedMediaType,
    json_response,
    render_octavia,
    render_webob,
)
from ..service import OSLO_MAX_REQUEST_BODY_SIZE, Call, CloudContext, Route, ServiceFrontend
from . import urls
from .models import LISTENER, LOAD_BALANCER, POOL, LbObject, LoadBalancerBackend

#: When each v2 minor version appeared (octavia's root controller).
VERSION_DATES = [
    "2016-12-11T00:00:00Z",
    "2018-04-20T00:00:00Z",
    "2018-07-31T00:00:00Z",
    "2018-12-18T00:00:00Z",
    "2018-12-19T00:00:00Z",
    "2019-01-21T00:00:00Z",
    "2019-01-25T00:00:00Z",
    "2018-01-25T12:00:00Z",
    "2019-02-12T00:00:00Z",
    "2019-03-04T00:00:00Z",
    "2019-03-05T00:00:00Z",
    "2019-06-24T00:00:00Z",
    "2019-09-11T00:00:00Z",
    "2019-09-13T00:00:00Z",
    "2019-11-10T00:00:00Z",
    "2020-03-10T00:00:00Z",
    "2020-03-15T00:00:00Z",
    "2020-04-29T00:00:00Z",
    "2020-04-29T01:00:00Z",
    "2020-05-12T00:00:00Z",
    "2020-08-02T00:00:00Z",
    "2020-09-03T00:00:00Z",
    "2020-09-04T00:00:00Z",
    "2020-09-07T00:00:00Z",
    "2020-10-15T00:00:00Z",
    "2021-10-02T00:00:00Z",
    "2022-08-29T00:00:00Z",
    "2023-05-05T00:00:00Z",
    "2023-11-08T00:00:00Z",
    "2024-10-15T00:00:00Z",
    "2025-02-26T00:00:00Z",
]

#: The JSON keys of each kind, singular and plural.
KEYS = {
    LOAD_BALANCER: ("loadbalancer", "loadbalancers"),
    LISTENER: ("listener", "listeners"),
    POOL: ("pool", "pools"),
}
#: Mandatory request attributes and the values octavia's types accept.
REQUIRED: dict[str, dict[str, tuple[Any, ...]]] = {
    LOAD_BALANCER: {},
    LISTENER: {
        "loadbalancer_id": (),
        "protocol": ("HTTP", "HTTPS", "TCP", "TERMINATED_HTTPS", "UDP", "SCTP", "PROMETHEUS"),
        "protocol_port": (),
    },
    POOL: {
        "lb_algorithm": ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT"),
        "protocol": ("HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP", "UDP", "SCTP"),
    },
}
#: Attributes shown when the request did not set them.
DEFAULTS: dict[str, dict[str, Any]] = {
    LOAD_BALANCER: {"additional_vips": [], "vip_sg_ids": None, "vip_vnic_type": "normal"},
    LISTENER: {
        "name": "",
        "description": "",
        "admin_state_up": True,
        "connection_limit": -1,
        "default_tls_container_ref": None,
        "sni_container_refs": [],
        "default_pool_id": None,
        "l7policies": [],
        "insert_headers": {},
        "timeout_client_data": 50000,
        "timeout_member_connect": 5000,
        "timeout_member_data": 50000,
        "timeout_tcp_inspect": 0,
        "tags": [],
        "client_ca_tls_container_ref": None,
        "client_authentication": "NONE",
        "client_crl_container_ref": None,
        "allowed_cidrs": None,
        "tls_ciphers": None,
        "tls_versions": None,
        "alpn_protocols": None,
        "hsts_max_age": None,
        "hsts_include_subdomains": False,
        "hsts_preload": False,
    },
    POOL: {
        "name": "",
        "description": "",
        "admin_state_up": True,
        "session_persistence": None,
        "healthmonitor_id": None,
        "members": [],
        "tags": [],
        "tls_container_ref": None,
        "ca_tls_container_ref": None,
        "crl_container_ref": None,
        "tls_enabled": False,
        "tls_ciphers": None,
        "tls_versions": None,
        "alpn_protocols": None,
    },
}
#: Attributes the service sets, never the request.
RESERVED = frozenset(
    {"id", "project_id", "provisioning_status", "operating_status", "created_at", "updated_at"}
)
#: Fields kept internally but not shown as such.
HIDDEN = frozenset({"deleted", "listener_id", "loadbalancer_id"})
#: Query parameters that are not attribute filters.
PAGING = frozenset({"limit", "marker", "page_reverse", "sort", "sort_key", "sort_dir", "fields"})


#: The Content-Types WSME reads as JSON; a form body it skips.
JSON_TYPES = frozenset({"application/json", "text/javascript", "application/javascript"})
FORM_TYPE = "application/x-www-form-urlencoded"


def _invalid(field: str, value: Any, reason: str) -> BadRequest:
    # WSME's wording for a request attribute it rejects.
    return BadRequest(f"Invalid input for field/attribute {field}. Value: '{value}'. {reason}")


class LoadBalancerResponses(ServiceFrontend):
    """The octavia frontend.

    Args:
        context: the cloud; makes the :class:`LoadBalancerBackend` and registers it
            as ``load-balancer``.
    """

    render_error = staticmethod(render_octavia)
    max_body_size = OSLO_MAX_REQUEST_BODY_SIZE

    def __init__(self, context: CloudContext) -> None:
        super().__init__(context)
        self.backend = LoadBalancerBackend(context)
        context.backends["load-balancer"] = self.backend

    def routes(self) -> Sequence[Route]:
        """Return the routing table."""
        return urls.routes(self)

    def unrouted(self, request: Request, allow: Sequence[str]) -> Response:
        """Answer as pecan does: webob's 404, or its 405 with the methods sorted in
        ``Allow``; always JSON, since octavia makes every request accept JSON only."""
        error = MethodNotAllowed(request.method, sorted(allow)) if allow else NotFound(NOT_FOUND)
        return render_webob(error, wants_json=True)

    def versions(self, call: Call) -> Response:
        """GET /: every v2 minor version; all link to ``/v2``."""
        last = len(VERSION_DATES) - 1
        versions = [
            {
                "id": f"v2.{minor}",
                "status": "CURRENT" if minor == last else "SUPPORTED",
                "updated": updated,
                "links": [{"href": f"{call.root}/v2", "rel": "self"}],
            }
            for minor, updated in enumerate(VERSION_DATES)
        ]
        return json_response({"versions": versions})

    # -- every kind ------------------------------------------------------------------

    def list_objects(self, call: Call, kind: str) -> Response:
        """GET /lbaas/{kind}: attribute filters compare as text, as octavia's do."""
        filters = {k: v for k, v in call.request.args.items() if k not in PAGING}
        views = []
        for item in self.backend.owned(kind, call.caller, call.now):
            view = self._view(item)
            if all(_text(view.get(key)) == value for key, value in filters.items()):
                views.append(view)
        plural = KEYS[kind][1]
        count_records(call.request.environ, len(views))
        return json_response({plural: views, f"{plural}_links": []})

    def show_object(self, call: Call, kind: str, object_id: str) -> Response:
        """GET /lbaas/{kind}/{id}."""
        item = self.backend.get(kind, call.caller, object_id, call.now)
        count_records(call.request.environ, 1)
        return json_response({KEYS[kind][0]: self._view(item)})

    def create_object(self, call: Call, kind: str) -> Response:
        """POST /lbaas/{kind}: 201, PENDING_CREATE."""
        spec = self._spec(call, kind)
        if kind == LOAD_BALANCER:
            item = self.backend.create_load_balancer(call.caller, call.now, spec)
        else:
            item = self.backend.create_child(kind, call.caller, call.now, spec)
        return json_response({KEYS[kind][0]: self._view(item)}, 201)

    def delete_object(self, call: Call, kind: str, object_id: str) -> Response:
        """DELETE /lbaas/{kind}/{id}: 204, PENDING_DELETE; ``cascade`` for load balancers."""
        if kind == LOAD_BALANCER:
            cascade = call.request.args.get("cascade", "false").lower() in ("true", "1", "yes")
            self.backend.delete_load_balancer(call.caller, object_id, call.now, cascade)
        else:
            self.backend.delete_child(kind, call.caller, object_id, call.now)
        return Response(status=204)

    # -- requests and views ----------------------------------------------------------

    def _spec(self, call: Call, kind: str) -> dict[str, Any]:
        key = KEYS[kind][0]
        body = None
        if call.request.get_data():
            # WSME's args_from_body: the body's Content-Type picks its parser.
            media_type = call.media_type or ""
            if media_type not in JSON_TYPES | {FORM_TYPE}:
                raise UnsupportedMediaType(f"Unknown mimetype: {media_type}")
            if media_type != FORM_TYPE:
                try:
                    body = call.json()
                except ValueError:
                    raise BadRequest("Request is not in valid JSON format") from None
        if not isinstance(body, dict) or not isinstance(body.get(key), dict):
            raise _invalid(key, None, "Mandatory field missing.")
        spec: dict[str, Any] = {k: v for k, v in body[key].items() if k not in RESERVED}
        for field, allowed in REQUIRED[kind].items():
            value = spec.get(field)
            if value is None:
                raise _invalid(field, None, "Mandatory field missing.")
            if allowed and value not in allowed:
                raise _invalid(field, value, f"Value should be one of: {', '.join(allowed)}")
        return spec

    def _time(self, at: float) -> str:
        # Octavia shows naive UTC times to the second.
        return self.context.clock.wall(at).replace(tzinfo=None).isoformat(timespec="seconds")

    def _view(self, item: LbObject) -> dict[str, Any]:
        view: dict[str, Any] = {**DEFAULTS[item.kind]}
        view.update((k, v) for k, v in item.fields.items() if k not in HIDDEN)
        view.update(
            id=item.id,
            project_id=item.project_id,
            created_at=self._time(item.created_at),
            updated_at=None if item.updated_at == item.created_at else self._time(item.updated_at),
        )
        now = self.context.clock.now()
        lb_id = item.fields.get("loadbalancer_id")
        if item.kind == LOAD_BALANCER:
            for kind in (LISTENER, POOL):
                children = self.backend.children(item.id, kind, now)
                view[KEYS[kind][1]] = [{"id": child.id} for child in children]
        else:
            view["loadbalancers"] = [{"id": lb_id}]
        if item.kind == POOL:
            view["listeners"] = [{"id": li.id} for li in self.backend.listeners_of(item, now)]
        return view


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)
