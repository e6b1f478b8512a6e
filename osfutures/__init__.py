"""osfutures: OpenStack's long-running operations as concurrent.futures.Future objects.

The engine (this package's top level) watches anything whose state can be fetched:
:class:`Monitor` polls, :class:`OperationFuture` carries the outcome, :func:`retrying`
relaunches with cleanup. It imports nothing of openstacksdk.
"""

from typing import TYPE_CHECKING, Any

from osfutures.clock import Clock, ManualClock, SystemClock
from osfutures.commands import CommandFuture, command
from osfutures.errors import (
    MonitorCrashed,
    MonitorShutdown,
    OperationFailed,
    OperationTimeout,
    OsFuturesError,
    PollingFailed,
    ProbeTimeout,
    ResourceGone,
    RetriesExhausted,
    UnitFailed,
)
from osfutures.future import RECORD_VERSION, Attempt, OperationFuture, ProgressUpdate
from osfutures.monitor import DEFAULT_TIMEOUT, Monitor, default_monitor
from osfutures.policy import PollInterval, is_retryable, is_transient, retry_after
from osfutures.retrying import DEFAULT_RETRY, DEFAULT_WAIT, retrying
from osfutures.units import combine
from osfutures.watch import (
    GONE,
    NOT_LISTED,
    NOT_YET,
    Batch,
    BatchMember,
    Explanation,
    Gone,
    OnGone,
    Reader,
    States,
    Verdict,
)

if TYPE_CHECKING:
    from osfutures.http import StatusCollection, StatusConvention, request_async, request_async_r
    from osfutures.openstack import AsyncConnection, connect, wrap
    from osfutures.openstack.resuming import resume

__version__ = "0.1.0.dev0"

_OPENSTACK = ("AsyncConnection", "connect", "wrap")
_HTTP = ("StatusCollection", "StatusConvention", "request_async", "request_async_r")


def __getattr__(name: str) -> Any:
    # The OpenStack layer imports openstacksdk, which takes a while; the engine alone
    # does not need it, so it is loaded on first use of osfutures.connect / wrap.
    if name in _OPENSTACK:
        from osfutures import openstack

        return getattr(openstack, name)
    if name == "resume":  # a journal's operations, watched again (docs: journal)
        from osfutures.openstack.resuming import resume

        return resume
    if name in _HTTP:  # requests is not the engine's either
        from osfutures import http

        return getattr(http, name)
    raise AttributeError(f"module 'osfutures' has no attribute {name!r}")


__all__ = [  # noqa: RUF022 (sorted, with the OpenStack entry points first)
    "AsyncConnection",
    "connect",
    "wrap",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT",
    "GONE",
    "NOT_LISTED",
    "NOT_YET",
    "RECORD_VERSION",
    "Attempt",
    "Batch",
    "BatchMember",
    "Clock",
    "CommandFuture",
    "Explanation",
    "Gone",
    "ManualClock",
    "Monitor",
    "MonitorCrashed",
    "MonitorShutdown",
    "OnGone",
    "OperationFailed",
    "OperationFuture",
    "OperationTimeout",
    "OsFuturesError",
    "PollInterval",
    "PollingFailed",
    "ProbeTimeout",
    "ProgressUpdate",
    "Reader",
    "ResourceGone",
    "RetriesExhausted",
    "States",
    "StatusCollection",
    "StatusConvention",
    "SystemClock",
    "UnitFailed",
    "Verdict",
    "__version__",
    "combine",
    "command",
    "default_monitor",
    "is_retryable",
    "is_transient",
    "request_async",
    "request_async_r",
    "resume",
    "retry_after",
    "retrying",
]
