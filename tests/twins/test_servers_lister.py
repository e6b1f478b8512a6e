"""The servers lister over real HTTP: FakeCloud on a ManualClock, driven by openstacksdk.

Each test calls the lister as the monitor does (``fetch_many`` once a cycle with the
watched ids) and moves the cloud's time itself, so every "same second" is exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from openstack import exceptions as os_exc
from openstack.compute.v2.server import Server

from osfutures.openstack.batching import (
    ChangesSinceLister,
    ListedServer,
    _state_of_body,
    _state_of_server,
    as_server,
)
from osfutures.openstack.kinds import KINDS
from osfutures.testing import FakeCloud, ManualClock
from osfutures.testing.fakecloud.compute import responses as compute_responses
from osfutures.testing.fakecloud.scenario import Scenario
from osfutures.watch import GONE, NOT_LISTED, Gone

SERVERS_DETAIL = "GET /compute/v2.1/servers/detail"
SERVER_GET = "GET /compute/v2.1/servers/{server_id}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def cloud(clock: ManualClock) -> Iterator[FakeCloud]:
    scenario = Scenario.fast(seed=11, duration=(2.0, 8.0))
    with FakeCloud(seed=11, clock=clock, scenario=scenario) as c:
        yield c


@pytest.fixture
def conn(cloud: FakeCloud) -> Any:
    return cloud.connect()


@pytest.fixture
def boot(conn: Any) -> Callable[[str], str]:
    flavor = next(iter(conn.compute.flavors()))
    image = next(iter(conn.image.images()))

    def create(name: str) -> str:
        server = conn.compute.create_server(
            name=name, flavor_id=flavor.id, image_id=image.id, networks="none"
        )
        return str(server.id)

    return create


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The id of every copy the lister makes of a listed server, in order."""
    ids: list[str] = []
    real = ListedServer.__init__

    def init(self: ListedServer, body: dict[str, Any], *args: Any) -> None:
        ids.append(body.get("id", "?"))
        real(self, body, *args)

    monkeypatch.setattr(ListedServer, "__init__", init)
    return ids


def _lister(conn: Any) -> ChangesSinceLister:
    return ChangesSinceLister(conn, "compute", "get_server")


def _truth(conn: Any, sid: str) -> tuple[Any, ...] | None:
    """What a GET says of ``sid`` now: its state, or None for a 404."""
    try:
        return _state_of_server(conn.compute.get_server(sid))
    except os_exc.NotFoundException:
        return None


def _wall_fraction(cloud: FakeCloud) -> float:
    return cloud.clock.wall(cloud.clock.now()).microsecond / 1e6


def _to_second(cloud: FakeCloud, fraction: float) -> None:
    """Advance the cloud to ``fraction`` of a second into the next whole second."""
    cloud.advance(1 - _wall_fraction(cloud) + fraction)


def test_every_change_of_many_servers_is_seen_as_a_get_would_see_it(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str]
) -> None:
    lister = _lister(conn)
    ids: list[str] = []
    deleted: set[str] = set()
    seen: dict[str, list[str]] = {}
    for cycle in range(80):
        if cycle < 20:
            ids += [boot(f"fleet-{cycle}-{k}") for k in range(2)]
        if cycle in (8, 30, 45):  # some while they build, some once ACTIVE
            for sid in ids[cycle // 4 : cycle // 4 + 4]:
                if sid not in deleted:
                    conn.compute.delete_server(sid)
                    deleted.add(sid)
        answer = lister.fetch_many(ids)
        assert lister.requests == cycle + 1  # one request a cycle: no page fills up
        # Exact: nothing moves between the listing and this plain one (manual time).
        plain = conn.compute.get("/servers/detail", microversion="2.100").json()["servers"]
        now = {body["id"]: _state_of_body(body) for body in plain}
        for sid in ids:
            truth = now.get(sid)
            copy = answer[sid]
            if truth is None:
                assert sid in deleted and copy.status == "DELETED"
                gone = KINDS["server"].present(copy)
                assert isinstance(gone, Gone) and gone.last is copy
            else:
                assert _state_of_server(copy) == truth, (cycle, sid)
            if not seen.get(sid) or seen[sid][-1] != copy.status:
                seen.setdefault(sid, []).append(copy.status)
        cloud.advance(0.37)  # cycles at every fraction of a second
    assert len(deleted) == 12
    assert {sid: _state_of_server(answer[sid]) for sid in ids if sid not in deleted} == {
        sid: _truth(conn, sid) for sid in ids if sid not in deleted
    }
    for sid in ids:
        assert seen[sid][0] == "BUILD"
        assert seen[sid][-1] == ("DELETED" if sid in deleted else "ACTIVE")


def test_a_listed_server_is_the_object_get_server_returns(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str]
) -> None:
    lister = _lister(conn)
    sid = boot("same")
    cloud.advance(10)
    copy = lister.fetch_many([sid])[sid]
    assert isinstance(copy, ListedServer), "a light copy: the Server is built at the end"
    listed = as_server(copy)
    got = conn.compute.get_server(sid)
    assert type(listed) is type(got) is Server
    assert as_server(got) is got
    assert listed.status == "ACTIVE"
    assert listed.microversion == got.microversion
    assert listed._connection is got._connection is conn
    assert listed.location == got.location
    mine, theirs = listed.to_dict(), got.to_dict()
    # Nova shows server_groups (2.71+) only to a GET of one server, never in a list.
    assert {k for k in theirs if mine[k] != theirs[k]} == {"server_groups"}
    assert (mine["server_groups"], theirs["server_groups"]) == (None, [])
    mine.pop("server_groups")
    theirs.pop("server_groups")
    assert mine == theirs


def test_a_change_in_the_same_second_as_the_windows_edge_is_listed(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str], built: list[str]
) -> None:
    lister = _lister(conn)
    edge, late = boot("edge"), boot("late")
    cloud.advance(10)
    assert {s.status for s in lister.fetch_many([edge, late]).values()} == {"ACTIVE"}
    _to_second(cloud, 0.2)
    conn.compute.stop_server(edge)  # updated_at = S.2
    cloud.advance(0.3)
    second = cloud.clock.wall(cloud.clock.now()).replace(microsecond=0)
    assert lister.fetch_many([edge, late])[edge].task_state == "powering-off"
    assert lister._since == second  # the window's edge: S, not a step further back
    cloud.advance(0.3)
    conn.compute.stop_server(late)  # updated_at = S.8: after the listing, same second
    del built[:]
    cloud.advance(0.7)  # the next cycle, in the next second
    answer = lister.fetch_many([edge, late])
    assert answer[late].task_state == "powering-off"
    assert built == [late]  # edge was listed again, unchanged: not rebuilt


def test_the_window_reaches_back_no_further_than_the_newest_second(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str]
) -> None:
    lister = _lister(conn)
    a, b = boot("a"), boot("b")
    cloud.advance(10)
    cloud.scenario = Scenario.fast(seed=11, duration=20.0)
    lister.fetch_many([a, b])
    _to_second(cloud, 0.1)
    conn.compute.stop_server(a)  # S.1
    cloud.advance(1.4)
    conn.compute.stop_server(b)  # (S+1).5
    cloud.advance(0.2)
    assert lister.fetch_many([a, b])[b].task_state == "powering-off"
    for _ in range(3):
        records = lister.records
        cloud.advance(0.6)
        lister.fetch_many([a, b])
        assert lister.records - records == 1  # b's second again, not a's


def test_an_unchanged_or_unwatched_server_builds_nothing(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str], built: list[str]
) -> None:
    lister = _lister(conn)
    watched = [boot(f"w{i}") for i in range(3)]
    others = [boot(f"u{i}") for i in range(20)]
    changes = 0
    before: dict[str, tuple[Any, ...]] = {}
    for _ in range(25):
        answer = lister.fetch_many(watched)
        for sid in watched:
            state = _state_of_server(answer[sid])
            changes += before.get(sid) != state
            before[sid] = state
        cloud.advance(0.5)
    assert set(built) == set(watched)
    assert len(built) == changes
    assert lister.records > 25 * len(watched)  # the others were on the pages
    assert not set(others) & set(built)
    # Quiet: listed again (the window stays on the last second), never rebuilt.
    records, count = lister.records, len(built)
    for _ in range(5):
        lister.fetch_many(watched)
        cloud.advance(0.2)
    assert lister.records > records
    assert len(built) == count


def test_fetch_changes_answers_only_what_moved(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str]
) -> None:
    lister = _lister(conn)
    a, b = boot("a"), boot("b")
    assert set(lister.fetch_changes([a, b])) == {a, b}
    assert lister.fetch_changes([a, b]) == {}
    cloud.advance(10)
    assert {s.status for s in lister.fetch_changes([a, b]).values()} == {"ACTIVE"}
    assert lister.fetch_changes([a, b]) == {}
    conn.compute.delete_server(a)
    cloud.advance(10)
    changed = lister.fetch_changes([a, b])
    assert set(changed) == {a} and changed[a].status == "DELETED"


def test_pages_are_followed_as_nova_pages_them(
    cloud: FakeCloud,
    conn: Any,
    boot: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compute_responses, "MAX_LIMIT", 7)  # osapi_max_limit
    lister = _lister(conn)
    ids = [boot(f"p{i}") for i in range(20)]
    cloud.reset_stats()
    assert set(lister.fetch_many(ids)) == set(ids)
    assert lister.requests == 3 == cloud.stats()["requests"][SERVERS_DETAIL]
    cloud.advance(10)
    assert {s.status for s in lister.fetch_many(ids).values()} == {"ACTIVE"}


def test_a_get_pulls_the_window_back_over_what_a_listing_moved_past(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lister = _lister(conn)
    x, other = boot("x"), boot("other")
    cloud.advance(10)
    cloud.scenario = Scenario.fast(seed=11, duration=20.0)
    lister.fetch_many([other])
    real_get = conn.compute.get_server

    def get_server(sid: str) -> Any:
        answer = real_get(sid)  # x as it was: ACTIVE
        # While the answer is on its way: x starts stopping, and the group's next
        # listing (x is out of it for its own GET) sees other change a second later.
        conn.compute.stop_server(x)
        cloud.advance(1.2)
        conn.compute.stop_server(other)
        cloud.advance(0.1)
        lister.fetch_many([other])
        return answer

    monkeypatch.setattr(conn.compute, "get_server", get_server)
    assert lister.fetch_one(x).status == "ACTIVE"
    monkeypatch.undo()
    assert lister.fetch_many([x, other])[x].task_state == "powering-off"


def test_a_get_does_not_overwrite_a_newer_listed_copy(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lister = _lister(conn)
    x, other = boot("x"), boot("other")
    cloud.advance(10)
    cloud.scenario = Scenario.fast(seed=11, duration=20.0)
    lister.fetch_many([x, other])
    real_get = conn.compute.get_server

    def get_server(sid: str) -> Any:
        answer = real_get(sid)  # x ACTIVE
        cloud.advance(1.1)
        conn.compute.stop_server(x)  # a second later
        cloud.advance(0.3)
        lister.fetch_many([x, other])  # a cycle lists it while the GET is on its way
        return answer

    monkeypatch.setattr(conn.compute, "get_server", get_server)
    assert lister.fetch_one(x).task_state == "powering-off"
    monkeypatch.undo()
    assert lister.fetch_many([x, other])[x].task_state == "powering-off"


def test_a_change_listed_while_its_watch_is_out_for_a_get_is_kept(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str]
) -> None:
    lister = _lister(conn)
    x, other = boot("x"), boot("other")
    cloud.advance(10)
    cloud.scenario = Scenario.fast(seed=11, duration=20.0)
    lister.fetch_many([other])
    assert lister.fetch_one(x).status == "ACTIVE"  # x is out of the batch for its GET
    conn.compute.stop_server(x)
    cloud.advance(0.5)
    lister.fetch_many([other])  # x's change is listed by a cycle without x
    stopping = datetime.fromisoformat(conn.compute.get_server(x).updated_at.replace("Z", "+00:00"))
    cloud.advance(1.2)
    conn.compute.stop_server(other)
    cloud.advance(0.3)
    lister.fetch_many([other])
    assert lister._since > stopping  # the window has moved past x's change
    changed = lister.fetch_changes([x, other])  # x is back
    assert changed[x].task_state == "powering-off"
    assert _state_of_server(changed[x]) == _truth(conn, x)


def test_a_cloud_clock_far_behind_ours_is_caught_up_with_by_a_get() -> None:
    # The cloud's clock is ten minutes behind ours, twice the lister's allowance.
    clock = ManualClock(wall_start=time.time() - 600)
    with FakeCloud(seed=3, clock=clock, scenario=Scenario.fast(seed=3, duration=5.0)) as cloud:
        conn = cloud.connect()
        flavor = next(iter(conn.compute.flavors()))
        image = next(iter(conn.image.images()))
        sid = conn.compute.create_server(
            name="late", flavor_id=flavor.id, image_id=image.id, networks="none"
        ).id
        lister = _lister(conn)
        # Still a build request: Nova lists it whatever changes-since says.
        assert lister.fetch_many([sid])[sid].status == "BUILD"
        cloud.advance(1)  # scheduled: now an instance, updated in the cloud's past
        lister = _lister(conn)
        assert lister.fetch_many([sid]) == {}  # the window starts in the cloud's future
        assert lister.fetch_one(sid).status == "BUILD"
        cloud.advance(10)
        assert lister.fetch_many([sid])[sid].status == "ACTIVE"


def test_body_and_server_states_agree(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str]
) -> None:
    sids = [boot(f"s{i}") for i in range(3)]
    for _ in range(12):
        bodies = conn.compute.get("/servers/detail", microversion="2.100").json()["servers"]
        for body in bodies:
            if body["id"] in sids:
                server = Server.existing(microversion="2.100", connection=conn, **body)
                assert _state_of_body(body) == _state_of_server(server)
        cloud.advance(0.9)


def test_the_first_window_reaches_back_the_allowance(conn: Any) -> None:
    lister = _lister(conn)
    ago = datetime.now(timezone.utc) - lister._since
    assert timedelta(minutes=5) <= ago < timedelta(minutes=5, seconds=2)


def test_a_build_request_deleted_is_not_listed_until_something_shows_it(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str]
) -> None:
    sid = boot("never-scheduled")
    lister = _lister(conn)
    assert lister.fetch_changes([sid])[sid].task_state == "scheduling"
    # Still a build request: Nova deletes it without a trace, no DELETED entry.
    conn.compute.delete_server(sid)
    assert lister.fetch_changes([sid]) == {sid: NOT_LISTED}, "not 'unchanged'"
    assert lister.fetch_one(sid) is GONE
    assert lister.fetch_many([sid]) == {sid: NOT_LISTED}, "until a listing or GET shows it"


def test_a_build_request_scheduled_is_followed_by_listings_alone(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str]
) -> None:
    sids = [boot(f"b{i}") for i in range(3)]
    lister = _lister(conn)
    tasks: set[Any] = set()
    statuses: dict[str, str] = {}
    for _ in range(40):
        for sid, copy in lister.fetch_changes(sids).items():
            assert copy is not NOT_LISTED
            tasks.add(copy.task_state)
            statuses[sid] = copy.status
        cloud.advance(0.25)
    assert statuses == dict.fromkeys(sids, "ACTIVE")
    assert {"scheduling", None, "spawning"} <= tasks
    assert cloud.stats()["requests"].get(SERVER_GET, 0) == 0


def test_a_server_no_listing_shows_for_a_while_is_looked_at_on_its_own(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str]
) -> None:
    sid = boot("quiet")
    cloud.advance(1.5)  # scheduled: an instance, listed by changes-since as it changes
    lister = _lister(conn)
    lister.recheck_after = 0.2
    assert lister.fetch_changes([sid])[sid].status == "BUILD"
    # Nova skips a cell whose query fails and answers 200: the window moves past what
    # changed there. Here, a window moved a day ahead stands for that.
    lister._since = datetime.now(timezone.utc) + timedelta(days=1)
    cloud.advance(10)  # ACTIVE, and no listing will say so
    assert lister.fetch_changes([sid]) == {}, "silence: unchanged, for a while"
    time.sleep(0.25)
    assert lister.fetch_changes([sid]) == {sid: NOT_LISTED}, "then its own GET"
    server = lister.fetch_one(sid)
    assert server.status == "ACTIVE"
    updated = datetime.fromisoformat(server.updated_at.replace("Z", "+00:00"))
    assert lister._since <= updated, "the GET pulls the window back to it"
    assert lister.fetch_changes([sid])[sid].status == "ACTIVE", "heard of again"
    assert lister.fetch_changes([sid]) == {}


def test_a_recheck_that_finds_nothing_new_leaves_the_window_where_it_was(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str]
) -> None:
    sid = boot("quiet-for-long")
    cloud.advance(30)  # ACTIVE long ago
    lister = _lister(conn)
    lister.recheck_after = 0.2
    assert lister.fetch_changes([sid])[sid].status == "ACTIVE"
    other = boot("busy")
    cloud.advance(30)
    lister.fetch_changes([sid, other])
    window = lister._since
    time.sleep(0.25)
    assert lister.fetch_changes([sid, other])[sid] is NOT_LISTED
    assert lister.fetch_one(sid).status == "ACTIVE"
    assert lister._since == window, "not pulled back to a server quiet for a minute"


def test_a_vanished_build_request_stays_unsure_while_its_get_is_on_its_way(
    cloud: FakeCloud, conn: Any, boot: Callable[[str], str]
) -> None:
    sid, other = boot("never-scheduled"), boot("bystander")
    lister = _lister(conn)
    assert lister.fetch_changes([sid, other])[sid].task_state == "scheduling"
    conn.compute.delete_server(sid)
    assert lister.fetch_changes([sid, other])[sid] is NOT_LISTED
    lister.fetch_changes([other])  # its watch is out of the batch for its own GET
    assert lister.fetch_one(sid) is GONE
    assert lister.fetch_changes([sid, other])[sid] is NOT_LISTED, "back, and still unsure"
