"""Continuation tokens: an operation, written down so that any process can wait on it.

A token is ``osf1.`` and the base64url of a small JSON object: what a
:class:`~osfutures.openstack.AsyncConnection` needs to watch the operation again
(:meth:`~osfutures.openstack.AsyncConnection.resume`): the cloud, region and
project, the call, the object's id, the states that end it, its deadline. It holds
ids and states, never a credential, and it is not signed: treat it as you would the
object's id.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["PREFIX", "decode", "encode"]

#: What every token starts with: the format's version.
PREFIX = "osf1."


def encode(state: Mapping[str, Any]) -> str:
    """The token of ``state`` (a JSON-able mapping)."""
    data = json.dumps(dict(state), separators=(",", ":"), sort_keys=True).encode()
    return PREFIX + base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode(token: str) -> dict[str, Any]:
    """What :func:`encode` wrote.

    Raises:
        TypeError: ``token`` is not a string.
        ValueError: it is not an osfutures token of this version, or is damaged.
    """
    if not isinstance(token, str):
        raise TypeError(f"token: expected a string from future.token(), got {type(token).__name__}")
    if not token.startswith(PREFIX):
        raise ValueError(
            f"token: not an osfutures token of this version (expected {PREFIX!r}...),"
            f" got {token[:12]!r}..."
        )
    body = token[len(PREFIX) :]
    try:
        state = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"token: damaged ({error})") from None
    if not isinstance(state, dict):
        raise ValueError("token: damaged (not an object)")
    return state
