"""Keystone's answers: version documents, tokens with a catalog built from the registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from werkzeug.wrappers import Request, Response

from ..clock import isotime
from ..errors import (
    NOT_FOUND,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    json_response,
    render_keystone,
)
from ..service import (
    OSLO_MAX_REQUEST_BODY_SIZE,
    Call,
    CloudContext,
    Principal,
    Route,
    ServiceFrontend,
)
from . import urls
from .models import DEFAULT_DOMAIN, Credentials, IdentityBackend, Token

VERSION_UPDATED = "2024-04-03T00:00:00Z"
REGION = "RegionOne"


def validation_error(attribute: str, target: str) -> BadRequest:
    """Return keystone's ValidationError."""
    return BadRequest(
        f"Expecting to find {attribute} in {target}. The server could not comply with the "
        "request since it is either malformed or otherwise incorrect. The client is "
        "assumed to be in error."
    )


class IdentityResponses(ServiceFrontend):
    """The keystone frontend; its backend is built from the cloud's identity settings.

    Args:
        context: the cloud; ``context.backends["identity"]`` must already hold the
            :class:`IdentityBackend`, since FakeCloud makes it before the services.
    """

    max_body_size = OSLO_MAX_REQUEST_BODY_SIZE

    def __init__(self, context: CloudContext) -> None:
        super().__init__(context)
        backend = context.backends.get("identity")
        if not isinstance(backend, IdentityBackend):
            backend = IdentityBackend(context, (Credentials(),), 3600.0)
            context.backends["identity"] = backend
        self.backend = backend

    def routes(self) -> Sequence[Route]:
        """Return the routing table."""
        return urls.routes(self)

    def unrouted(self, request: Request, allow: Sequence[str]) -> Response:
        """Answer in keystone's error body (Flask's own answers are not imitated)."""
        error = MethodNotAllowed(request.method, allow) if allow else NotFound(NOT_FOUND)
        return render_keystone(error)

    def begin(self, call: Call) -> None:
        """Check any body as keystone does before it routes: a JSON object, sent as
        ``application/json`` (or ``*/*+json``, or with no Content-Type).

        Raises:
            BadRequest: keystone's ValidationError for another Content-Type or for a
                body that is not a JSON object.
        """
        if not call.request.get_data():
            return
        media_type = call.media_type
        if media_type and not call.request.is_json:
            raise validation_error("application/json", "Content-Type header")
        try:
            body = call.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise validation_error("valid JSON", "request body")

    def _version_doc(self, call: Call) -> dict[str, Any]:
        return {
            "id": "v3.14",
            "status": "stable",
            "updated": VERSION_UPDATED,
            "links": [{"rel": "self", "href": f"{call.root}/v3/"}],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
            ],
        }

    def versions(self, call: Call) -> Response:
        """GET /: the list of versions, 300 Multiple Choices as keystone sends it."""
        return json_response({"versions": {"values": [self._version_doc(call)]}}, 300)

    def version(self, call: Call) -> Response:
        """GET /v3: the one version."""
        return json_response({"version": self._version_doc(call)})

    def issue_token(self, call: Call) -> Response:
        """POST /v3/auth/tokens: password or token authentication, 201 with the token."""
        try:
            body = call.json()
            auth = body["auth"]
            identity = auth["identity"]
            methods = identity["methods"]
            project = (auth.get("scope") or {}).get("project")
        except (KeyError, TypeError):
            raise validation_error("identity", "auth") from None
        if "password" in methods:
            token_id, token = self.backend.password_auth(
                identity["password"]["user"], project, call.now
            )
        elif "token" in methods:
            token_id, token = self.backend.token_auth(identity["token"]["id"], project, call.now)
        else:
            raise BadRequest(f"Unsupported authentication methods: {methods}")
        response = json_response({"token": self._token_body(call, token)}, 201)
        response.headers["X-Subject-Token"] = token_id
        return response

    def check_token(self, call: Call) -> Response:
        """GET/HEAD /v3/auth/tokens: validate ``X-Subject-Token``."""
        subject = call.request.headers.get("X-Subject-Token", "")
        token = self.backend.lookup(subject, call.now)
        response = json_response({"token": self._token_body(call, token)})
        response.headers["X-Subject-Token"] = subject
        return response

    def revoke_token(self, call: Call) -> Response:
        """DELETE /v3/auth/tokens: revoke ``X-Subject-Token``."""
        subject = call.request.headers.get("X-Subject-Token", "")
        if self.backend.validate(subject, call.now) is None:
            raise NotFound("Could not find token.")
        self.backend.expire(subject)
        return Response(status=204)

    def catalog(self, call: Call) -> Response:
        """GET /v3/auth/catalog: the catalog of the caller's token."""
        return json_response({"catalog": self._catalog(call, call.caller)})

    def _catalog(self, call: Call, principal: Principal) -> list[dict[str, Any]]:
        entries = []
        for spec in self.context.services:
            url = call.base_url + spec.endpoint.format(project_id=principal.project_id)
            entries.append(
                {
                    "id": spec.name,
                    "type": spec.service_type,
                    "name": spec.catalog_name,
                    "endpoints": [
                        {
                            "id": f"{spec.name}-{interface}",
                            "interface": interface,
                            "region": REGION,
                            "region_id": REGION,
                            "url": url,
                        }
                        for interface in ("public", "internal")
                    ],
                }
            )
        return entries

    def _token_body(self, call: Call, token: Token) -> dict[str, Any]:
        principal = token.principal
        clock = self.context.clock
        return {
            "methods": list(token.methods),
            "user": {
                "domain": DEFAULT_DOMAIN,
                "id": principal.user_id,
                "name": principal.user_name,
                "password_expires_at": None,
            },
            "audit_ids": [token.audit_id],
            "expires_at": isotime(clock.wall(token.expires_at), subsecond=True),
            "issued_at": isotime(clock.wall(token.issued_at), subsecond=True),
            "project": {
                "domain": DEFAULT_DOMAIN,
                "id": principal.project_id,
                "name": principal.project_name,
            },
            "is_domain": False,
            "roles": [{"id": role, "name": role} for role in principal.roles],
            "catalog": self._catalog(call, principal),
        }
