"""The JSON-able ``request`` of an OpenStack operation, with every secret removed.

A request record is what a journal stores and what errors and logs show, so it must
never hold a password, a token, user data (cloud-init often carries credentials) or
a private key. Resources are reduced to their ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openstack import resource

__all__ = ["REDACTED", "public_fields", "request_record"]

REDACTED = "<redacted>"

#: Argument names whose values are never recorded (compared lowercased, and any name
#: containing one of SECRET_WORDS is redacted too).
SECRET_NAMES = frozenset({"admin_pass", "adminpass", "user_data", "config_drive"})
SECRET_WORDS = ("password", "secret", "token", "private_key", "credential")


def _secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_NAMES or any(word in lowered for word in SECRET_WORDS)


def public_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """An object's record as a listing gave it, without the fields that may hold
    secrets, at any depth (an admin's server listing shows
    ``OS-EXT-SRV-ATTR:user_data``; metadata may name a password): what may be written
    where other processes read it."""
    return {
        k: public_fields(v) if isinstance(v, Mapping) else v
        for k, v in record.items()
        if not _secret(str(k).rpartition(":")[2])
    }


def _plain(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        # Uploaded data (an image) is neither small nor safe to keep: its size is.
        return f"<{len(value)} bytes>"
    if hasattr(value, "read"):
        return "<file>"
    if depth > 4:
        return repr(value)
    # An openstacksdk resource is a dict too: its id, not its every attribute.
    resource_id = getattr(value, "id", None) if isinstance(value, resource.Resource) else None
    if resource_id is not None:
        return {"id": str(resource_id)}
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _secret(str(k)) else _plain(v, depth + 1) for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v, depth + 1) for v in value]
    resource_id = getattr(value, "id", None)
    if resource_id is not None:
        return {"id": str(resource_id)}
    return repr(value)


def request_record(service: str, call: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``{"service", "call", "arguments"}`` with secrets redacted and keyword
    attributes (``**attrs``) merged into the arguments."""
    flat: dict[str, Any] = {}
    for name, value in arguments.items():
        if name in ("attrs", "kwargs", "query") and isinstance(value, Mapping):
            flat.update(value)
        else:
            flat[name] = value
    return {"service": service, "call": call, "arguments": _plain(flat)}
