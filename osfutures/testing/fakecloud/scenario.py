"""The timing and failure model: how long each operation takes and how it ends.

A :class:`Scenario` is a declaration. Services ask it for a :class:`Plan` when an
operation starts and turn that plan into timestamped steps up front, so nothing runs in
the background. Every random draw comes from a generator seeded by the scenario seed and
the resource's own identity, so the same seed and the same calls give the same cloud.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..._checks import require_instance
from . import checks

Duration = float | tuple[float, float]


class Outcome(enum.Enum):
    """How an operation ends.

    ``REVERT`` needs a service that keeps a record of each operation apart from the
    resource: Nova's server actions, whose instance actions say what became of them.
    Anywhere else (a server's build, and every operation of the other services) there is
    nothing to go back to or no record to tell the failure, so a REVERT plan ends as
    ERROR does: the failure stays visible.
    """

    OK = "ok"
    ERROR = "error"
    #: Never ends: the resource stays in its last transitional state forever.
    STUCK = "stuck"
    #: The action fails and the service undoes it: the task ends, the object stays as it
    #: was, and only the action's record says it failed (Nova: task_state back to null,
    #: same status, the instance action's message ``Error``).
    REVERT = "revert"


@dataclass(frozen=True)
class Timing:
    """The behaviour of one kind of operation.

    Attributes:
        duration: seconds the operation takes: a fixed value, or ``(low, high)`` for a
            uniform draw.
        error_rate: the chance (0-1) that it ends in ERROR.
        stuck_rate: the chance (0-1) that it never ends.
        fault_message: the message of the fault an ERROR ending records; the service's
            usual message when omitted.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if a duration is negative (or ``low > high``), a chance is outside
            0-1, or the two chances add up to more than 1.
    """

    duration: Duration = 1.0
    error_rate: float = 0.0
    stuck_rate: float = 0.0
    fault_message: str | None = None

    def __post_init__(self) -> None:
        checks.duration("duration", self.duration)
        checks.PROBABILITY.check("error_rate", self.error_rate)
        checks.PROBABILITY.check("stuck_rate", self.stuck_rate)
        checks.rates_sum(("error_rate", "stuck_rate"), (self.error_rate, self.stuck_rate))
        if self.fault_message is not None:
            require_instance("fault_message", self.fault_message, str, what="a string")


#: Operations a name rule leaves alone unless it names them, so forced failures can
#: always be cleaned up.
UNFORCED_BY_DEFAULT = frozenset({"delete"})


@dataclass(frozen=True)
class NameRule:
    """Force an outcome on resources whose name contains ``marker``.

    Attributes:
        marker: the substring to look for in the resource name.
        outcome: the outcome to force.
        operations: the operations it applies to; empty means every operation except
            deletion.

    Raises:
        TypeError: if an argument has the wrong type (``operations`` a bare string).
    """

    marker: str
    outcome: Outcome
    operations: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        require_instance("marker", self.marker, str, what="a string")
        require_instance("outcome", self.outcome, Outcome, what="an Outcome")
        require_instance("operations", self.operations, (frozenset, set), what="a set of names")

    def applies(self, operation: str, name: str) -> bool:
        """Return whether this rule decides ``operation`` on a resource named ``name``."""
        if self.marker not in name:
            return False
        if self.operations:
            return operation in self.operations
        return operation not in UNFORCED_BY_DEFAULT


@dataclass(frozen=True)
class Plan:
    """What one operation will do: decided when it starts."""

    duration: float
    outcome: Outcome
    fault_message: str | None


#: The server actions Nova undoes when they fail early enough (a stop the driver refuses,
#: a resize no host takes): those the default ``revert-`` rule forces. A build has nothing
#: to go back to, a snapshot's failure also leaves an image behind, and deletion is never
#: forced by default.
REVERTIBLE_SERVER_ACTIONS = frozenset(
    {
        "reboot",
        "hard_reboot",
        "resize",
        "migrate",
        "confirm_resize",
        "revert_resize",
        "rebuild",
        "start",
        "stop",
        "live_migrate",
    }
)

DEFAULT_RULES = (
    NameRule("fail", Outcome.ERROR),
    NameRule("stuck", Outcome.STUCK),
    # With its dash: a bare "revert" would catch names that only speak of Nova's own
    # revert (a server named for the revert_server_resize it is made to test).
    NameRule("revert-", Outcome.REVERT, operations=REVERTIBLE_SERVER_ACTIONS),
)


@dataclass(frozen=True)
class Scenario:
    """Per resource type and operation timings, failure chances and name-based forcing.

    Timings are looked up as ``"kind.operation"`` (``"server.build"``), then ``"kind"``
    (``"server"``), then ``default``.

    Attributes:
        seed: the seed of every random draw.
        default: the timing of operations ``timings`` does not name.
        timings: timings by ``"kind.operation"`` or ``"kind"``.
        rules: name rules, first match wins; by default a name containing ``fail``
            ends in ERROR, one containing ``stuck`` never ends, and a server action
            (:data:`REVERTIBLE_SERVER_ACTIONS`) on a server whose name contains
            ``revert-`` is undone (REVERT).
        progress_steps: how many times ``progress`` moves during an operation that
            reports it (each move also moves ``updated``, as Nova's progress updates do).

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if ``progress_steps`` is negative.
    """

    seed: int = 0
    default: Timing = field(default_factory=Timing)
    timings: Mapping[str, Timing] = field(default_factory=dict)
    rules: tuple[NameRule, ...] = DEFAULT_RULES
    progress_steps: int = 4

    def __post_init__(self) -> None:
        checks.ANY_INTEGER.check("seed", self.seed)
        require_instance("default", self.default, Timing, what="a Timing")
        require_instance("timings", self.timings, Mapping, what="a mapping of Timing")
        for key, timing in self.timings.items():
            require_instance(f"timings[{key!r}]", timing, Timing, what="a Timing")
        require_instance("rules", self.rules, tuple, what="a tuple of NameRule")
        for index, rule in enumerate(self.rules):
            require_instance(f"rules[{index}]", rule, NameRule, what="a NameRule")
        checks.AT_LEAST_ZERO.check("progress_steps", self.progress_steps)

    @classmethod
    def fast(cls, seed: int = 0, duration: Duration = 0.1, **kwargs: Any) -> Scenario:
        """Return a scenario where every operation takes ``duration``: handy in tests.

        Args:
            seed: as for :class:`Scenario`.
            duration: as for :class:`Timing`.
            kwargs: other :class:`Scenario` fields.
        """
        return replace(cls(seed=seed, default=Timing(duration=duration)), **kwargs)

    def timing(self, kind: str, operation: str) -> Timing:
        """Return the timing of ``operation`` on resources of ``kind``."""
        found = self.timings.get(f"{kind}.{operation}") or self.timings.get(kind)
        return found or self.default

    def plan(
        self, kind: str, operation: str, name: str, key: str, *, revertible: bool = False
    ) -> Plan:
        """Decide how an operation goes.

        Args:
            kind: the resource type, e.g. ``"server"``.
            operation: the operation, e.g. ``"build"``.
            name: the resource name, matched against the name rules.
            key: what makes this operation unique (resource id and a counter): the
                seed of its random draws, so plans do not depend on other resources.
            revertible: whether the service can undo this operation and say so in a
                record of its own; if not, a REVERT outcome is planned as ERROR.
        """
        timing = self.timing(kind, operation)
        rng = random.Random(f"{self.seed}/{kind}/{operation}/{key}")
        duration = timing.duration
        seconds = rng.uniform(*duration) if isinstance(duration, tuple) else duration
        draw = rng.random()
        outcome = Outcome.OK
        if draw < timing.error_rate:
            outcome = Outcome.ERROR
        elif draw < timing.error_rate + timing.stuck_rate:
            outcome = Outcome.STUCK
        for rule in self.rules:
            if rule.applies(operation, name):
                outcome = rule.outcome
                break
        if outcome is Outcome.REVERT and not revertible:
            outcome = Outcome.ERROR
        return Plan(duration=max(0.0, seconds), outcome=outcome, fault_message=timing.fault_message)
