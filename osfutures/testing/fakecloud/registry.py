"""The services a FakeCloud runs: one line each (see README.md to add one)."""

from __future__ import annotations

from . import (
    block_storage,
    compute,
    identity,
    image,
    load_balancer,
    orchestration,
    shared_file_system,
)
from .service import ServiceSpec

#: Identity stays first: it checks every other service's tokens.
SERVICES: tuple[ServiceSpec, ...] = (
    identity.SERVICE,
    compute.SERVICE,
    image.SERVICE,
    block_storage.SERVICE,
    orchestration.SERVICE,
    load_balancer.SERVICE,
    shared_file_system.SERVICE,
)
