"""Cluster mode's primitives on the real PostgreSQL server: one leader per key, taken
over when its session ends (a SIGKILL included), and operation ids told to every
listener, with a word when some may have been missed."""

from __future__ import annotations

import queue
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

import osfutures
from osfutures.journal.cluster import MAX_PAYLOAD, Channel, Election, Notice, lock_id, payloads

KEY = ("fake", "RegionOne", "project-1", "server")


@pytest.fixture
def namespace() -> str:
    return f"osfutures_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def elections(postgres_server: str, namespace: str) -> Iterator[list[Election]]:
    made = [Election(postgres_server, namespace=namespace) for _ in range(2)]
    yield made
    for election in made:
        election.close()


def _end_sessions_of(server: str, application: str) -> None:
    """End the server sessions whose application_name is ``application``, as a
    database restart or a network cut would."""
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application,),
        )


def test_one_process_leads_a_key(elections: list[Election]) -> None:
    first, second = elections
    assert first.try_lead(KEY) and first.try_lead(KEY), "leading it already: still True"
    assert not second.try_lead(KEY)
    assert second.try_lead((*KEY[:3], "volume")), "another kind, another leader"
    assert first.leading() == {KEY}
    first.resign(KEY)
    assert first.leading() == set()
    assert second.try_lead(KEY), "resigned: free for another"


def test_namespaces_keep_journals_apart(postgres_server: str, namespace: str) -> None:
    here = Election(postgres_server, namespace=namespace)
    there = Election(postgres_server, namespace=namespace + "_other")
    try:
        assert here.try_lead(KEY) and there.try_lead(KEY)
        assert lock_id(namespace, KEY) != lock_id(namespace + "_other", KEY)
    finally:
        here.close()
        there.close()


def test_a_session_the_server_ends_gives_its_keys_up(
    postgres_server: str, elections: list[Election], namespace: str
) -> None:
    application = f"osfutures-test-{namespace}"
    leader = Election(f"{postgres_server}?application_name={application}", namespace=namespace)
    try:
        assert leader.try_lead(KEY)
        _end_sessions_of(postgres_server, application)
        assert leader.leading() == set(), "it knows it leads nothing now"
        assert elections[0].try_lead(KEY), "taken over at once"
        assert not leader.try_lead(KEY), "back, but another leads it"
    finally:
        leader.close()


def test_a_killed_leader_is_taken_over(
    postgres_server: str, elections: list[Election], namespace: str
) -> None:
    child = textwrap.dedent(
        f"""
        import os, sys
        from osfutures.journal.cluster import Election
        election = Election({postgres_server!r}, namespace={namespace!r})
        assert election.try_lead({KEY!r})
        print("leading", flush=True)
        sys.stdin.read()
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "leading\n"
        assert not elections[0].try_lead(KEY)
        process.kill()  # SIGKILL: no goodbye to the server
        process.wait(10)
        # The kernel closes the socket at once; the server ends the session when it
        # reads that, a moment later.
        for _ in range(100):
            if elections[0].try_lead(KEY):
                break
            psycopg.connect(postgres_server).close()  # a pause that asks the server
        assert elections[0].leading() == {KEY}
    finally:
        process.kill()
        process.wait(10)


def test_a_lost_database_leads_nothing_and_says_so(namespace: str) -> None:
    nowhere = Election("postgresql://127.0.0.1:1/none", namespace=namespace, connect_timeout=1)
    assert not nowhere.try_lead(KEY), "no database: the caller polls on its own"
    assert nowhere.leading() == set()
    nowhere.close()


def test_ids_reach_every_listener_in_chunks_that_fit(postgres_server: str, namespace: str) -> None:
    heard: list[queue.Queue[Notice | None]] = [queue.Queue(), queue.Queue()]
    channels = [Channel(postgres_server, namespace, q.put) for q in heard]
    try:
        assert all(c.wait_listening(10) for c in channels)
        ids = [str(uuid.uuid4()) for _ in range(500)]  # about 19 KB of JSON
        channels[0].publish(ids, topic="servers")
        channels[0].publish([], topic="volumes")
        for q in heard:
            got: list[str] = []
            while len(got) < len(ids):
                notice = q.get(timeout=10)
                assert notice is not None and notice.topic == "servers"
                got += notice.ids
            assert got == ids
            assert q.get(timeout=10) == Notice("volumes", []), "a topic alone is told too"
    finally:
        for channel in channels:
            channel.close()


def test_a_listener_that_lost_its_connection_says_some_may_be_missed(
    postgres_server: str, namespace: str
) -> None:
    application = f"osfutures-listen-{namespace}"
    heard: queue.Queue[Notice | None] = queue.Queue()
    listener = Channel(
        f"{postgres_server}?application_name={application}",
        namespace,
        heard.put,
        retry_every=0.1,
    )
    sender = Channel(postgres_server, namespace, lambda ids: None)
    try:
        assert listener.wait_listening(10)
        _end_sessions_of(postgres_server, application)
        assert heard.get(timeout=10) is None, "missed: re-read"
        assert heard.get(timeout=10) is None, "listening again: re-read what was sent meanwhile"
        assert listener.wait_listening(10)
        sender.publish(["op-1"])
        assert heard.get(timeout=10) == Notice("", ["op-1"])
    finally:
        listener.close()
        sender.close()


def test_payloads_stay_under_postgresqls_limit() -> None:
    chunks = payloads("t" * 100, [f"op-{i:06d}" for i in range(5000)])
    assert len(chunks) > 1
    assert all(len(c.encode()) <= MAX_PAYLOAD for c in chunks)
    assert all(c.startswith('["' + "t" * 100 + '"') for c in chunks)


def test_a_channel_name_must_be_an_identifier(postgres_server: str) -> None:
    with pytest.raises(ValueError, match=r"^name: "):
        Channel(postgres_server, 'ops"; DROP', lambda ids: None)


def test_a_journal_knows_when_a_process_on_any_machine_is_gone(pg_url: str) -> None:
    from osfutures.journal.postgres import PostgresStore

    child = textwrap.dedent(
        f"""
        import os, socket, sys
        import osfutures
        from osfutures.journal import Journal, tracking
        journal = Journal.open({pg_url!r}, batch_delay=0)
        journal.track(osfutures.OperationFuture(name="left behind"))
        assert journal.flush()
        print(socket.gethostname(), os.getpid(), tracking.PROCESS, flush=True)
        sys.stdin.read()
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    try:
        assert process.stdout is not None
        host, pid, uuid = process.stdout.readline().split()
        assert not stores[0].owner_gone(host, int(pid), uuid), "alive: its operations are its own"
        process.kill()  # SIGKILL: its session ends when the server reads the closed socket
        process.wait(10)
        for _ in range(100):
            if stores[0].owner_gone(host, int(pid), uuid):
                break
            psycopg.connect(stores[0].conninfo).close()  # a pause that asks the server
        else:
            pytest.fail("a killed process's owner lock was never freed")
        assert not stores[1].owner_gone(host, int(pid), uuid), "claimed by the first to ask"
    finally:
        process.kill()
        process.wait(10)
        for store in stores:
            store.close()


def test_a_journal_takes_its_owner_lock_again_after_its_session_was_cut(
    pg_url: str, pg_schema: str
) -> None:
    from osfutures.journal import Journal
    from osfutures.journal.postgres import OWNER_HEARTBEAT, _owner

    application = f"osfutures-owner-{pg_schema}"
    journal = Journal.open(f"{pg_url}&application_name={application}", batch_delay=0)
    probe = Election(pg_url.split("?")[0], namespace=f"{pg_schema}:owners")
    try:
        journal.track(osfutures.OperationFuture(name="kept"))
        assert journal.flush()
        assert not probe.try_lead(_owner()), "held while this process writes"
        _end_sessions_of(pg_url.split("?")[0], application)  # a restart, an idle timeout
        time.sleep(OWNER_HEARTBEAT * 1.5)  # the heartbeat takes it again meanwhile
        assert not probe.try_lead(_owner()), "a live process must not look dead for long"
    finally:
        probe.close()
        journal.close()
