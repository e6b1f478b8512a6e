"""Heat's answers: the lookup redirect, stack bodies, create/update/delete, and the
stack's events and resources."""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Request, Response

from ..accounting import count_records
from ..clock import isotime
from ..errors import (
    CLIENT_ERROR,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    json_response,
    render_heat,
)
from ..service import Call, CloudContext, Route, ServiceFrontend, wants_json
from . import urls
from .events import ResourceState, StackEvent, select, template_resources
from .models import (
    VERSION_KEYS,
    OrchestrationBackend,
    RequestLimitExceeded,
    Stack,
    StackSpec,
)
from .queries import event_query, resource_matches, resource_query

#: Request fields kept and shown back as heat shows them.
OPTIONS = ("timeout_mins", "disable_rollback", "tags")
MAX_JSON_BODY_SIZE = 1048576  # heat's max_json_body_size
#: The keys of a stack in lists (heat's stacks_view.basic_keys).
LIST_KEYS = (
    "id",
    "links",
    "stack_name",
    "description",
    "stack_status",
    "stack_status_reason",
    "creation_time",
    "deletion_time",
    "updated_time",
    "stack_owner",
    "parent",
    "stack_user_project_id",
    "tags",
)


def _load(text: str, what: str) -> Any:
    """Parse JSON or YAML text as heat's template_format does.

    Raises:
        BadRequest: with heat's wording (``Template not in valid format: ...``).
    """
    try:
        if text.lstrip().startswith("{"):
            return json.loads(text)
        # PyYAML comes with openstacksdk; FakeCloud needs it for nothing else.
        return importlib.import_module("yaml").safe_load(text)
    except Exception as error:  # json's ValueError or yaml.YAMLError, known only at runtime
        raise BadRequest(f"{what} not in valid format: {error}") from None


def _literal(value: Any) -> Any:
    """Return a template value as FakeCloud shows it: it evaluates no intrinsic
    function, so a mapping (``{get_param: size}``) shows as null."""
    return None if isinstance(value, Mapping) else value


def parse_template(text: str) -> dict[str, Any]:
    """Parse a template given as text.

    Raises:
        BadRequest: if it is not a template, with heat's wording.
    """
    parsed = _load(text, "Template")
    if not isinstance(parsed, dict) or not any(key in parsed for key in VERSION_KEYS):
        raise BadRequest("Template not in valid format: Template format version not found.")
    # Heat's YAML loader keeps timestamps as text, so 2021-04-16 stays a version string.
    for key in VERSION_KEYS:
        if key in parsed and not isinstance(parsed[key], (dict, list)):
            parsed[key] = str(parsed[key])
    return parsed


class OrchestrationResponses(ServiceFrontend):
    """The heat frontend.

    Args:
        context: the cloud; makes the :class:`OrchestrationBackend` and registers it
            as ``orchestration``.
    """

    render_error = staticmethod(render_heat)

    def __init__(self, context: CloudContext) -> None:
        super().__init__(context)
        self.backend = OrchestrationBackend(context)
        context.backends["orchestration"] = self.backend

    def routes(self) -> Sequence[Route]:
        """Return the routing table."""
        return urls.routes(self)

    def unrouted(self, request: Request, allow: Sequence[str]) -> Response:
        """Answer as heat's router does: every path it knows answers OPTIONS with 204
        and ``Allow``, and any other method it lacks with its fault body's 405 (which
        carries webob's explanation, and no ``Allow``); an unknown path gets webob's 404.
        """
        if not allow:
            return super().unrouted(request, allow)
        if request.method == "OPTIONS":
            return Response(status=204, headers={"Allow": ",".join(allow)})
        error = MethodNotAllowed(request.method, allow, message=CLIENT_ERROR)
        return render_heat(error, wants_json(request))

    def versions(self, call: Call) -> Response:
        """GET /: heat's one version, 300 Multiple Choices."""
        v1 = {
            "id": "v1.0",
            "status": "CURRENT",
            "links": [{"rel": "self", "href": f"{call.root}/v1/"}],
        }
        return json_response({"versions": [v1]}, 300)

    # -- stacks ----------------------------------------------------------------------

    def list_stacks(self, call: Call, project_id: str) -> Response:
        """GET /stacks: filters name, status, action (heat's split of stack_status)."""
        self._check_project(call, project_id)
        args = call.request.args
        show_deleted = args.get("show_deleted", "false").lower() in ("true", "1", "yes", "on")
        views = []
        for stack in self.backend.list_stacks(call.caller, call.now, show_deleted):
            if any(
                key in args and args.getlist(key) and value not in args.getlist(key)
                for key, value in (
                    ("name", stack.name),
                    ("status", stack.status),
                    ("action", stack.action),
                )
            ):
                continue
            view = self._view(call, stack)
            views.append({key: view[key] for key in LIST_KEYS})
        count_records(call.request.environ, len(views))
        return json_response({"stacks": views})

    def create_stack(self, call: Call, project_id: str) -> Response:
        """POST /stacks: 201 with id and links."""
        self._check_project(call, project_id)
        body = self._body(call)
        if "stack_name" not in body:
            raise BadRequest("No stack name specified")
        stack = self.backend.create(call.caller, call.now, body["stack_name"], self._spec(body))
        links = self._links(call, stack)
        response = json_response({"stack": {"id": stack.id, "links": links}}, 201)
        response.headers["Location"] = links[0]["href"]
        return response

    def lookup(self, call: Call, project_id: str, stack_name: str, path: str = "") -> Response:
        """Any method on /stacks/{name or id}, and GET on its ``/events`` or
        ``/resources``: 302 to /stacks/{name}/{id}, the subpath and query kept.

        Args:
            path: the subpath, as heat's stack_lookup_subpath route passes it.
        """
        self._check_project(call, project_id)
        stack = self.backend.identify(call.caller, stack_name, call.now)
        location = self._links(call, stack)[0]["href"]
        if path:
            location += "/" + path
        if call.request.args:
            location += "?" + urlencode(list(call.request.args.items(multi=True)))
        response = Response(status=302, content_type="text/plain; charset=UTF-8")
        response.headers["Location"] = location
        return response

    def show_stack(self, call: Call, project_id: str, stack_name: str, stack_id: str) -> Response:
        """GET /stacks/{name}/{id}: deleted stacks show as DELETE_COMPLETE."""
        stack = self._stack(call, project_id, stack_name, stack_id)
        count_records(call.request.environ, 1)
        return json_response({"stack": self._view(call, stack)})

    def update_stack(self, call: Call, project_id: str, stack_name: str, stack_id: str) -> Response:
        """PUT /stacks/{name}/{id}: 202, UPDATE_IN_PROGRESS."""
        self._check_project(call, project_id)
        body = self._body(call)
        self.backend.update(call.caller, stack_id, stack_name, call.now, self._spec(body))
        return Response(status=202, content_type="application/json")

    def delete_stack(self, call: Call, project_id: str, stack_name: str, stack_id: str) -> Response:
        """DELETE /stacks/{name}/{id}: 204, DELETE_IN_PROGRESS."""
        self._check_project(call, project_id)
        self.backend.delete(call.caller, stack_id, stack_name, call.now)
        return Response(status=204)

    # -- events and resources --------------------------------------------------------

    def list_events(
        self,
        call: Call,
        project_id: str,
        stack_name: str,
        stack_id: str,
        resource_name: str | None = None,
    ) -> Response:
        """GET /stacks/{name}/{id}/events, and .../resources/{resource}/events: event
        summaries, filtered, sorted and paged.

        Events count no resource records: an event is not a resource whose status is
        polled.

        Args:
            resource_name: the resource of the second route, whose events alone show.

        Raises:
            NotFound: on the second route, when no event is left to show (heat's 404,
                whatever the reason).
        """
        query = event_query(call.request.args, resource_name)
        stack = self._stack(call, project_id, stack_name, stack_id)
        events = select(stack.events.shown(call.now), query)
        if not events and resource_name is not None:
            raise NotFound(f"No events found for resource {resource_name}")
        views = [self._event_view(call, stack, e, query.nested_depth) for e in events]
        return json_response({"events": views})

    def show_event(
        self,
        call: Call,
        project_id: str,
        stack_name: str,
        stack_id: str,
        resource_name: str,
        event_id: str,
    ) -> Response:
        """GET /stacks/{name}/{id}/resources/{resource}/events/{id}: one event in full.

        Raises:
            NotFound: if the resource has no such event (yet).
        """
        stack = self._stack(call, project_id, stack_name, stack_id)
        for event in stack.events.shown(call.now):
            if event.id == event_id and event.resource.name == resource_name:
                view = self._event_view(call, stack, event, 0)
                view.update(
                    resource_type=event.resource.type,
                    resource_properties={
                        key: _literal(value) for key, value in event.resource.properties.items()
                    },
                )
                return json_response({"event": view})
        raise NotFound(f"No event {event_id} found")

    def list_resources(
        self, call: Call, project_id: str, stack_name: str, stack_id: str
    ) -> Response:
        """GET /stacks/{name}/{id}/resources: the stack's resources as of now (none once
        it is deleted: heat deletes their rows)."""
        filters, detail = resource_query(call.request.args)
        stack = self._stack(call, project_id, stack_name, stack_id)
        template = template_resources(stack.fields["template"])
        states = [] if stack.deleted else stack.events.states(call.now, template)
        views = [
            self._resource_view(call, stack, state, detail)
            for state in states
            if resource_matches(state, filters)
        ]
        count_records(call.request.environ, len(views))
        return json_response({"resources": views})

    # -- requests --------------------------------------------------------------------

    @staticmethod
    def _check_project(call: Call, project_id: str) -> None:
        # Heat's policy wrapper refuses a URL naming another project.
        if project_id != call.caller.project_id and not call.caller.is_admin:
            raise Forbidden("Access was denied to this resource.")

    def _stack(self, call: Call, project_id: str, stack_name: str, stack_id: str) -> Stack:
        """Return the stack of a /stacks/{name}/{id} URL, soft-deleted ones included.

        Raises:
            Forbidden: for another project's URL.
            EntityNotFound: if there is no such stack, or it has another name.
        """
        self._check_project(call, project_id)
        return self.backend.stack(call.caller, stack_id, call.now, stack_name)

    @staticmethod
    def _body(call: Call) -> dict[str, Any]:
        """Read the body as heat's JSON deserializer does.

        Raises:
            BadRequest: with the parser's message; or webob's own text when heat
                passes the handler no body at all, which its handlers take as a TypeError:
                for an empty body, a Content-Type other than JSON (none and ``text/plain``
                count as JSON) or a body that does not start with ``{``.
            RequestLimitExceeded: for a body over ``max_json_body_size``.
        """
        data = call.request.get_data()
        media_type = call.media_type or "application/json"
        if media_type.startswith("text/plain"):
            media_type = "application/json"
        if media_type not in ("application/json", "json") or not data.startswith(b"{"):
            raise BadRequest(CLIENT_ERROR)
        if len(data) > MAX_JSON_BODY_SIZE:
            raise RequestLimitExceeded(
                f"Request limit exceeded: JSON body size ({len(data)} bytes) exceeds maximum "
                f"allowed size ({MAX_JSON_BODY_SIZE} bytes)."
            )
        try:
            body = call.json()
        except ValueError as error:
            # Heat's JSON deserializer answers with the parser's message.
            raise BadRequest(str(error)) from None
        return body if isinstance(body, dict) else {}

    @classmethod
    def _spec(cls, body: Mapping[str, Any]) -> StackSpec:
        return StackSpec(
            template=cls._template(body),
            parameters=cls._parameters(body),
            options={key: body[key] for key in OPTIONS if key in body},
        )

    @staticmethod
    def _template(body: Mapping[str, Any]) -> dict[str, Any]:
        if "template" in body:
            template = body["template"]
            if isinstance(template, dict):
                return template
            if isinstance(template, str):
                return parse_template(template)
        elif "template_url" in body:
            # Nothing is fetched from the loopback cloud: heat's answer to a dead URL.
            url = body["template_url"]
            raise BadRequest(f"Could not retrieve template: Failed to retrieve template: {url}")
        raise BadRequest("No template specified")

    @staticmethod
    def _parameters(body: Mapping[str, Any]) -> dict[str, Any]:
        environment = body.get("environment") or {}
        if isinstance(environment, str):
            environment = _load(environment, "Environment") or {}
        merged = dict(environment.get("parameters") or {})
        merged.update(body.get("parameters") or {})
        return merged

    # -- views -----------------------------------------------------------------------

    def _links(self, call: Call, stack: Stack) -> list[dict[str, str]]:
        href = f"{call.root}/v1/{stack.project_id}/stacks/{stack.name}/{stack.id}"
        return [{"href": href, "rel": "self"}]

    def _resource_href(self, call: Call, stack: Stack, resource_name: str) -> str:
        return f"{self._links(call, stack)[0]['href']}/resources/{quote(resource_name, safe='')}"

    def _event_view(
        self, call: Call, stack: Stack, event: StackEvent, nested_depth: int
    ) -> dict[str, Any]:
        """An event's summary (heat's events.format_event with its summary_keys)."""
        stack_href = self._links(call, stack)[0]["href"]
        resource_href = self._resource_href(call, stack, event.resource.name)
        links = [
            {"href": f"{resource_href}/events/{event.id}", "rel": "self"},
            {"href": resource_href, "rel": "resource"},
            {"href": stack_href, "rel": "stack"},
        ]
        if nested_depth:
            # Heat lists nested stacks' events then, and links each to the root stack.
            links.append({"href": stack_href, "rel": "root_stack"})
        return {
            "event_time": self._time(event.at),
            "id": event.id,
            "links": links,
            "logical_resource_id": event.resource.name,
            "physical_resource_id": event.physical_resource_id,
            "resource_name": event.resource.name,
            "resource_status": event.state,
            "resource_status_reason": event.reason,
        }

    def _resource_view(
        self, call: Call, stack: Stack, state: ResourceState, detail: bool
    ) -> dict[str, Any]:
        """A resource of the list (heat's format_stack_resource, without detail unless
        ``with_detail``); heat stores a resource with the stack, so one not created yet
        dates from the stack."""
        created = stack.created_at if state.created_at is None else state.created_at
        name = state.resource.name
        view: dict[str, Any] = {
            "creation_time": self._time(created),
            "links": [
                {"href": self._resource_href(call, stack, name), "rel": "self"},
                {"href": self._links(call, stack)[0]["href"], "rel": "stack"},
            ],
            "logical_resource_id": name,
            "physical_resource_id": state.physical_resource_id,
            # FakeCloud reads no dependencies (depends_on, get_resource).
            "required_by": [],
            "resource_name": name,
            "resource_status": f"{state.action}_{state.status}",
            "resource_status_reason": state.reason,
            "resource_type": state.resource.type,
            "updated_time": self._time(created if state.updated_at is None else state.updated_at),
        }
        if detail:
            view["description"] = state.resource.description
        return view

    def _time(self, at: float | None) -> str | None:
        return None if at is None else isotime(self.context.clock.wall(at))

    def _view(self, call: Call, stack: Stack) -> dict[str, Any]:
        """The stack body of show (heat's engine api.format_stack)."""
        f = stack.fields
        template: dict[str, Any] = f["template"]
        options: dict[str, Any] = f["options"]
        description = template.get("description", "No description")
        view: dict[str, Any] = {
            "capabilities": [],
            "creation_time": self._time(stack.created_at),
            "deletion_time": self._time(f["deletion_time"]),
            "description": description,
            "disable_rollback": bool(options.get("disable_rollback", True)),
            "id": stack.id,
            "links": self._links(call, stack),
            "notification_topics": [],
            "parameters": self._shown_parameters(stack),
            "parent": None,
            "stack_name": stack.name,
            "stack_owner": stack.user_name,
            "stack_status": f["stack_status"],
            "stack_status_reason": f["stack_status_reason"],
            "stack_user_project_id": f["stack_user_project_id"],
            "tags": options.get("tags"),
            "template_description": description,
            "timeout_mins": options.get("timeout_mins"),
            "updated_time": self._time(f["updated_time"]),
        }
        # Heat resolves no outputs of a deleted stack.
        if f["stack_status"] != "DELETE_COMPLETE":
            view["outputs"] = [
                {
                    "output_key": key,
                    "description": (spec or {}).get("description", "No description given"),
                    "output_value": _literal((spec or {}).get("value")),
                }
                for key, spec in (template.get("outputs") or {}).items()
            ]
        return view

    @staticmethod
    def _shown_parameters(stack: Stack) -> dict[str, str]:
        declared: dict[str, Any] = stack.fields["template"].get("parameters") or {}
        given: dict[str, Any] = stack.fields["parameters"]
        shown = {
            name: str(given.get(name, (spec or {}).get("default", "")))
            for name, spec in declared.items()
        }
        shown.update(
            {
                "OS::project_id": stack.project_id,
                "OS::stack_id": stack.id,
                "OS::stack_name": stack.name,
            }
        )
        return shown
