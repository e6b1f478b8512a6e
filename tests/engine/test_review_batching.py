"""Batch groups under review: groups that outlive their members, members sent on their
own again and again, a changes_only answer that comes too late, and what a monitor
keeps per endpoint."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from osfutures import (
    NOT_LISTED,
    NOT_YET,
    Batch,
    ManualClock,
    Monitor,
    OperationTimeout,
    PollingFailed,
    PollInterval,
)
from osfutures._probes import Fetched, Listed
from osfutures._schedule import Group, Schedule
from osfutures._watch import Watch
from osfutures.errors import ResourceGone

from .conftest import make_watch

#: Back-off that the review's cases count polls against.
BACKOFF = PollInterval(initial=1.0, factor=2.0, maximum=8.0, jitter=0.0)


def member(batch: Batch, item: Any, *, timeout: float = 1000.0) -> Watch:
    return make_watch(batch=batch, item=item, timeout=timeout, interval=BACKOFF)


def list_group(schedule: Schedule, now: float, found: dict[Any, Any]) -> Group:
    group = schedule.next_ready(now)
    assert isinstance(group, Group), f"the group is due at {now}"
    items, _ = schedule.board()
    assert isinstance(items, list)
    schedule.answered(group, Listed(items, found, None), now)
    return group


def test_a_group_whose_members_all_went_solo_and_ended_is_not_polled_forever(
    schedule: Schedule,
) -> None:
    batch = Batch("servers", lambda items: {})
    watch = member(batch, "a")
    schedule.add(watch)
    list_group(schedule, 1.0, {})  # not listed: its own fetch settles it
    assert watch.solo
    assert schedule.next_ready(1.0) is watch
    schedule.board()
    schedule.answered(watch, Fetched(None, None), now=1.1)  # gone
    assert isinstance(watch.future.exception(timeout=0), ResourceGone)
    assert not schedule.watches
    assert schedule.next_ready(1000.0) is None, "an empty listing, polled forever"
    assert not schedule._groups, "the empty group stays"


def test_a_changes_only_member_its_own_fetch_saw_is_fetched_once_not_every_cycle(
    schedule: Schedule,
) -> None:
    batch = Batch("servers", lambda items: {}, changes_only=True)
    watch = member(batch, "a")
    schedule.add(watch)
    list_group(schedule, 1.0, {})  # never answered yet, left out: its own fetch
    assert schedule.next_ready(1.0) is watch
    schedule.board()
    schedule.answered(watch, Fetched({"status": "BUILD"}, None), now=1.0)
    assert not watch.solo
    now, own_fetches = 1.0, 0
    for _ in range(5):  # nothing changes: every answer leaves it out
        wake = schedule.next_wake(polls_allowed=True, not_before={})
        assert wake is not None
        now = wake
        item = schedule.next_ready(now)
        if item is watch:
            own_fetches += 1
            schedule.board()
            schedule.answered(watch, Fetched({"status": "BUILD"}, None), now)
        else:
            assert isinstance(item, Group)
            items, _ = schedule.board()
            assert isinstance(items, list)
            schedule.answered(item, Listed(items, {}, None), now)
    assert own_fetches == 0, "seen by its own fetch, it is sent on its own again"


def test_a_member_a_changes_only_answer_no_longer_vouches_for_is_fetched_on_its_own(
    schedule: Schedule,
) -> None:
    batch = Batch("servers", lambda items: {}, changes_only=True)
    watch = member(batch, "a")
    schedule.add(watch)
    list_group(schedule, 1.0, {"a": {"status": "BUILD"}})
    assert not watch.solo
    # Leaving it out would mean "unchanged"; NOT_LISTED means "ask it yourself".
    list_group(schedule, 3.0, {"a": NOT_LISTED})
    assert watch.solo and schedule.next_ready(3.0) is watch
    schedule.board()
    schedule.answered(watch, Fetched(None, None), now=3.1)
    assert isinstance(watch.future.exception(timeout=0), ResourceGone)


def test_a_fetch_of_one_that_answers_not_listed_fails_its_operation_clearly(
    schedule: Schedule,
) -> None:
    watch = make_watch(timeout=1000.0, interval=BACKOFF)
    schedule.add(watch)
    assert schedule.next_ready(watch.next_poll) is watch
    schedule.board()
    schedule.answered(watch, Fetched(NOT_LISTED, None), now=watch.next_poll)
    error = watch.future.exception(timeout=0)
    assert isinstance(error, TypeError) and "only a Batch's fetch_many" in str(error)


@pytest.mark.parametrize("changes_only", [True, False])
def test_a_member_answered_not_yet_waits_for_a_later_answer_not_its_own_fetch(
    schedule: Schedule, changes_only: bool
) -> None:
    batch = Batch("servers", lambda items: {}, changes_only=changes_only)
    watch = member(batch, "a")
    schedule.add(watch)
    group = list_group(schedule, 1.0, {"a": NOT_YET})
    assert not watch.solo and watch in group.unseen
    assert not watch.future.done() and watch.polls == 0
    # Once the answer stops saying NOT_YET, the usual rules hold: left out of a
    # changes_only answer while never seen, or of any other, it fetches itself.
    list_group(schedule, 3.0, {})
    assert watch.solo and schedule.next_ready(3.0) is watch


def test_a_fetch_of_one_that_answers_not_yet_fails_its_operation_clearly(
    schedule: Schedule,
) -> None:
    watch = make_watch(timeout=1000.0, interval=BACKOFF)
    schedule.add(watch)
    schedule.next_ready(watch.next_poll)
    schedule.board()
    schedule.answered(watch, Fetched(NOT_YET, None), now=watch.next_poll)
    error = watch.future.exception(timeout=0)
    assert isinstance(error, TypeError) and "NOT_YET" in str(error)


def test_poll_now_not_at_once_restarts_the_back_off_without_polling_now(
    schedule: Schedule,
) -> None:
    batch = Batch("servers", lambda items: {}, changes_only=True)
    watch = member(batch, "a")
    schedule.add(watch)
    group = list_group(schedule, 1.0, {"a": {"status": "BUILD"}})
    for now in (2.0, 4.0, 8.0):  # quiet polls: 1, 2, 4 s apart, then 8
        group = list_group(schedule, now, {})
    assert group.quiet == 3 and group.due == 16.0
    schedule.poll_now("servers", 9.0, at_once=False)
    assert schedule.next_ready(9.5) is None, "polled at once"
    assert group.due == 10.0 and group.quiet == 0
    # Stirred while its request is in flight: that answer does not count as quiet.
    schedule.next_ready(10.0)
    items, _ = schedule.board()
    schedule.poll_now("servers", 10.1, at_once=False)
    schedule.answered(group, Listed(items, {}, None), 10.2)
    assert group.quiet == 0 and group.due == 11.2


class ChangesLister:
    """A changes_only ``fetch_many`` as the servers lister works: what moved since an
    answer last carried it, forgotten once answered. One call can be held after it
    has made its answer (a slow last page)."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}
        self.moved: set[str] = set()
        self.lock = threading.Lock()
        self.hold = threading.Event()
        self.held = threading.Event()
        self.hold.set()
        self.calls = 0

    def set(self, item: str, status: str) -> None:
        with self.lock:
            self.rows[item] = status
            self.moved.add(item)

    def fetch_many(self, items: Sequence[Any]) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            found = {i: {"status": self.rows[i]} for i in items if i in self.moved}
            self.moved.difference_update(found)
        if not self.hold.is_set():
            self.held.set()
            self.hold.wait(10)
        return found


def settle(clock: ManualClock, monitor: Monitor, seconds: float, *, idle: bool = True) -> None:
    clock.advance(seconds)
    settled = monitor.wait_idle(timeout=1.0)
    assert settled or not idle, "monitor did not settle"


def test_a_changes_only_answer_that_comes_after_its_give_up_is_not_lost(
    clock: ManualClock,
) -> None:
    lister = ChangesLister()
    lister.set("a", "BUILD")
    monitor = Monitor(clock=clock, default_interval=1.0, probe_timeout=4.0, seed=1)
    batch = Batch("servers", lister.fetch_many, changes_only=True)
    try:
        future = monitor.watch_states(
            lambda: {"status": lister.rows["a"]},
            target={"ACTIVE"},
            batch=batch.member("a"),
            timeout=60,
            interval=PollInterval(initial=1.0, factor=1.0, jitter=0.0),
        )
        settle(clock, monitor, 1.0)
        assert future.status == "BUILD"
        lister.hold.clear()
        lister.set("a", "ACTIVE")  # this listing carries it, and is slow
        clock.advance(1.0)
        assert lister.held.wait(5)
        for _ in range(6):  # past probe_timeout: given up on
            settle(clock, monitor, 1.0, idle=False)
        lister.hold.set()  # its answer comes after all
        time.sleep(0.05)
        for _ in range(10):
            settle(clock, monitor, 1.0)
        assert future.done(), "the only answer that said ACTIVE was dropped"
        assert future.result(timeout=0) == {"status": "ACTIVE"}
    finally:
        lister.hold.set()
        monitor.shutdown(cancel_futures=True)


class Broken(Mapping[Any, Any]):
    """A mapping whose every read raises (a user's lazy view of a response)."""

    def __getitem__(self, key: Any) -> Any:
        raise RuntimeError("lazy page failed")

    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("lazy page failed")

    def __len__(self) -> int:
        return 1


def test_a_mapping_that_fails_to_read_fails_its_listing_not_the_monitor(
    clock: ManualClock, monitor: Monitor
) -> None:
    batch = Batch("servers", lambda items: Broken())
    member = monitor.watch_states(
        lambda: {"status": "BUILD"}, target={"ACTIVE"}, batch=batch.member("a"), timeout=30
    )
    bystander = monitor.watch_states(lambda: {"status": "BUILD"}, target={"ACTIVE"}, timeout=30)
    for _ in range(5):
        settle(clock, monitor, 1.0, idle=False)
    assert monitor.is_alive(), "the monitor crashed on a user's mapping"
    assert not bystander.done()
    assert not member.done() or isinstance(member.exception(timeout=0), PollingFailed)


def test_a_monitor_keeps_nothing_per_endpoint_once_its_operations_are_over(
    clock: ManualClock,
) -> None:
    monitor = Monitor(clock=clock, default_interval=1.0, max_probes_per_second=10.0, seed=1)
    try:
        futures = [
            monitor.watch_states(
                lambda: {"status": "ACTIVE"},
                target={"ACTIVE"},
                endpoint=f"https://cloud-{i}.example/",
                timeout=30,
            )
            for i in range(200)
        ]
        settle(clock, monitor, 1.0)
        assert all(f.done() for f in futures)
        for _ in range(3):
            settle(clock, monitor, 60.0)
        assert len(monitor._limiters) < 10, "a rate limiter per endpoint ever named"
        assert len(monitor._throttled_until) < 10
    finally:
        monitor.shutdown(cancel_futures=True)


def test_operations_and_deadlines_still_agree(schedule: Schedule) -> None:
    # The final look of a member still works once groups are dropped when empty.
    batch = Batch("servers", lambda items: {})
    watch = member(batch, "a", timeout=3.0)
    schedule.add(watch)
    list_group(schedule, 1.0, {"a": {"status": "BUILD"}})
    schedule.held_by = "the monitor's cap of 1 probes/s"
    assert isinstance(schedule.next_ready(2.0), Group)
    schedule.expire(3.0)
    assert not watch.future.done()
    list_group(schedule, 3.0, {})  # left out at its final look: its own fetch
    assert watch.solo and schedule.next_ready(3.0) is watch
    schedule.board()
    schedule.answered(watch, Fetched({"status": "BUILD"}, None), now=3.5)
    assert isinstance(watch.future.exception(timeout=0), OperationTimeout)
    assert not schedule._groups and not schedule.watches


def test_poll_now_polls_a_batch_before_its_next_poll(clock: ManualClock) -> None:
    lister = ChangesLister()
    lister.set("a", "BUILD")
    monitor = Monitor(clock=clock, default_interval=1.0, seed=1)
    batch = Batch("servers", lister.fetch_many, changes_only=True)
    try:
        future = monitor.watch_states(
            lambda: {"status": lister.rows["a"]},
            target={"ACTIVE"},
            batch=batch.member("a"),
            timeout=600,
            interval=PollInterval(initial=100.0, factor=1.0, maximum=100.0, jitter=0.0),
        )
        settle(clock, monitor, 100.0)
        assert future.status == "BUILD" and lister.calls == 1
        lister.set("a", "ACTIVE")  # a notification says so; the next poll is 100 s away
        monitor.poll_now("servers")
        assert monitor.wait_idle(timeout=5)
        assert lister.calls == 2 and future.result(timeout=0) == {"status": "ACTIVE"}
        monitor.poll_now("no such batch")  # nothing watched there: nothing happens
        assert monitor.wait_idle(timeout=5) and lister.calls == 2
        with pytest.raises(TypeError, match=r"^key"):
            monitor.poll_now(["not", "hashable"])
    finally:
        monitor.shutdown(cancel_futures=True)
