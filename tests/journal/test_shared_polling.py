"""Cluster mode on the real PostgreSQL server and FakeCloud: members that share a
journal share each listing. Here the members are connections with journals of their
own in one process (each journal has its own database sessions, so the cluster sees
them as it sees processes); tests/journal/test_cluster_processes.py runs real ones."""

from __future__ import annotations

import contextlib
import datetime
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

import osfutures
from osfutures.journal import Journal
from osfutures.openstack.connection import _listings
from osfutures.openstack.sharing import SharedListing
from osfutures.testing import FakeCloud

SINGLE_GET = "GET /compute/v2.1/servers/{server_id}"
LISTING = "GET /compute/v2.1/servers/detail"


@dataclass
class Member:
    """One member of the cluster: its journal, monitor and connection."""

    journal: Journal
    monitor: osfutures.Monitor
    conn: Any

    def servers(self) -> SharedListing:
        shared = _listings[self.conn.unwrap()]["server"].shared
        assert shared is not None, "cluster mode is on for a PostgreSQL journal"
        return shared

    def listings(self) -> int:
        return int(_listings[self.conn.unwrap()]["server"].lister.requests)

    def close(self) -> None:
        self.monitor.shutdown(cancel_futures=True)
        self.journal.close()


def member(cloud: FakeCloud, url: str) -> Member:
    monitor = osfutures.Monitor(default_interval=0.1, max_probes_per_second=None, seed=3)
    journal = Journal.open(url, batch_delay=0)
    return Member(
        journal, monitor, osfutures.wrap(cloud.connect(), monitor=monitor, journal=journal)
    )


@pytest.fixture
def members(cloud: FakeCloud, pg_url: str) -> Iterator[list[Member]]:
    made = [member(cloud, pg_url) for _ in range(2)]
    yield made
    for m in made:
        m.close()


def keep_leading(leader: Member, boot: dict[str, Any]) -> osfutures.OperationFuture[Any]:
    """A server ``leader`` watches until the test ends (it never shuts off): its
    member leads the servers' listing from its first poll on."""
    server = leader.conn.compute.create_server_async(name="anchor", **boot).result(timeout=30)
    anchor = leader.conn.watch("server", server.id, status="SHUTOFF", timeout=300)
    # Seen (by its own GET: a listing shows what changes), and the listing led.
    assert wait_for(lambda: anchor.status == "ACTIVE" and leader.servers().role == "leader")
    return anchor


def wait_for(condition: Any, timeout: float = 10.0) -> bool:
    event = threading.Event()
    end = timeout
    while end > 0:
        if condition():
            return True
        event.wait(0.05)
        end -= 0.05
    return bool(condition())


def test_a_follower_learns_its_servers_from_the_leaders_listing(
    cloud: FakeCloud, members: list[Member], boot: dict[str, Any]
) -> None:
    leader, follower = members
    anchor = keep_leading(leader, boot)
    cloud.reset_stats()
    futures = [follower.conn.compute.create_server_async(name=f"f{i}", **boot) for i in range(4)]
    servers = [f.result(timeout=30) for f in futures]
    assert [s.status for s in servers] == ["ACTIVE"] * 4
    assert follower.servers().role == "follower"
    assert follower.listings() == 0, "the follower asked the cloud nothing"
    assert cloud.context.accounting.requests(SINGLE_GET) == 0, "nor one server at a time"
    assert leader.listings() > 0
    # The results are the servers as openstacksdk gets them.
    assert {s.name for s in servers} == {"f0", "f1", "f2", "f3"}
    assert all(type(s).__name__ == "Server" and s.flavor for s in servers)
    anchor.cancel()


def test_a_deleted_server_resolves_a_followers_delete(
    cloud: FakeCloud, members: list[Member], boot: dict[str, Any]
) -> None:
    leader, follower = members
    keep_leading(leader, boot)
    server = follower.conn.compute.create_server_async(name="doomed", **boot).result(timeout=30)
    cloud.reset_stats()
    deleted = follower.conn.compute.delete_server_async(server.id)
    assert deleted.result(timeout=30) is not None
    assert follower.listings() == 0 and cloud.context.accounting.requests(SINGLE_GET) == 0


def test_a_leader_that_watches_nothing_more_hands_the_listing_over(
    cloud: FakeCloud, members: list[Member], boot: dict[str, Any]
) -> None:
    leader, follower = members
    anchor = keep_leading(leader, boot)
    follower.conn.compute.create_server_async(name="first", **boot).result(timeout=30)
    assert follower.servers().role == "follower"
    anchor.cancel()
    assert wait_for(lambda: leader.servers().role == "")
    reached = _listings[leader.conn.unwrap()]["server"].lister.position()
    mine = _listings[follower.conn.unwrap()]["server"].lister
    mine._since -= datetime.timedelta(hours=1)  # as if made an hour ago
    server = follower.conn.compute.create_server_async(name="next", **boot).result(timeout=30)
    assert server.status == "ACTIVE"
    assert mine.requests > 0, "it listed for the cluster"
    # It went on from where the last leader's window stood, not from its own start
    # (which would list an hour of the project's changes again).
    assert mine.position() >= reached


def test_a_new_leader_lists_from_where_the_last_one_stopped(
    cloud: FakeCloud, members: list[Member], boot: dict[str, Any]
) -> None:
    leader, follower = members
    anchor = keep_leading(leader, boot)
    follower.conn.compute.create_server_async(name="first", **boot).result(timeout=30)
    reached = _listings[leader.conn.unwrap()]["server"].lister.position()
    mine = _listings[follower.conn.unwrap()]["server"].lister
    mine._since -= datetime.timedelta(hours=1)
    follower.servers()._become("leader")
    assert mine.position() >= reached, "it starts where the last leader stood"
    anchor.cancel()


def test_cluster_off_lists_alone(cloud: FakeCloud, pg_url: str, boot: dict[str, Any]) -> None:
    alone = member(cloud, pg_url + "&cluster=off")
    try:
        alone.conn.compute.create_server_async(name="solo", **boot).result(timeout=30)
        assert _listings[alone.conn.unwrap()]["server"].shared is None
        assert alone.listings() > 0
    finally:
        alone.close()


class Proxy:
    """A TCP relay to the PostgreSQL server that can be cut (the database is then
    unreachable: connections end, new ones are refused) and mended."""

    def __init__(self, port: int) -> None:
        self._target = ("127.0.0.1", port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self.cut_off = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.cut_off:
                client.close()
                continue
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cut_off = True
        with self._lock:
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def mend(self) -> None:
        self.cut_off = False

    def close(self) -> None:
        self.cut()
        self._server.close()


def test_a_member_that_loses_the_database_lists_alone_then_rejoins(
    cloud: FakeCloud,
    pg_url: str,
    boot: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = Proxy(5432)
    url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert url != pg_url
    leader = member(cloud, pg_url)
    cut_off = member(cloud, url)
    try:
        anchor = keep_leading(leader, boot)
        first = cut_off.conn.compute.create_server_async(name="before", **boot)
        assert first.result(timeout=30).status == "ACTIVE"
        assert cut_off.servers().role == "follower"
        caplog.set_level(logging.WARNING, logger="osfutures.cluster")
        proxy.cut()
        futures = [
            cut_off.conn.compute.create_server_async(name=f"during{i}", **boot) for i in range(3)
        ]
        assert [f.result(timeout=30).status for f in futures] == ["ACTIVE"] * 3
        assert cut_off.servers().role == "alone" and cut_off.listings() > 0
        alone = [r.getMessage() for r in caplog.records if "does not answer" in r.getMessage()]
        assert len(alone) == 1, "one warning, not one per poll"
        proxy.mend()
        later = cut_off.conn.compute.create_server_async(name="after", **boot)
        assert later.result(timeout=30).status == "ACTIVE"
        assert cut_off.servers().role == "follower"
        assert any("answers again" in r.getMessage() for r in caplog.records)
        anchor.cancel()
    finally:
        cut_off.close()
        leader.close()
        proxy.close()


def test_what_a_leader_writes_for_others_holds_no_secrets(cloud: FakeCloud) -> None:
    from osfutures.openstack.batching import ChangesSinceLister, ProjectLister

    conn = cloud.connect()
    servers = ChangesSinceLister(conn, "compute", "get_server")
    servers.observe(True)
    body = {"id": "s1", "status": "ACTIVE", "OS-EXT-SRV-ATTR:user_data": "c2VjcmV0", "name": "a"}
    assert servers.from_record(servers.record(servers.from_record(body))).body == {
        "id": "s1",
        "status": "ACTIVE",
        "name": "a",
    }
    volumes = ProjectLister(conn, "block_storage", "get_volume", "volumes", {"details": True})
    volume = conn.block_storage.create_volume(size=1, name="v")
    back = volumes.from_record(volumes.record(volume))
    assert type(back) is type(volume) and back.id == volume.id and back.name == "v"
    with pytest.raises(ValueError, match="not an openstacksdk resource"):
        volumes.from_record({"resource": "os:system", "attrs": {}})


def test_a_new_leaders_complete_listing_ends_what_an_old_one_left_listed(pg_url: str) -> None:
    from osfutures.journal.observations import GONE, LISTED, Observation
    from osfutures.journal.postgres import PostgresStore

    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    try:
        for store in stores:
            store.open()
        old, new = (store.sharing() for store in stores)
        assert old.lead("volumes") and new.lead("volumes") is False
        old.publish("volumes", [Observation("v1", LISTED, {"status": "deleting"})], ["v1"])
        old.resign("volumes")  # v1 is deleted before anyone lists again
        assert new.lead("volumes")
        new.publish("volumes", [], complete=[])  # a first listing: nothing moved for it
        reading = new.read("volumes", 0, ["v1"], ["v1"])
        assert [(o.resource_id, o.seen) for o in reading.observations] == [("v1", GONE)]
        assert reading.listings == 2
    finally:
        for store in stores:
            store.close()


def test_a_subscription_ends_with_its_listing(pg_url: str) -> None:
    import gc

    from osfutures.journal.postgres import PostgresStore

    store = PostgresStore(pg_url)
    try:
        store.open()
        sharing = store.sharing()

        class Listening:
            heard: ClassVar[list[list[str] | None]] = []

            def hear(self, ids: list[str] | None) -> None:
                self.heard.append(ids)

        kept, dropped = Listening(), Listening()
        sharing.subscribe("servers", kept.hear)
        sharing.subscribe("servers", dropped.hear)
        del dropped
        gc.collect()
        sharing._heard(None)  # as the channel does when it may have missed some
        assert Listening.heard == [None], "only the listing still alive heard it"
        assert len(sharing._subscribers[next(iter(sharing._subscribers))]) == 1
    finally:
        store.close()


def test_a_follower_that_takes_the_lead_reads_what_it_had_not_read(
    cloud: FakeCloud, pg_url: str, boot: dict[str, Any]
) -> None:
    """The last leader wrote X's change, and the window it goes on from, after this
    process's last read as a follower: its own listing starts past X's change, so it
    reads the table once more (else X would wait for its deadline)."""
    from osfutures.journal.observations import LISTED, Observation
    from osfutures.journal.postgres import PostgresStore
    from osfutures.openstack.batching import ChangesSinceLister

    conn = cloud.connect()
    server = conn.compute.create_server(name="x", **boot)
    conn.compute.wait_for_server(server, wait=30, interval=0.1)
    body = conn.compute.get("/servers/" + server.id).json()["server"]
    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    try:
        for store in stores:
            store.open()
        other, mine = (store.sharing() for store in stores)
        share = "server test"
        assert other.lead(share)
        lister = ChangesSinceLister(conn, "compute", "get_server")
        shared = SharedListing(lister, lister.fetch_changes, mine, share, "key", lambda: True)
        assert shared([server.id]) == {server.id: osfutures.NOT_YET}
        assert shared.role == "follower"
        ahead = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
        other.publish(share, [Observation(server.id, LISTED, body)], None, ahead.isoformat())
        other.resign(share)
        time.sleep(2.5)  # its own listing, from the window the last leader reached, lacks x
        answer = shared([server.id])
        assert shared.role == "leader"
        assert answer[server.id].status == "ACTIVE"
    finally:
        for store in stores:
            store.close()
