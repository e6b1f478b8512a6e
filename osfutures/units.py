"""Units of work: several operations seen, waited on and chained as one.

``combine(server, volume)`` is one :class:`~osfutures.OperationFuture` for the
unit: it resolves with the parts' results in order, its ``status`` says where the
unit stands (the Asynchronous Operation Framework's ``InProgress``, ``Completed``,
``Failed``, or a stage the caller sets with
:meth:`~osfutures.OperationFuture.set_state`) and its ``progress`` is the parts'
average. It is also how to wait for several operations before one step::

    attached = combine(server, volume).next(lambda both: attach_async(*both))
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future
from typing import Any, Final

from osfutures.errors import UnitFailed
from osfutures.future import OperationFuture, ProgressUpdate, Unmade, passed_on

__all__ = ["COMPLETED", "FAILED", "IN_PROGRESS", "combine"]

#: The unit's status while a part is still running (unless the caller set a stage).
IN_PROGRESS: Final = "InProgress"
#: The unit's status once every part succeeded.
COMPLETED: Final = "Completed"
#: The unit's status once it failed.
FAILED: Final = "Failed"


def combine(
    *futures: Future[Any],
    name: str = "unit of work",
    fail_fast: bool = False,
    cancel_rest: bool = False,
) -> OperationFuture[list[Any]]:
    """One future for several operations: a unit of work.

    Args:
        futures: the parts, any :class:`concurrent.futures.Future` (the twins',
            :func:`~osfutures.retrying`'s, a chain's, an executor's).
        name: the unit's name, for messages and records.
        fail_fast: fail the unit at its first failed part; by default it waits
            for every part and reports every failure together.
        cancel_rest: with ``fail_fast``: stop watching the other parts when one
            fails (nothing is deleted in the cloud).

    Returns:
        An :class:`~osfutures.OperationFuture` resolved with the list of the parts'
        results, in order, or failed with :class:`~osfutures.UnitFailed` holding
        each failed part's error. Cancelling it cancels the watching of the parts
        still running.

    Raises:
        TypeError: a part is not a future (the message names which), ``name`` is
            not a string, or ``cancel_rest`` is given without ``fail_fast``.
    """
    for index, part in enumerate(futures):
        if not isinstance(part, Future):
            raise TypeError(
                f"combine(futures[{index}]): expected a future, got {type(part).__name__} {part!r}"
            )
    if not isinstance(name, str):
        raise TypeError(f"combine(name): expected a string, got {type(name).__name__} {name!r}")
    if cancel_rest and not fail_fast:
        raise TypeError("combine(cancel_rest): only with fail_fast=True (it acts on a failure)")
    runner = next((p._runner for p in futures if isinstance(p, OperationFuture)), None)
    unit: OperationFuture[list[Any]] = OperationFuture(name=name, runner=runner)
    _Unit(unit, list(futures), fail_fast=fail_fast, cancel_rest=cancel_rest).start()
    return unit


class _Unit:
    """The bookkeeping of one unit: what is left, what failed, the progress."""

    def __init__(
        self,
        unit: OperationFuture[list[Any]],
        parts: Sequence[Future[Any]],
        *,
        fail_fast: bool,
        cancel_rest: bool,
    ) -> None:
        self.unit = unit
        self.parts = parts
        self.fail_fast = fail_fast
        self.cancel_rest = cancel_rest
        self.lock = threading.Lock()
        self.left = len(parts)
        self.errors: dict[int, BaseException] = {}

    def start(self) -> None:
        unit = self.unit
        if not self.parts:
            unit.set_result([])
            return
        unit._observe(IN_PROGRESS, 0)
        for index, part in enumerate(self.parts):
            ended = functools.partial(self._part_done, index)
            if isinstance(part, OperationFuture):
                part._add_internal_callback(ended)
                part.add_progress_callback(self._part_moved)
            else:
                part.add_done_callback(ended)
        unit._add_internal_callback(self._unit_done)

    def _part_done(self, index: int, part: Future[Any]) -> None:
        # On whatever thread ended the part (often the monitor): only cheap work.
        error = CancelledError(f"{part!r} was cancelled") if part.cancelled() else part.exception()
        with self.lock:
            if error is not None:
                self.errors[index] = error
            self.left -= 1
            left, errors = self.left, dict(self.errors)
        unit = self.unit
        if error is not None and self.fail_fast:
            self._fail(errors)
        elif left == 0:
            if errors:
                self._fail(errors)
            else:
                raws = [passed_on(p) for p in self.parts]
                unit._observe(COMPLETED, 100)
                unit._set_result_if_pending(Unmade(raws, _made_all))  # type: ignore[arg-type]
        else:
            self._part_moved(None)

    def _fail(self, errors: dict[int, BaseException]) -> None:
        unit = self.unit
        if unit.done():
            return
        unit._observe(FAILED, self._progress())
        unit._set_exception_if_pending(UnitFailed(unit.name, list(self.parts), errors))
        if self.cancel_rest:
            for part in self.parts:
                part.cancel()

    def _part_moved(self, update: ProgressUpdate | None) -> None:
        unit = self.unit
        if not unit.done():
            unit._observe(unit.status, self._progress())

    def _progress(self) -> float:
        """The parts' average progress: a done part counts 100, a running one its
        numeric progress, else 0."""
        total = 0.0
        for part in self.parts:
            if part.done():
                total += 100
            elif isinstance(part, OperationFuture) and isinstance(part.progress, (int, float)):
                total += min(max(float(part.progress), 0.0), 100.0)
        return round(total / len(self.parts), 1)

    def _unit_done(self, unit: OperationFuture[list[Any]]) -> None:
        if unit.cancelled():  # cancelling the unit stops watching its parts
            for part in self.parts:
                part.cancel()


def _made_all(raws: list[Any]) -> list[Any]:
    return [raw.made() if type(raw) is Unmade else raw for raw in raws]
