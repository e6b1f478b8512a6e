"""Testing helpers: :class:`FakeCloud`, a loopback OpenStack, and its scenario model.

:class:`ManualClock` is the engine's :class:`osfutures.ManualClock`, here too for
tests that drive a FakeCloud (and a monitor with it) by hand.

The pytest fixtures (``fake_cloud``, ``fake_conn``) come from
:mod:`osfutures.testing.pytest_plugin`, loaded by pytest through an entry point.

The names below are imported when first used: FakeCloud needs the ``testing`` extra
(cheroot, werkzeug), and importing this package, which pytest does for the plugin in
every run and the command line does for its argument checks, must work without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..clock import ManualClock
    from .fakecloud.cloud import FakeCloud
    from .fakecloud.faults import FaultConfig, FaultKind, Faults
    from .fakecloud.identity.models import Credentials
    from .fakecloud.scenario import NameRule, Outcome, Scenario, Timing

#: Each public name and the module that defines it.
_HOMES = {
    "Credentials": ".fakecloud.identity.models",
    "FakeCloud": ".fakecloud.cloud",
    "FaultConfig": ".fakecloud.faults",
    "FaultKind": ".fakecloud.faults",
    "Faults": ".fakecloud.faults",
    "ManualClock": "..clock",
    "NameRule": ".fakecloud.scenario",
    "Outcome": ".fakecloud.scenario",
    "Scenario": ".fakecloud.scenario",
    "Timing": ".fakecloud.scenario",
}

__all__ = [
    "Credentials",
    "FakeCloud",
    "FaultConfig",
    "FaultKind",
    "Faults",
    "ManualClock",
    "NameRule",
    "Outcome",
    "Scenario",
    "Timing",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
