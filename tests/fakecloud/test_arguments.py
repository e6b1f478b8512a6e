"""Bad arguments are refused where they are given, naming the argument as written.

The type is checked before the range, and nothing is left to fail later on a server
thread: a refused fault setting leaves the cloud serving as before.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest

from osfutures.testing import FakeCloud, FaultConfig, NameRule, Outcome, Scenario, Timing

from .conftest import Raw


def _inject(**kwargs: Any) -> None:
    FakeCloud().faults.inject(**kwargs)


def _set(**kwargs: Any) -> None:
    FakeCloud().faults.set(**kwargs)


PROBABILITY = "need a probability 0 <= p <= 1"
#: What to call, with which arguments, and the error it must raise at once.
BAD: list[tuple[Callable[..., Any], dict[str, Any], type[Exception], str]] = [
    (Timing, {"error_rate": 2}, ValueError, f"error_rate: {PROBABILITY}, got 2"),
    (Timing, {"error_rate": "0.5"}, TypeError, "error_rate: expected a number, got str '0.5'"),
    (Timing, {"error_rate": "2"}, TypeError, "error_rate: expected a number, got str '2'"),
    (Timing, {"stuck_rate": True}, TypeError, "stuck_rate: expected a number, got bool True"),
    (
        Timing,
        {"error_rate": 0.7, "stuck_rate": 0.5},
        ValueError,
        "error_rate + stuck_rate: need a sum <= 1, got 1.2",
    ),
    (Timing, {"duration": -1}, ValueError, "duration: need seconds >= 0, got -1"),
    (Timing, {"duration": float("nan")}, ValueError, "duration: need seconds >= 0, got nan"),
    (Timing, {"duration": (3, 1)}, ValueError, "duration: need low <= high, got (3, 1)"),
    (Timing, {"duration": (1, -2)}, ValueError, "duration[1]: need seconds >= 0, got -2"),
    (
        Timing,
        {"duration": [1, 2]},
        TypeError,
        "duration: expected seconds or a (low, high) tuple of seconds, got list [1, 2]",
    ),
    (Scenario, {"progress_steps": -1}, ValueError, "progress_steps: need an integer >= 0, got -1"),
    (Scenario, {"default": 2.0}, TypeError, "default: expected a Timing, got float 2.0"),
    (
        Scenario,
        {"timings": {"server.build": 5}},
        TypeError,
        "timings['server.build']: expected a Timing, got int 5",
    ),
    (
        NameRule,
        {"marker": "x", "outcome": "error"},
        TypeError,
        "outcome: expected an Outcome, got str 'error'",
    ),
    (
        NameRule,
        {"marker": "x", "outcome": Outcome.ERROR, "operations": "delete"},
        TypeError,
        "operations: expected a set of names, got str 'delete'",
    ),
    (FaultConfig, {"error_rate": 2}, ValueError, f"error_rate: {PROBABILITY}, got 2"),
    (
        FaultConfig,
        {"error_rate": 0.6, "drop_rate": 0.6},
        ValueError,
        "error_rate + unavailable_rate + drop_rate + throttle_rate: need a sum <= 1, got 1.2",
    ),
    (FaultConfig, {"latency": (0.2, 0.1)}, ValueError, "latency: need low <= high, got (0.2, 0.1)"),
    (FaultConfig, {"throttle_burst": 0}, ValueError, "throttle_burst: need an integer >= 1, got 0"),
    (
        FaultConfig,
        {"throttle_burst": 2.5},
        TypeError,
        "throttle_burst: expected an integer, got float 2.5",
    ),
    (FaultConfig, {"retry_after": -1}, ValueError, "retry_after: need seconds >= 0, got -1"),
    (
        FaultConfig,
        {"route": "servers("},
        ValueError,
        "route: need a regular expression, got 'servers(' "
        "(missing ), unterminated subpattern at position 7)",
    ),
    (FaultConfig, {"route": 5}, TypeError, "route: expected a regular expression, got int 5"),
    (FakeCloud, {"host": None}, TypeError, "host: expected an address, got NoneType None"),
    (
        FakeCloud,
        {"port": 70000},
        ValueError,
        "port: need a port 0-65535 (0 picks a free one), got 70000",
    ),
    (FakeCloud, {"port": "8080"}, TypeError, "port: expected an integer, got str '8080'"),
    (FakeCloud, {"token_ttl": -5}, ValueError, "token_ttl: need seconds > 0, got -5"),
    (FakeCloud, {"token_ttl": 0}, ValueError, "token_ttl: need seconds > 0, got 0"),
    (FakeCloud, {"threads": 0}, ValueError, "threads: need an integer >= 1, got 0"),
    (FakeCloud, {"seed": "1"}, TypeError, "seed: expected an integer, got str '1'"),
    (FakeCloud, {"users": []}, ValueError, "users: need at least one user, got none"),
    (FakeCloud, {"scenario": "fast"}, TypeError, "scenario: expected a Scenario, got str 'fast'"),
    (
        FakeCloud,
        {"faults": {"error_rate": 0.1}},
        TypeError,
        "faults: expected a FaultConfig, got dict {'error_rate': 0.1}",
    ),
    (
        _inject,
        {"kind": "boom"},
        ValueError,
        "kind: need one of drop, error, expire_token, overlimit, throttle, unavailable, got 'boom'",
    ),
    (_inject, {"kind": 500}, TypeError, "kind: expected a FaultKind or its value, got int 500"),
    (_inject, {"kind": "error", "count": 0}, ValueError, "count: need an integer >= 1, got 0"),
    (
        _inject,
        {"kind": "error", "retry_after": -1},
        ValueError,
        "retry_after: need seconds >= 0, got -1",
    ),
    (_set, {"unavailable_rate": 1.5}, ValueError, f"unavailable_rate: {PROBABILITY}, got 1.5"),
]


@pytest.mark.parametrize(("call", "kwargs", "error", "message"), BAD)
def test_a_bad_argument_is_refused_at_once_naming_it(
    call: Callable[..., Any], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        call(**kwargs)
    assert str(caught.value) == message


def test_good_arguments_pass() -> None:
    Timing(duration=(0, 0), error_rate=0.5, stuck_rate=0.5)
    Scenario(timings={"server": Timing(2)}, rules=(NameRule("x", Outcome.STUCK, {"build"}),))
    FaultConfig(latency=(0.1, 0.2), error_rate=0.25, drop_rate=0.75, route="servers$")
    FakeCloud(port=65535, token_ttl=120, threads=1)


def test_a_refused_fault_setting_over_http_leaves_the_cloud_as_it_was(raw: Raw) -> None:
    response = raw.session.post(
        raw.cloud.base_url + "/_fake/faults", json={"set": {"error_rate": 2}}
    )
    assert response.status_code == 400
    assert "error_rate: need a probability" in response.json()["error"]["message"]
    assert raw.cloud.faults.config == FaultConfig()
    assert raw("GET", "/compute/v2.1/flavors").status_code == 200


def test_a_token_ttl_under_keystoneauths_margin_warns() -> None:
    with pytest.warns(UserWarning, match="keystoneauth takes a token with less than 120 s"):
        FakeCloud(token_ttl=119)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FakeCloud(token_ttl=120)


@pytest.mark.parametrize("ttl", [60.0, 3600.0])
def test_under_120_s_of_token_life_openstacksdk_reauthenticates_every_request(
    ttl: float,
) -> None:
    """What the warning says, with the real keystoneauth: it fetches a new token before
    each request when the one it holds has under 120 s left."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cloud = FakeCloud(token_ttl=ttl)
    with cloud:
        conn = cloud.connect()
        for _ in range(3):
            list(conn.compute.flavors())
        conn.close()
        requests = cloud.stats()["requests"]
    tokens = requests["POST /identity/v3/auth/tokens"]
    if ttl < 120:
        assert tokens > requests["GET /compute/v2.1/flavors/detail"] == 3
    else:
        assert tokens == 1
