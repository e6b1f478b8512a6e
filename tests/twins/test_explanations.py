"""Failures the object does not explain are explained as the services do: Cinder's and
Manila's user messages, Nova's instance actions (over real HTTP against FakeCloud)."""

from __future__ import annotations

from typing import Any

import osfutures
from osfutures.openstack.explaining import Sent, _of_this_call
from osfutures.testing import FakeCloud

from .conftest import requests


def test_a_failed_volume_carries_cinders_user_message_about_that_call(
    conn: osfutures.AsyncConnection, cloud: FakeCloud
) -> None:
    future = conn.block_storage.create_volume_async(size=1, name="fail-vol")
    error = future.exception(timeout=30)
    assert isinstance(error, osfutures.OperationFailed) and error.status == "error"
    message = error.details
    assert message is not None and message["resource_uuid"] == future.resource_id
    assert message["event_id"] == "VOLUME_VOLUME_001_003"
    assert error.fault == (f"{message['user_message']} (Cinder message {message['id']})"), (
        "the service's own words, and which message"
    )
    assert "schedule allocate volume" in str(error)
    routes = {r for r in cloud.stats()["requests"] if "messages" in r}
    assert routes and requests(cloud, next(iter(routes))) == 1, "asked once, at the failure"


def test_a_volume_that_succeeds_asks_for_no_message(
    conn: osfutures.AsyncConnection, cloud: FakeCloud
) -> None:
    assert conn.block_storage.create_volume_async(size=1, name="ok").result(timeout=30)
    assert not any("messages" in route for route in cloud.stats()["requests"])


def test_a_failed_share_carries_manilas_user_message(conn: osfutures.AsyncConnection) -> None:
    sfs = conn.shared_file_system
    future = sfs.create_share_async(name="fail-share", size=1, share_proto="NFS")
    error = future.exception(timeout=30)
    assert isinstance(error, osfutures.OperationFailed)
    message: Any = error.details
    assert message["resource_id"] == future.resource_id and message["action_id"] == "001"
    assert error.fault is not None and error.fault.startswith("allocate host: ")
    assert error.fault.endswith(f"(Manila message {message['id']})")


class Endpoint:
    def get_endpoint(self) -> str:
        return "http://cloud/volume/v3/p1"


def test_only_a_message_of_this_calls_requests_explains_it() -> None:
    older = {"id": "m1", "request_id": "req-older", "user_message": "extend volume:failed"}
    mine = {"id": "m2", "request_id": "req-mine", "user_message": "schedule allocate volume:no"}
    post = Sent("POST", "/volume/v3/p1/volumes", 202, "req-mine")
    assert _of_this_call([older, mine], Endpoint(), [post]) is mine
    # A failure whose message is not there yet: the older message does not stand in.
    assert _of_this_call([older], Endpoint(), [post]) is None
    # A call made through Nova (an attachment): Cinder's request id is Nova's own.
    via_nova = Sent("POST", "/compute/v2.1/servers/vm/os-volume_attachments", 200, "req-n")
    assert _of_this_call([mine, older], Endpoint(), [via_nova]) is mine


def instance_action_requests(cloud: FakeCloud) -> int:
    return sum(
        n for route, n in cloud.stats()["requests"].items() if "os-instance-actions" in route
    )


def test_a_stop_that_nova_undoes_fails_at_once_with_the_instance_action(
    conn: osfutures.AsyncConnection, cloud: FakeCloud, boot: dict[str, Any]
) -> None:
    server = conn.compute.create_server_async(name="revert-vm", **boot).result(timeout=30)
    future = conn.compute.stop_server_async(server, timeout=600)
    error = future.exception(timeout=30)
    assert isinstance(error, osfutures.OperationFailed), "not a wait for the deadline"
    assert error.status == "ACTIVE" and error.elapsed is not None and error.elapsed < 30
    action: Any = error.details
    assert action["action"] == "stop" and action["message"] == "Error"
    assert [e["result"] for e in action["events"]] == ["Error"]
    assert error.fault == (
        f"Nova's stop action {action['request_id']} failed: compute_stop_instance Error"
    )
    assert instance_action_requests(cloud) == 1


def test_a_stop_that_works_asks_nothing(
    conn: osfutures.AsyncConnection, cloud: FakeCloud, boot: dict[str, Any]
) -> None:
    server = conn.compute.create_server_async(name="plain", **boot).result(timeout=30)
    assert conn.compute.stop_server_async(server).result(timeout=30).status == "SHUTOFF"
    assert instance_action_requests(cloud) == 0


def test_a_live_migration_is_believed_only_once_nova_says_it_worked(
    conn: osfutures.AsyncConnection, cloud: FakeCloud, boot: dict[str, Any]
) -> None:
    good = conn.compute.create_server_async(name="lm-ok", **boot).result(timeout=30)
    bad = conn.compute.create_server_async(name="revert-lm", **boot).result(timeout=30)
    moved = conn.compute.live_migrate_server_async(good, host=None, block_migration="auto")
    assert moved.result(timeout=30).status == "ACTIVE"
    assert instance_action_requests(cloud) == 1, "one look at the action confirmed it"
    failed = conn.compute.live_migrate_server_async(bad, host=None, block_migration="auto")
    error = failed.exception(timeout=30)
    assert isinstance(error, osfutures.OperationFailed) and error.status == "ACTIVE"
    assert error.details is not None and error.details["action"] == "live-migration"


STACK = {
    "heat_template_version": "2018-08-31",
    "resources": {
        "net": {"type": "OS::Neutron::Net"},
        "server": {"type": "OS::Nova::Server", "properties": {"image": "i", "flavor": "f"}},
    },
}


def test_a_failed_stack_names_the_resource_that_failed(conn: osfutures.AsyncConnection) -> None:
    future = conn.orchestration.create_stack_async(name="will-fail", template=STACK)
    error = future.exception(timeout=30)
    assert isinstance(error, osfutures.OperationFailed) and error.status == "CREATE_FAILED"
    event: Any = error.details
    assert event["resource_name"] == "server" and event["resource_status"] == "CREATE_FAILED"
    assert error.fault is not None
    assert error.fault.startswith("Resource CREATE failed: ResourceInError: resources.server")
    assert error.fault.endswith("; failed resource server (" + event["physical_resource_id"] + ")")
