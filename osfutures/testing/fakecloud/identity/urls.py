"""Keystone's routing table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..service import Route

if TYPE_CHECKING:
    from .responses import IdentityResponses


def routes(r: IdentityResponses) -> list[Route]:
    """Return the identity routes, answered by ``r``."""
    return [
        Route("/", ("GET",), r.versions, public=True),
        Route("/v3/", ("GET",), r.version, public=True),
        Route("/v3/auth/tokens", ("POST",), r.issue_token, public=True),
        Route("/v3/auth/tokens", ("GET", "HEAD"), r.check_token),
        Route("/v3/auth/tokens", ("DELETE",), r.revoke_token),
        Route("/v3/auth/catalog", ("GET",), r.catalog),
    ]
