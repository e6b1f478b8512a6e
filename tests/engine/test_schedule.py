"""The schedule on its own: no thread, no clock; time is the number each call is given."""

from __future__ import annotations

import math
from typing import Any

import pytest

from osfutures import Batch, OperationTimeout, PollInterval
from osfutures._probes import Fetched, Listed
from osfutures._schedule import URGENT, Group, Schedule
from osfutures.future import OperationFuture

from .conftest import make_watch


def test_a_watch_is_first_polled_one_interval_after_its_start(schedule: Schedule) -> None:
    watch = make_watch(started=10.0, interval=2.0)
    schedule.add(watch)
    assert schedule.next_ready(11.9) is None
    assert schedule.next_wake(polls_allowed=True, not_before=-math.inf) == 12.0
    assert schedule.next_ready(12.0) is watch
    assert schedule.board() == (watch, None)
    assert watch.inflight and schedule.next_ready(12.0) is None, "polled once at a time"


def listing(items: list[Any], **found: Any) -> Listed:
    return Listed(items, found, None)


def test_members_of_a_batch_ride_on_one_request(schedule: Schedule) -> None:
    batch = Batch("servers", lambda items: {})
    members = [make_watch(batch=batch, item=f"vm{i}") for i in range(3)]
    for watch in members:
        schedule.add(watch)
    group = schedule.next_ready(1.0)
    assert isinstance(group, Group)
    assert schedule.board() == (["vm0", "vm1", "vm2"], group)
    assert schedule.next_ready(5.0) is None, "a busy group is not polled again"

    schedule.answered(
        group,
        listing(["vm0", "vm1", "vm2"], **{f"vm{i}": {"status": "BUILD"} for i in range(3)}),
        now=1.5,
    )
    assert all(w.future.status == "BUILD" for w in members)
    assert schedule.next_ready(2.4) is None
    assert schedule.next_ready(2.5) is group, "due again after its cadence, as one request"


def test_a_member_left_out_of_its_listing_is_fetched_on_its_own(schedule: Schedule) -> None:
    batch = Batch("servers", lambda items: {})
    listed, missing = make_watch(batch=batch, item="a"), make_watch(batch=batch, item="b")
    schedule.add(listed)
    schedule.add(missing)
    group = schedule.next_ready(1.0)
    assert isinstance(group, Group)
    schedule.board()
    schedule.answered(group, listing(["a", "b"], a={"status": "BUILD"}), now=1.0)
    assert schedule.next_ready(1.0) is missing, "its own fetch, at once"
    assert schedule.board() == (missing, None)
    schedule.answered(missing, Fetched({"status": "BUILD"}, None), now=1.2)
    assert not missing.solo and list(group.items) == ["a", "b"], "back in its batch"


def answer_all(schedule: Schedule, now: float, status: str = "BUILD") -> Group:
    """Let the one due batch be answered for every member it asks for."""
    group = schedule.next_ready(now)
    assert isinstance(group, Group)
    items, _ = schedule.board()
    assert isinstance(items, list)
    schedule.answered(group, Listed(items, {i: {"status": status} for i in items}, None), now)
    return group


def test_a_changes_only_answer_costs_what_changed(schedule: Schedule) -> None:
    batch = Batch("servers", lambda items: {}, changes_only=True)
    members = [make_watch(batch=batch, item=i) for i in range(1000)]
    for watch in members:
        schedule.add(watch)
    group = answer_all(schedule, 1.0)
    assert schedule.next_ready(2.0) is group
    schedule.board()
    schedule.answered(group, Listed(list(range(1000)), {7: {"status": "ACTIVE"}}, None), 2.0)
    assert members[7].future.result(timeout=0) == {"status": "ACTIVE"}
    left_out = [w for w in members if w is not members[7]]
    assert not any(w.solo or w.future.done() for w in left_out), "left out = unchanged"
    assert len(group) == 999


def test_a_changes_only_answer_that_leaves_a_member_out_counts_as_a_look_at_it(
    schedule: Schedule,
) -> None:
    batch = Batch("servers", lambda items: {}, changes_only=True)
    watch = make_watch(batch=batch, item="a", timeout=10.0)
    schedule.add(watch)
    group = answer_all(schedule, 1.0, status="BUILD")
    for now in (3.0, 6.0, 9.0):
        schedule.next_ready(now)
        schedule.board()
        schedule.answered(group, Listed(["a"], {}, None), now)  # unchanged
    schedule.expire(10.0)
    error = watch.future.exception(timeout=0)
    assert isinstance(error, OperationTimeout) and error.status == "BUILD"
    assert error.last_seen == pytest.approx(1.0), "looked at 9 s, not last at 1 s"


def test_a_changes_only_member_never_answered_is_fetched_if_left_out(
    schedule: Schedule,
) -> None:
    batch = Batch("servers", lambda items: {}, changes_only=True)
    seen = make_watch(batch=batch, item="a")
    schedule.add(seen)
    answer_all(schedule, 1.0)
    # Its initial object (a create call's result) is not what the listing knows.
    fresh = make_watch(started=1.0, batch=batch, item="b")
    fresh.seen_at = 1.0
    schedule.add(fresh)
    group = schedule.next_ready(2.0)
    assert isinstance(group, Group)
    schedule.board()
    late = make_watch(started=2.0, batch=batch, item="c")
    schedule.add(late)  # joins while the listing is on its way: not asked yet
    schedule.answered(group, Listed(["a", "b"], {}, None), now=2.1)
    assert fresh.solo and not seen.solo and not late.solo


def test_a_batch_backs_off_while_nothing_changes(schedule: Schedule) -> None:
    batch = Batch("servers", lambda items: {})
    watch = make_watch(batch=batch, item="a", interval=1.0)
    watch.interval = PollInterval(initial=1.0, factor=2.0, maximum=8.0, jitter=0.0)
    schedule.add(watch)
    now, gaps = 1.0, []
    for _ in range(5):
        group = schedule.next_ready(now)
        assert isinstance(group, Group)
        schedule.board()
        schedule.answered(group, listing(["a"], a={"status": "BUILD"}), now)
        wake = schedule.next_wake(polls_allowed=True, not_before=-math.inf)
        assert wake is not None
        gaps.append(wake - now)
        now = wake
    assert gaps == [1.0, 2.0, 4.0, 8.0, 8.0], "the first answer is a change (None -> BUILD)"


def test_an_operation_near_its_deadline_goes_ahead_of_older_polls(schedule: Schedule) -> None:
    relaxed = make_watch(interval=1.0, timeout=1000.0)
    pressed = make_watch(interval=2.0, timeout=2.0 + URGENT / 2)
    schedule.add(relaxed)
    schedule.add(pressed)
    assert schedule.next_ready(3.0) is pressed
    schedule.board()
    assert schedule.next_ready(3.0) is relaxed


def test_polls_are_served_in_the_order_they_fell_due(schedule: Schedule) -> None:
    watches = [make_watch(started=float(i), timeout=1000.0) for i in range(5)]
    for watch in reversed(watches):
        schedule.add(watch)
    served = []
    while (item := schedule.next_ready(10.0)) is not None:
        served.append(item)
        schedule.board()
    assert served == watches


def test_the_deadline_times_out_an_operation_with_what_it_saw(schedule: Schedule) -> None:
    watch = make_watch(timeout=3.0)
    schedule.add(watch)
    schedule.next_ready(1.0)
    schedule.board()
    schedule.answered(watch, Fetched({"status": "BUILD"}, None), now=1.0)
    schedule.expire(2.9)
    assert not watch.future.done()
    schedule.expire(3.0)
    error = watch.future.exception(timeout=0)
    assert isinstance(error, OperationTimeout) and error.status == "BUILD"
    assert error.last_seen == pytest.approx(2.0) and error.delayed_by is None
    assert not schedule.watches, "forgotten once over"


def test_an_operation_held_back_gets_one_more_look_before_it_times_out(
    schedule: Schedule,
) -> None:
    watch = make_watch(timeout=3.0, interval=1.0)
    schedule.add(watch)
    assert schedule.next_ready(1.0) is watch  # due, but the cap holds it back
    schedule.held_by = "the monitor's cap of 1 probes/s"
    schedule.expire(3.0)
    assert not watch.future.done(), "a stale observation is no verdict"
    assert schedule.next_ready(3.0) is watch, "its look goes first"
    schedule.board()
    schedule.answered(watch, Fetched({"status": "BUILD"}, None), now=3.5)
    error = watch.future.exception(timeout=0)
    assert isinstance(error, OperationTimeout)
    assert error.delayed_by == "the monitor's cap of 1 probes/s"


def test_a_probe_given_up_on_polls_again_with_its_error(schedule: Schedule) -> None:
    watch = make_watch(interval=1.0)
    schedule.add(watch)
    schedule.next_ready(1.0)
    schedule.board()
    error = TimeoutError("probe did not answer")
    schedule.given_up(watch, error, now=61.0)
    assert watch.last_error is error and not watch.inflight
    assert schedule.next_ready(62.0) is watch


def test_timers_fire_in_time_order_and_skip_owners_that_are_done(schedule: Schedule) -> None:
    done = OperationFuture[Any](name="done")
    done.set_result(None)
    pending = OperationFuture[Any](name="pending")
    calls: list[str] = []
    schedule.add_timer(2.0, lambda: calls.append("late"), pending)
    schedule.add_timer(1.0, lambda: calls.append("early"), pending)
    schedule.add_timer(1.0, lambda: calls.append("for nobody"), done)
    assert schedule.due_timers(0.5) == []
    for fn, owner in schedule.due_timers(2.0):
        assert owner is pending
        fn()
    assert calls == ["early", "late"]


def test_lapsed_entries_are_dropped_when_they_outnumber_the_live(schedule: Schedule) -> None:
    watches = [make_watch(timeout=50.0) for _ in range(3000)]
    for watch in watches:
        schedule.add(watch)
    for watch in watches[:-1]:
        watch.future.cancel()
        schedule.forget(watch)
    schedule.compact(now=1.0)
    assert len(schedule._due) == len(schedule._deadlines) == 1
    assert schedule.next_ready(1.0) is watches[-1]


def test_cancel_all_cancels_watches_and_timer_owners(schedule: Schedule) -> None:
    watch = make_watch()
    owner = OperationFuture[Any](name="retry pause")
    schedule.add(watch)
    schedule.add_timer(5.0, lambda: None, owner)
    assert schedule.pending_count() == 1 and not schedule.finished()
    schedule.cancel_all()
    assert watch.future.cancelled() and owner.cancelled()
    assert schedule.finished() and schedule.next_ready(10.0) is None


def test_a_batch_member_held_back_gets_its_last_look_through_its_batch(
    schedule: Schedule,
) -> None:
    batch = Batch("servers", lambda items: {}, changes_only=True)
    pressed = make_watch(batch=batch, item="a", timeout=3.0)
    relaxed = make_watch(batch=batch, item="b", timeout=100.0)
    for watch in (pressed, relaxed):
        schedule.add(watch)
    answer_all(schedule, 1.0)
    assert isinstance(schedule.next_ready(2.0), Group)  # due, but the cap holds it
    schedule.held_by = "the monitor's cap of 1 probes/s"
    schedule.expire(3.0)
    assert not pressed.future.done()
    group = schedule.next_ready(3.0)
    assert isinstance(group, Group), "its look goes through its batch"
    schedule.board()
    schedule.answered(group, Listed(["a", "b"], {}, None), now=3.2)  # unchanged
    error = pressed.future.exception(timeout=0)
    assert isinstance(error, OperationTimeout) and error.delayed_by is not None
    assert not relaxed.future.done()


def test_two_watches_of_one_item_are_both_answered(schedule: Schedule) -> None:
    batch = Batch("servers", lambda items: {}, changes_only=True)
    first, second = make_watch(batch=batch, item="a"), make_watch(batch=batch, item="a")
    schedule.add(first)
    schedule.add(second)
    answer_all(schedule, 1.0, status="ACTIVE")
    assert first.future.done() and second.future.done()
    assert not schedule.watches


def test_the_sweep_drops_members_their_users_cancelled(schedule: Schedule) -> None:
    batch = Batch("servers", lambda items: {}, changes_only=True)
    kept, cancelled = make_watch(batch=batch, item="a"), make_watch(batch=batch, item="b")
    for watch in (kept, cancelled):
        schedule.add(watch)
    schedule.compact(now=0.0)
    cancelled.future.cancel()
    schedule.compact(now=1.0)
    assert len(schedule.watches) == 2, "not every cycle"
    schedule.compact(now=31.0)
    assert list(schedule.watches.values()) == [kept]
