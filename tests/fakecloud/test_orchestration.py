"""Heat through unmodified openstacksdk, and heat's wire format checked raw."""

from __future__ import annotations

from typing import Any

import pytest
from openstack import connection, exceptions

from osfutures.testing import FakeCloud, ManualClock, Scenario

from .conftest import Raw

pytestmark = pytest.mark.fake_cloud(scenario=Scenario.fast(duration=0.1))

TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2021-04-16",
    "description": "two outputs",
    "parameters": {"size": {"type": "number", "default": 1}},
    "outputs": {"greeting": {"value": "hello"}, "ref": {"value": {"get_param": "size"}}},
}


def _wait(conn: connection.Connection, stack: Any, status: str) -> Any:
    failures = [status.rsplit("_", 1)[0] + "_FAILED"]
    return conn.orchestration.wait_for_status(
        stack, status=status, failures=failures, interval=0.02, wait=5
    )


def _path(raw: Raw, suffix: str = "") -> str:
    principal = raw.cloud.backend("identity").principal(raw.cloud.credentials.username)
    project_id = principal.project_id
    return f"/heat-api/v1/{project_id}/stacks{suffix}"


def test_stack_creates_updates_and_deletes(fake_conn: connection.Connection) -> None:
    stack = fake_conn.orchestration.create_stack(name="web", template=TEMPLATE)
    assert fake_conn.orchestration.get_stack(stack.id).status == "CREATE_IN_PROGRESS"
    done = _wait(fake_conn, stack, "CREATE_COMPLETE")
    assert done.status_reason == "Stack CREATE completed successfully"
    assert done.parameters["size"] == "1"
    assert {o["output_key"]: o["output_value"] for o in done.outputs} == {
        "greeting": "hello",
        "ref": None,
    }
    template = {**TEMPLATE, "description": "resized"}
    fake_conn.orchestration.update_stack(done, template=template, parameters={"size": 2})
    updating = fake_conn.orchestration.get_stack(stack.id)
    assert (updating.status, updating.parameters["size"]) == ("UPDATE_IN_PROGRESS", "2")
    assert updating.description == "resized"
    assert updating.updated_at is not None
    _wait(fake_conn, stack, "UPDATE_COMPLETE")
    fake_conn.orchestration.delete_stack(stack)
    assert fake_conn.orchestration.get_stack(stack.id).status == "DELETE_IN_PROGRESS"
    fake_conn.orchestration.wait_for_delete(stack, interval=0.02, wait=5)
    assert [s.name for s in fake_conn.orchestration.stacks()] == []


def test_failing_name_ends_create_failed_with_reason(fake_conn: connection.Connection) -> None:
    stack = fake_conn.orchestration.create_stack(name="will-fail", template=TEMPLATE)
    with pytest.raises(exceptions.ResourceFailure):
        _wait(fake_conn, stack, "CREATE_COMPLETE")
    failed = fake_conn.orchestration.get_stack(stack.id)
    assert failed.status == "CREATE_FAILED"
    assert failed.status_reason.startswith("Resource CREATE failed: ResourceInError")
    fake_conn.orchestration.delete_stack(stack)
    fake_conn.orchestration.wait_for_delete(stack, interval=0.02, wait=5)


@pytest.mark.fake_cloud(clock=ManualClock, scenario=Scenario.fast(duration=1))
def test_stuck_stack_refuses_update_with_409(fake_cloud: FakeCloud, raw: Raw) -> None:
    created = raw("POST", _path(raw), json={"stack_name": "stuck1", "template": TEMPLATE})
    assert created.status_code == 201
    stack_id = created.json()["stack"]["id"]
    assert created.headers["Location"].endswith(f"/stacks/stuck1/{stack_id}")
    fake_cloud.advance(100)
    shown = raw("GET", _path(raw, f"/stuck1/{stack_id}")).json()["stack"]
    assert shown["stack_status"] == "CREATE_IN_PROGRESS"
    update = raw("PUT", _path(raw, f"/stuck1/{stack_id}"), json={"template": TEMPLATE})
    assert update.status_code == 409
    assert update.json() == {
        "explanation": "There was a conflict when trying to complete your request.",
        "code": 409,
        "error": {
            "message": "Stack stuck1 already has an action (CREATE) in progress.",
            "traceback": None,
            "type": "ActionInProgress",
        },
        "title": "Conflict",
    }


@pytest.mark.fake_cloud(clock=ManualClock, scenario=Scenario.fast(duration=1))
def test_lookup_redirects_and_deleted_stack_stays_readable_by_id(
    fake_cloud: FakeCloud, raw: Raw
) -> None:
    body = {"stack_name": "app", "template": TEMPLATE}
    stack_id = raw("POST", _path(raw), json=body).json()["stack"]["id"]
    for name_or_id in ("app", stack_id):
        found = raw(
            "GET", _path(raw, f"/{name_or_id}?resolve_outputs=False"), allow_redirects=False
        )
        assert found.status_code == 302
        assert found.headers["Location"].endswith(f"/stacks/app/{stack_id}?resolve_outputs=False")
    fake_cloud.advance(1)
    deleted = raw("DELETE", _path(raw, f"/app/{stack_id}"))
    assert deleted.status_code == 204
    fake_cloud.advance(1)
    # Heat soft-deletes: the id still resolves, the name no longer does.
    shown = raw("GET", _path(raw, f"/{stack_id}")).json()["stack"]
    assert (shown["stack_status"], "outputs" in shown) == ("DELETE_COMPLETE", False)
    assert shown["deletion_time"] is not None
    missing = raw("GET", _path(raw, "/app"))
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "EntityNotFound"
    assert missing.json()["error"]["message"] == "The Stack (app) could not be found."
    again = raw("DELETE", _path(raw, f"/app/{stack_id}"))
    assert again.status_code == 404
    listed = raw("GET", _path(raw, "?show_deleted=True")).json()["stacks"]
    assert [s["stack_status"] for s in listed] == ["DELETE_COMPLETE"]


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        ({"stack_name": "a"}, "HTTPBadRequest", "No template specified"),
        ({"template": TEMPLATE}, "HTTPBadRequest", "No stack name specified"),
        (
            {"stack_name": "a", "template": {"resources": {}}},
            "InvalidTemplateVersion",
            "The template version is invalid: Template version was not provided",
        ),
        (
            {"stack_name": "a", "template": "resources: {}"},
            "HTTPBadRequest",
            "Template not in valid format: Template format version not found.",
        ),
        (
            {"stack_name": "1a", "template": TEMPLATE},
            "StackValidationFailed",
            'Invalid stack name 1a must contain only alphanumeric or "_-." characters, '
            "must start with alpha and must be 255 characters or less.",
        ),
    ],
)
def test_invalid_create_is_400_in_heat_shape(
    raw: Raw, body: dict[str, Any], kind: str, message: str
) -> None:
    response = raw("POST", _path(raw), json=body)
    assert response.status_code == 400
    error = response.json()
    assert (error["code"], error["title"]) == (400, "Bad Request")
    assert error["error"] == {"message": message, "traceback": None, "type": kind}


def test_duplicate_name_is_409_and_yaml_template_is_accepted(raw: Raw) -> None:
    body = {"stack_name": "dup", "template": "heat_template_version: 2021-04-16\n"}
    assert raw("POST", _path(raw), json=body).status_code == 201
    again = raw("POST", _path(raw), json=body)
    assert again.status_code == 409
    assert again.json()["error"]["type"] == "StackExists"


# A manual clock: on a loaded machine, 0.1 s builds could end before the listing.
@pytest.mark.fake_cloud(clock=ManualClock, scenario=Scenario.fast(duration=1))
def test_sdk_find_and_list_filters(fake_conn: connection.Connection) -> None:
    first = fake_conn.orchestration.create_stack(name="one", template=TEMPLATE)
    fake_conn.orchestration.create_stack(name="two", template=TEMPLATE)
    found = fake_conn.orchestration.find_stack("one")
    assert found is not None
    assert found.id == first.id
    assert fake_conn.orchestration.find_stack("nope") is None
    names = [s.name for s in fake_conn.orchestration.stacks(name="two")]
    assert names == ["two"]
    assert {s.name for s in fake_conn.orchestration.stacks(status="IN_PROGRESS")} == {
        "one",
        "two",
    }
