"""What one benchmark run is: shared by the harness (parent) and the client (child).

A :class:`RunSpec` travels to the client process as JSON on its command line, so both
sides build the same seeded scenario and the same list of operations.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from osfutures.testing import Scenario
from osfutures.testing.fakecloud.faults import FaultConfig
from osfutures.testing.fakecloud.scenario import Timing

#: The approaches, in report order: (a), (b), (c), (d).
APPROACHES = ("serial", "pool", "osfutures", "threads")
LABELS = {
    "serial": "(a) sdk wait_for_* in turn",
    "pool": "(b) ThreadPoolExecutor(32) of wait_for_*",
    "osfutures": "(c) osfutures twins",
    "threads": "(d) one wait_for_* thread per operation",
}
#: Threads of approach (b)'s pool.
POOL_WORKERS = 32
#: Approach (d), a thread per operation, is the latency reference up to this many.
THREADS_MAX_N = 100


def approaches_for(n: int, scenario: str) -> tuple[str, ...]:
    """The approaches a run of ``n`` operations compares: (d) only for N <= 100, and
    not under faults (its waiters are (b)'s, one per thread)."""
    if n <= THREADS_MAX_N and scenario != "faults":
        return APPROACHES
    return APPROACHES[:3]


#: The status GETs that the faults scenario disturbs: the requests that learn state.
#: Creating and deleting (POST, DELETE) and keystone stay clean, so that every failure
#: counted is a waiter's.
STATUS_ROUTES = r"^GET /(compute/v2\.1/servers|volume/v3/[^/]+/volumes|image/v2/images)"

SEED = 20240611


@dataclass(frozen=True)
class RunSpec:
    """One approach on one scenario.

    Attributes:
        scenario: ``fleet``, ``mixed`` or ``faults``.
        approach: one of :data:`APPROACHES`.
        mix: how many operations of each resource kind (``{"server": 100}``).
        speed: divides every operation duration (1 for real time; ``--quick`` uses 10).
        faults: whether the faults scenario's HTTP faults apply.
        hang_after: seconds a stage may take before what is still pending counts as hung.
        seed: the cloud's and the scenario's seed.
        cloud: None for FakeCloud; else the real cloud's name (``realnova`` or a
            clouds.yaml entry), whose status requests the client counts itself too.
    """

    scenario: str
    approach: str
    mix: dict[str, int] = field(default_factory=dict)
    speed: float = 1.0
    faults: bool = False
    hang_after: float = 300.0
    seed: int = SEED
    cloud: str | None = None

    @property
    def n(self) -> int:
        return sum(self.mix.values())

    @property
    def title(self) -> str:
        kinds = "+".join(f"{count} {kind}s" for kind, count in self.mix.items())
        where = f" on {self.cloud}" if self.cloud else ""
        return f"{self.scenario}{where} N={self.n} ({kinds}) {LABELS[self.approach]}"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)

    def scenario_model(self) -> Scenario:
        """Builds 2-8 s, deletions 1-3 s, volumes and images 2-8 s (divided by speed)."""

        def span(low: float, high: float) -> Timing:
            return Timing(duration=(low / self.speed, high / self.speed))

        return Scenario(
            seed=self.seed,
            default=span(1, 3),
            timings={
                "server.build": span(2, 8),
                "volume.create": span(2, 8),
                "image.upload": span(2, 8),
            },
        )

    def fault_config(self) -> FaultConfig | None:
        """5% 5xx, 1% dropped connections and 429 bursts on status GETs."""
        if not self.faults:
            return None
        return FaultConfig(
            error_rate=0.025,
            unavailable_rate=0.025,
            drop_rate=0.01,
            throttle_rate=0.01,
            throttle_burst=4,
            retry_after=1.0,
            route=STATUS_ROUTES,
        )
