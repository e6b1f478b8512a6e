"""Testing helpers: :class:`FakeCloud`, a loopback OpenStack, and its scenario model.

The pytest fixtures (``fake_cloud``, ``fake_conn``) come from
:mod:`osfutures.testing.pytest_plugin`, loaded by pytest through an entry point.
"""

from .fakecloud.clock import Clock, ManualClock, MonotonicClock
from .fakecloud.cloud import FakeCloud
from .fakecloud.faults import FaultConfig, FaultKind, Faults
from .fakecloud.identity.models import Credentials
from .fakecloud.scenario import NameRule, Outcome, Scenario, Timing

__all__ = [
    "Clock",
    "Credentials",
    "FakeCloud",
    "FaultConfig",
    "FaultKind",
    "Faults",
    "ManualClock",
    "MonotonicClock",
    "NameRule",
    "Outcome",
    "Scenario",
    "Timing",
]
