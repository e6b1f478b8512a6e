"""The services a FakeCloud runs: one line each (see README.md to add one)."""

from __future__ import annotations

from . import compute, identity, image
from .service import ServiceSpec

#: Identity stays first: it checks every other service's tokens.
SERVICES: tuple[ServiceSpec, ...] = (
    identity.SERVICE,
    compute.SERVICE,
    image.SERVICE,
)
