"""The scenario model: deterministic seeds, lazy state on the clock, forcing, stuck."""

from __future__ import annotations

import pytest

from osfutures.testing import (
    FakeCloud,
    ManualClock,
    NameRule,
    Outcome,
    Scenario,
    Timing,
)

from .conftest import Raw, boot


def _server(raw: Raw, server_id: str) -> dict[str, object]:
    response = raw("GET", f"/compute/v2.1/servers/{server_id}", "2.100")
    body: dict[str, object] = response.json()["server"]
    return body


def test_timing_lookup_prefers_operation_then_kind_then_default() -> None:
    scenario = Scenario(
        default=Timing(1),
        timings={"server.build": Timing(2), "server": Timing(3)},
    )
    assert scenario.timing("server", "build").duration == 2
    assert scenario.timing("server", "reboot").duration == 3
    assert scenario.timing("image", "upload").duration == 1


def test_plans_depend_only_on_seed_and_resource() -> None:
    scenario = Scenario(seed=9, default=Timing((1.0, 2.0), error_rate=0.5))
    plans = [scenario.plan("server", "build", "vm", f"id-{i}") for i in range(50)]
    assert plans == [scenario.plan("server", "build", "vm", f"id-{i}") for i in range(50)]
    assert all(1.0 <= p.duration <= 2.0 for p in plans)
    assert {p.outcome for p in plans} == {Outcome.OK, Outcome.ERROR}


def test_name_rules_force_outcomes_but_not_deletion() -> None:
    scenario = Scenario(rules=(NameRule("boom", Outcome.ERROR),))
    assert scenario.plan("server", "build", "a-boom", "k").outcome is Outcome.ERROR
    assert scenario.plan("server", "delete", "a-boom", "k").outcome is Outcome.OK
    assert scenario.plan("server", "build", "fine", "k").outcome is Outcome.OK


def test_same_seed_gives_same_ids_and_outcomes() -> None:
    def run(seed: int) -> list[tuple[str, object]]:
        scenario = Scenario(seed=seed, default=Timing((0.1, 0.5), error_rate=0.4))
        with FakeCloud(seed, scenario=scenario, clock=ManualClock(wall_start=0.0)) as cloud:
            raw = Raw(cloud)
            ids = [boot(raw, f"vm{i}")["id"] for i in range(12)]
            cloud.advance(1)
            return [(i, _server(raw, i)["status"]) for i in ids]

    first = run(4)
    assert first == run(4)
    assert {status for _, status in first} == {"ACTIVE", "ERROR"}
    assert first != run(5)


@pytest.mark.fake_cloud(clock=ManualClock, scenario=Scenario(default=Timing(1.0)))
def test_state_is_computed_from_the_clock_on_read(fake_cloud: FakeCloud, raw: Raw) -> None:
    server_id = boot(raw)["id"]
    assert _server(raw, server_id)["status"] == "BUILD"
    fake_cloud.advance(0.18)
    assert _server(raw, server_id)["OS-EXT-STS:task_state"] is None
    fake_cloud.advance(0.32)
    halfway = _server(raw, server_id)
    assert halfway["OS-EXT-STS:task_state"] == "spawning"
    assert halfway["progress"] == 0
    fake_cloud.advance(0.5)
    done = _server(raw, server_id)
    assert done["status"] == "ACTIVE"
    assert done["updated"] == fake_cloud.clock.wall(1.0).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.fake_cloud(clock=ManualClock, scenario=Scenario(default=Timing(1.0)))
def test_stuck_server_never_finishes(fake_cloud: FakeCloud, raw: Raw) -> None:
    server_id = boot(raw, "stuck-1")["id"]
    fake_cloud.advance(3000)  # within the token's hour
    body = _server(raw, server_id)
    assert (body["status"], body["OS-EXT-STS:task_state"]) == ("BUILD", "spawning")
    assert body["progress"] == 0


@pytest.mark.fake_cloud(
    clock=ManualClock,
    scenario=Scenario(default=Timing(1.0, error_rate=1.0, fault_message="disk on fire")),
)
def test_error_rate_and_custom_fault_message(fake_cloud: FakeCloud, raw: Raw) -> None:
    server_id = boot(raw)["id"]
    fake_cloud.advance(1)
    body = _server(raw, server_id)
    assert body["status"] == "ERROR"
    assert body["fault"] == {
        "code": 500,
        "created": fake_cloud.clock.wall(1.0).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": "disk on fire",
        # Nova's fault keeps the failure's traceback, shown to admins.
        "details": "Traceback (most recent call last):\nException: disk on fire\n",
    }


@pytest.mark.fake_cloud(clock=ManualClock)
def test_scenario_can_be_replaced_at_runtime(fake_cloud: FakeCloud, raw: Raw) -> None:
    fake_cloud.scenario = Scenario(default=Timing(5.0))
    server_id = boot(raw)["id"]
    fake_cloud.advance(4.9)
    assert _server(raw, server_id)["status"] == "BUILD"
    fake_cloud.advance(0.1)
    assert _server(raw, server_id)["status"] == "ACTIVE"


def test_manual_clock_refuses_to_go_back() -> None:
    clock = ManualClock()
    with pytest.raises(ValueError):
        clock.advance(-1)
    with FakeCloud() as cloud, pytest.raises(TypeError):
        cloud.advance(1)
