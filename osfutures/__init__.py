"""osfutures: OpenStack's long-running operations as concurrent.futures.Future objects.

The engine (this package's top level) watches anything whose state can be fetched:
:class:`Monitor` polls, :class:`OperationFuture` carries the outcome, :func:`retrying`
relaunches with cleanup. It imports nothing of openstacksdk.
"""

from osfutures.clock import Clock, ManualClock, SystemClock
from osfutures.errors import (
    MonitorCrashed,
    MonitorShutdown,
    OperationFailed,
    OperationTimeout,
    OsFuturesError,
    ResourceGone,
    RetriesExhausted,
)
from osfutures.future import RECORD_VERSION, Attempt, OperationFuture
from osfutures.monitor import DEFAULT_TIMEOUT, Monitor, default_monitor
from osfutures.policy import PollInterval, is_retryable, is_transient, retry_after
from osfutures.retrying import DEFAULT_RETRY, DEFAULT_WAIT, retrying
from osfutures.watch import GONE, Batch

__version__ = "0.1.0.dev0"

__all__ = [
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT",
    "GONE",
    "RECORD_VERSION",
    "Attempt",
    "Batch",
    "Clock",
    "ManualClock",
    "Monitor",
    "MonitorCrashed",
    "MonitorShutdown",
    "OperationFailed",
    "OperationFuture",
    "OperationTimeout",
    "OsFuturesError",
    "PollInterval",
    "ResourceGone",
    "RetriesExhausted",
    "SystemClock",
    "__version__",
    "default_monitor",
    "is_retryable",
    "is_transient",
    "retry_after",
    "retrying",
]
