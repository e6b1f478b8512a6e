"""Twins of the other services and chains across them, against FakeCloud."""

from __future__ import annotations

from typing import Any

import osfutures
from osfutures.testing import FakeCloud

TEMPLATE: dict[str, Any] = {
    "heat_template_version": "2021-04-16",
    "outputs": {"greeting": {"value": "hello"}},
}
SUBNET = "6b4a2d5e-2a8f-4f4f-9c1b-2d7c1e0e7a10"


def test_volume_lifecycle(conn: osfutures.AsyncConnection) -> None:
    volume = conn.block_storage.create_volume_async(size=1, name="data").result(timeout=30)
    assert volume.status == "available"
    extended = conn.block_storage.extend_volume_async(volume, 2).result(timeout=30)
    assert (extended.status, extended.size) == ("available", 2)
    conn.block_storage.delete_volume_async(volume).result(timeout=30)
    assert conn.block_storage.find_volume(volume.id) is None


def test_many_volumes_are_polled_with_list_requests(
    cloud: FakeCloud, conn: osfutures.AsyncConnection
) -> None:
    futures = [conn.block_storage.create_volume_async(size=1, name=f"v{i}") for i in range(40)]
    assert all(f.result(timeout=60).status == "available" for f in futures)
    stats = cloud.stats()["requests"]
    assert stats.get("GET /volume/v3/{project_id}/volumes/{volume_id}", 0) == 0
    assert 1 <= stats["GET /volume/v3/{project_id}/volumes/detail"] <= 25


def test_attach_chain_across_services(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    volume = conn.block_storage.create_volume_async(size=1, name="disk")
    attached = conn.compute.create_server_async(name="db", **boot).next(
        lambda vm: volume.next(
            lambda vol: conn.compute.create_volume_attachment_async(vm, volume=vol)
        )
    )
    in_use = attached.result(timeout=30)
    assert in_use.status == "in-use"
    snapshot = conn.block_storage.create_snapshot_async(
        volume_id=in_use.id, name="nightly", force=True
    ).result(timeout=30)
    assert snapshot.status == "available"
    server = attached.result()
    vm_id = in_use.attachments[0]["server_id"]
    detached = conn.compute.delete_volume_attachment_async(vm_id, server).result(timeout=30)
    assert detached.status == "available"


def test_failed_volume_reports_its_status(conn: osfutures.AsyncConnection) -> None:
    error = conn.block_storage.create_volume_async(size=1, name="fail-vol").exception(timeout=30)
    assert isinstance(error, osfutures.OperationFailed)
    assert error.status == "error"


def test_server_snapshot_waits_for_the_image(
    conn: osfutures.AsyncConnection, boot: dict[str, Any]
) -> None:
    server = conn.compute.create_server_async(name="golden", **boot).result(timeout=30)
    image = conn.compute.create_server_image_async(server, "golden-image").result(timeout=30)
    assert image.status == "active"
    conn.image.delete_image_async(image).result(timeout=30)


def test_stack_create_update_delete(conn: osfutures.AsyncConnection) -> None:
    orchestration = conn.orchestration
    stack = orchestration.create_stack_async(name="app", template=TEMPLATE).result(timeout=30)
    assert stack.status == "CREATE_COMPLETE"
    updated = orchestration.update_stack_async(stack, template=TEMPLATE).result(timeout=30)
    assert updated.status == "UPDATE_COMPLETE"
    orchestration.delete_stack_async(stack).result(timeout=30)


def test_failed_stack_carries_its_status_reason(conn: osfutures.AsyncConnection) -> None:
    future = conn.orchestration.create_stack_async(name="will-fail", template=TEMPLATE)
    error = future.exception(timeout=30)
    assert isinstance(error, osfutures.OperationFailed)
    assert error.status == "CREATE_FAILED" and error.fault


def test_load_balancer_listener_pool_chain(conn: osfutures.AsyncConnection) -> None:
    lbs = conn.load_balancer
    pool = (
        lbs.create_load_balancer_async(name="web", vip_subnet_id=SUBNET)
        .next(
            lambda lb: lbs.create_listener_async(
                name="http", load_balancer_id=lb.id, protocol="HTTP", protocol_port=80
            )
        )
        .next(
            lambda listener: lbs.create_pool_async(
                listener_id=listener.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN"
            )
        )
        .result(timeout=30)
    )
    assert pool.provisioning_status == "ACTIVE"
    lb_id = pool.loadbalancers[0]["id"]
    lbs.delete_pool_async(pool).result(timeout=30)
    lbs.delete_load_balancer_async(lb_id, cascade=True).result(timeout=30)


def test_share_create_and_delete(conn: osfutures.AsyncConnection) -> None:
    sfs = conn.shared_file_system
    share = sfs.create_share_async(name="data", size=1, share_proto="NFS").result(timeout=30)
    assert share.status == "available"
    sfs.delete_share_async(share).result(timeout=30)


def test_image_upload_waits_until_active(conn: osfutures.AsyncConnection) -> None:
    future = conn.image.create_image_async(
        name="img", data=b"x" * 1000, disk_format="qcow2", container_format="bare"
    )
    assert future.sync_res.status == "queued"
    assert future.result(timeout=30).status == "active"
    conn.image.delete_image_async(future.result()).result(timeout=30)
    assert conn.image.find_image(future.resource_id) is None
