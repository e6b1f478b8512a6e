"""FakeCloud: a loopback OpenStack that unmodified openstacksdk talks to over HTTP."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..._checks import require_clock, require_instance
from ...clock import Clock, SystemClock
from . import checks
from .accounting import Accounting
from .clock import ScenarioClock
from .control import PREFIX as CONTROL_PREFIX
from .control import ControlResponses
from .faults import FaultConfig, Faults
from .identity.models import Credentials, IdentityBackend
from .registry import SERVICES
from .scenario import Scenario
from .server import FakeApp, HttpServer
from .service import CloudContext, ServiceFrontend, ServiceSpec

if TYPE_CHECKING:
    from openstack.connection import Connection

REGION = "RegionOne"


class FakeCloud:
    """A fake OpenStack cloud on loopback, over real HTTP.

    It serves keystone, nova, glance, cinder, heat, octavia and manila (the registry's
    services) unless ``services`` says otherwise.

    Resources move through their states as the scenario clock moves; states are
    computed when read, so thousands of servers in flight cost no threads.

    Args:
        seed: seeds ids, scenario draws and fault draws: same seed, same calls, same
            cloud.
        scenario: operation timings and failure model; ``Scenario(seed=seed)`` when
            omitted (every operation takes 1 s).
        clock: where time comes from, any :class:`osfutures.Clock`: real time
            (:class:`~osfutures.SystemClock`) when omitted, or a
            :class:`~osfutures.ManualClock` that a test advances (and may share with a
            :class:`~osfutures.Monitor`). Scenario time 0 is the clock's time when the
            cloud is made.
        host: the address to listen on.
        port: the port, 0-65535; 0 picks a free one.
        token_ttl: seconds a keystone token is valid (scenario time). Under 120 s,
            keystoneauth (and so openstacksdk) fetches a new token before every request,
            since it takes a token with less than 120 s left for expired: a
            :class:`UserWarning` says so.
        users: the accounts; one ``admin``/``password`` user in project ``admin``
            when omitted. The first is the one :meth:`connect` uses.
        faults: standing fault rates; none when omitted.
        threads: HTTP worker threads, at least 1.
        services: the services to run; the registry's when omitted.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if ``users`` is empty, ``port`` is outside 0-65535,
            ``token_ttl`` is not a positive number of seconds or ``threads`` is under 1.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        scenario: Scenario | None = None,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl: float = 3600.0,
        users: Sequence[Credentials] | None = None,
        faults: FaultConfig | None = None,
        threads: int = 32,
        services: Sequence[ServiceSpec] = SERVICES,
    ) -> None:
        users = _check_arguments(
            seed, scenario, clock, host, port, token_ttl, users, faults, threads, services
        )
        self.credentials = users[0]
        scenario_clock = ScenarioClock(SystemClock() if clock is None else clock)
        self.context = CloudContext(
            clock=scenario_clock,
            scenario=scenario or Scenario(seed=seed),
            accounting=Accounting(scenario_clock),
            services=services,
            seed=seed,
        )
        self.identity = IdentityBackend(self.context, users, token_ttl)
        self.context.backends["identity"] = self.identity
        self.faults = Faults(seed, faults, expire_tokens=self._expire_all_tokens)
        frontends: list[tuple[str, ServiceFrontend]] = [
            (spec.prefix, spec.build(self.context)) for spec in services
        ]
        frontends.append((CONTROL_PREFIX, ControlResponses(self)))
        self._app = FakeApp(self.context, frontends, self.faults, CONTROL_PREFIX)
        self._http = HttpServer(self._app, host, port, threads)
        self._started = False

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> FakeCloud:
        """Start serving; return self.

        Raises:
            OSError: if the address cannot be bound.
            RuntimeError: if already started.
        """
        if self._started:
            raise RuntimeError("this FakeCloud is already running")
        self._http.start()
        self._started = True
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._started:
            self._http.stop()
            self._started = False

    def __enter__(self) -> FakeCloud:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses and clients -------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running cloud."""
        return f"http://{self._http.host}:{self._http.port}"

    @property
    def auth_url(self) -> str:
        """The keystone URL to authenticate against."""
        return f"{self.base_url}/identity"

    def auth_args(self) -> dict[str, str]:
        """Return the keyword arguments of ``openstack.connect`` for the first user."""
        creds = self.credentials
        return {
            "auth_url": self.auth_url,
            "username": creds.username,
            "password": creds.password,
            "project_name": creds.project_name,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
            "region_name": REGION,
        }

    def connect(self, **overrides: Any) -> Connection:
        """Return an ``openstack.connection.Connection`` to this cloud, and to no
        other: neither ``OS_CLOUD`` nor the user's clouds.yaml is read
        (``openstack.connect`` would take a lone clouds.yaml entry, or the cloud
        ``OS_CLOUD`` names, over these arguments: a test would then talk to a real
        cloud).

        Args:
            overrides: connection arguments over the defaults of :meth:`auth_args`.
        """
        from openstack.connection import Connection as Direct

        connection: Connection = Direct(**{**self.auth_args(), **overrides})
        return connection

    def write_clouds_yaml(self, path: str | os.PathLike[str], cloud_name: str = "fake") -> Path:
        """Write a clouds.yaml with one entry for this cloud; return its path.

        Point ``OS_CLIENT_CONFIG_FILE`` at it, then ``openstack.connect(cloud=cloud_name)``.
        The file holds the password, so it is made readable by its owner only.
        """
        args = self.auth_args()
        region = args.pop("region_name")
        # JSON strings are valid YAML scalars, so no YAML library is needed.
        lines = ["clouds:", f"  {json.dumps(cloud_name)}:", "    auth:"]
        lines += [f"      {key}: {json.dumps(value)}" for key, value in args.items()]
        lines += [
            f"    region_name: {json.dumps(region)}",
            "    identity_api_version: 3",
            "    interface: public",
        ]
        target = Path(path)
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        target.chmod(0o600)
        return target

    # -- scenario, clock, introspection ----------------------------------------------

    @property
    def clock(self) -> ScenarioClock:
        """The scenario clock: :meth:`~ScenarioClock.now` is scenario time,
        :meth:`~ScenarioClock.wall` a scenario time's wall time; its ``source`` is the
        clock given."""
        return self.context.clock

    @property
    def scenario(self) -> Scenario:
        """The timing model; setting it affects operations started afterwards."""
        return self.context.scenario

    @scenario.setter
    def scenario(self, value: Scenario) -> None:
        with self.context.lock:
            self.context.scenario = value

    def advance(self, seconds: float) -> float:
        """Advance a manual clock; return the new scenario time.

        Raises:
            TypeError: if the clock is not a :class:`~osfutures.ManualClock`.
            ValueError: if ``seconds`` is negative or not finite.
        """
        return self.context.clock.advance(seconds)

    def backend(self, name: str) -> Any:
        """Return a service's backend (``"compute"``, ``"image"``, ``"identity"``,
        ``"block-storage"``, ``"orchestration"``, ``"load-balancer"``,
        ``"shared-file-system"``).

        Raises:
            KeyError: if no such service runs.
        """
        return self.context.backends[name]

    def stats(self) -> dict[str, Any]:
        """Return request counts and state transitions as plain dicts.

        See :meth:`Accounting.snapshot` for the keys; transitions are complete up to
        the current scenario time.
        """
        with self.context.lock:
            now = self.context.clock.now()
            for store in self.context.stores:
                store.settle_all(now)
            snapshot = self.context.accounting.snapshot()
        snapshot["now"] = now
        return snapshot

    def reset_stats(self, transitions: bool = False) -> None:
        """Zero the request counters (and the transition history if asked)."""
        self.context.accounting.reset(transitions)

    def _expire_all_tokens(self) -> None:
        with self.context.lock:
            self.identity.expire()


def _check_arguments(
    seed: object,
    scenario: object,
    clock: object,
    host: object,
    port: object,
    token_ttl: object,
    users: Sequence[Credentials] | None,
    faults: object,
    threads: object,
    services: Sequence[ServiceSpec],
) -> tuple[Credentials, ...]:
    """Check FakeCloud's arguments (type before range); return the users as a tuple."""
    checks.ANY_INTEGER.check("seed", seed)
    if scenario is not None:
        require_instance("scenario", scenario, Scenario, what="a Scenario")
    if clock is not None:
        require_clock("clock", clock)
    require_instance("host", host, str, what="an address")
    checks.PORT.check("port", port)
    ttl = checks.POSITIVE_SECONDS.check("token_ttl", token_ttl)
    if ttl < checks.KEYSTONEAUTH_MIN_TOKEN_LIFE:
        warnings.warn(
            f"token_ttl={ttl:g}: keystoneauth takes a token with less than "
            f"{checks.KEYSTONEAUTH_MIN_TOKEN_LIFE} s left for expired, so clients will "
            "re-authenticate before every request",
            stacklevel=3,
        )
    accounts = (Credentials(),) if users is None else tuple(users)
    if not accounts:
        raise ValueError("users: need at least one user, got none")
    for index, creds in enumerate(accounts):
        require_instance(f"users[{index}]", creds, Credentials, what="a Credentials")
    if faults is not None:
        require_instance("faults", faults, FaultConfig, what="a FaultConfig")
    checks.AT_LEAST_ONE.check("threads", threads)
    for index, spec in enumerate(services):
        require_instance(f"services[{index}]", spec, ServiceSpec, what="a ServiceSpec")
    return accounts
