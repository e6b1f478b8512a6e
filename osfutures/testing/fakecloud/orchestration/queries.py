"""Heat's query parameters of the event and resource lists, read as heat's API reads them."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from ..errors import BadRequest
from .events import EventQuery, ResourceState

#: The event list's filters (heat's filter_whitelist).
EVENT_FILTERS = ("resource_status", "resource_action", "resource_name", "resource_type")
#: The resource list's filters; anything else but nested_depth and with_detail is a 400.
RESOURCE_FILTERS = ("type", "status", "name", "action", "id", "physical_resource_id")
RESOURCE_OPTIONS = ("nested_depth", "with_detail")


def _single(args: MultiDict[str, str], key: str) -> str | None:
    """Return a one-valued parameter as webob's ``params.get`` does (the last value),
    or None when absent or empty (heat's get_allowed_params drops empty values)."""
    values = args.getlist(key)
    return values[-1] if values and values[-1] else None


def _mixed(args: MultiDict[str, str], key: str) -> list[str]:
    """Return a filter's values: heat drops a lone empty value but keeps a list."""
    values = args.getlist(key)
    return values if len(values) > 1 or any(values) else []


def extract_int(name: str, text: str) -> int:
    """Read a non-negative integer as heat's param_utils.extract_int does.

    Raises:
        BadRequest: with heat's wording.
    """
    try:
        value = int(text)
    except ValueError:
        value = None
    # oslo's is_int_like: the text must be exactly how Python prints the number.
    if value is None or str(value) != text:
        raise BadRequest(f"Only integer is acceptable by '{name}'.")
    if value < 0:
        raise BadRequest(
            f"Value '{text}' is invalid for '{name}' which only accepts non-negative integer."
        )
    return value


def extract_bool(name: str, text: str) -> bool:
    """Read ``true`` or ``false`` (any case) as heat's param_utils.extract_bool does.

    Raises:
        BadRequest: with heat's wording.
    """
    if text.lower() not in ("true", "false"):
        raise BadRequest(
            f'Unrecognized value "{text}" for "{name}", acceptable values are: true, false.'
        )
    return text.lower() == "true"


def event_query(args: MultiDict[str, str], resource_name: str | None = None) -> EventQuery:
    """Read the event list's query (heat's events controller).

    Args:
        resource_name: the resource of ``/resources/{name}/events``, which replaces any
            ``resource_name`` filter.

    Raises:
        BadRequest: for a ``limit`` or ``nested_depth`` that is not a non-negative
            integer.
    """
    numbers = {
        key: extract_int(key, text)
        for key in ("limit", "nested_depth")
        if (text := _single(args, key)) is not None
    }
    filters = {key: values for key in EVENT_FILTERS if (values := _mixed(args, key))}
    if resource_name is not None:
        filters["resource_name"] = [resource_name]
    return EventQuery(
        filters=filters,
        sort_keys=args.getlist("sort_keys"),
        sort_dir=_single(args, "sort_dir"),
        limit=numbers.get("limit"),
        marker=_single(args, "marker"),
        nested_depth=numbers.get("nested_depth") or 0,
    )


def resource_query(args: MultiDict[str, str]) -> tuple[dict[str, list[str]], bool]:
    """Read the resource list's query (heat's resources controller).

    Returns:
        the filters, and whether ``with_detail`` asks for details.

    Raises:
        BadRequest: for an unknown parameter, or a bad ``nested_depth`` or
            ``with_detail``, with heat's wording.
    """
    invalid = sorted(set(args) - {*RESOURCE_FILTERS, *RESOURCE_OPTIONS})
    if invalid:
        raise BadRequest(f"Invalid filter parameters {invalid}")
    # webob's params[key] is the last value; heat checks it even when empty.
    if "nested_depth" in args:
        extract_int("nested_depth", args.getlist("nested_depth")[-1])
    detail = "with_detail" in args and extract_bool("with_detail", args.getlist("with_detail")[-1])
    return {key: values for key in RESOURCE_FILTERS if (values := _mixed(args, key))}, detail


def resource_matches(state: ResourceState, filters: dict[str, list[str]]) -> bool:
    """Whether a resource passes the resource list's filters.

    ``type`` matches part of the type, as heat's filter_type does; the others match
    exactly. ``id`` is heat's database row id, which no answer shows: it matches nothing.
    """
    fields: dict[str, Any] = {
        "status": state.status,
        "name": state.resource.name,
        "action": state.action,
        "physical_resource_id": state.physical_resource_id,
    }
    for key, values in filters.items():
        if key == "type":
            if not any(value in state.resource.type for value in values):
                return False
        elif key == "id" or fields[key] not in values:
            return False
    return True
