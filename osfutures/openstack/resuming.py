"""What a twin's continuation token holds, and reading one back.

:meth:`osfutures.OperationFuture.token` writes down the state a twin leaves here
(:func:`state`); :meth:`~osfutures.openstack.AsyncConnection.resume` reads it back
(:func:`parse`) to watch the operation again, in any process: the spec row (service
and call), the object's id, the target states (which may depend on the call's
arguments), the deadline as wall-clock time, whether the call made a new object, the
request ids an inquiry needs (Nova's instance actions), and the cloud, region and
project it belongs to. Ids and states only: never an argument's value.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from osfutures import tokens
from osfutures.openstack.explaining import Sent
from osfutures.openstack.specs import OperationSpec, specs_for
from osfutures.watch import States

__all__ = ["LAST_LOOK", "Resumable", "parse", "state"]

#: The deadline of a resumed operation whose own deadline has passed: the look made
#: when it is resumed decides, else it times out at once.
LAST_LOOK: Final = 0.001


def state(
    conn: Any,
    spec: OperationSpec,
    resource_id: str,
    states: States,
    *,
    name: str,
    deadline: float,
    sent: Sequence[Sent],
    leaves_behind: bool,
) -> dict[str, Any]:
    """What a token of this operation holds (``deadline``: seconds from now)."""
    cloud, region, project = context(conn)
    return {
        "cloud": cloud,
        "region": region,
        "project": project,
        "service": spec.service,
        "call": spec.call,
        "resource_id": resource_id,
        "name": name,
        "target": sorted(states.target),
        "deadline": time.time() + deadline if math.isfinite(deadline) else None,
        "leaves_behind": leaves_behind,
        "requests": [[s.method, s.path, s.request_id] for s in sent if s.method != "GET"],
    }


def context(conn: Any) -> tuple[str | None, str | None, str | None]:
    """The cloud's name, the region and the project of a connection (no request: the
    project is the one its token was scoped to, known once it authenticated)."""
    config = getattr(conn, "config", None)
    cloud = getattr(config, "name", None)
    region = getattr(config, "region_name", None)
    try:
        project = conn.session.get_project_id() if conn.session.auth else None
    except Exception:  # not authenticated yet, or an auth plugin without a project
        project = None
    return cloud, region, project


@dataclass(frozen=True)
class Resumable:
    """An operation read back from a token.

    Attributes:
        state: what the token holds.
        spec: the spec row of its call.
        resource_id: the watched object's id.
        states: the states that end it.
        sent: the requests its call made (for an inquiry).
    """

    state: dict[str, Any]
    spec: OperationSpec
    resource_id: str
    states: States
    sent: tuple[Sent, ...]

    @property
    def name(self) -> str:
        return str(self.state.get("name") or f"{self.spec.call} {self.resource_id}")

    @property
    def leaves_behind(self) -> bool:
        return bool(self.state.get("leaves_behind"))

    def time_left(self) -> float:
        """Seconds until the operation's deadline (``inf`` for none; negative when
        it passed)."""
        deadline = self.state.get("deadline")
        return math.inf if deadline is None else float(deadline) - time.time()


def parse(token: str, conn: Any) -> Resumable:
    """Read a token for a connection.

    Raises:
        TypeError, ValueError: not a token, a damaged one, one of a call osfutures
            does not know, or one of another cloud, region or project than
            ``conn``'s (the message says which).
    """
    found = tokens.decode(token)
    try:
        spec = specs_for(str(found["service"]))[str(found["call"])]
        resource_id = str(found["resource_id"])
        states = States.of(
            found["target"], spec.pending, spec.failure, allow_no_target=spec.deletes
        )
        sent = tuple(Sent(m, p, 0, r) for m, p, r in found.get("requests") or ())
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"token: not one osfutures can resume ({error!r})") from None
    mine = dict(zip(("cloud", "region", "project"), context(conn), strict=True))
    for key, value in mine.items():
        theirs = found.get(key)
        if theirs is not None and value is not None and theirs != value:
            raise ValueError(
                f"token: its operation is in {key} {theirs!r}; this connection's is {value!r}"
            )
    return Resumable(found, spec, resource_id, states, sent)
