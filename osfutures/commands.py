"""Async commands: acknowledged at once, their outcome reported later by a callback.

Some work is not polled: a command is sent, the other side acknowledges it at
once, and its outcome arrives later as a message (a notification, a webhook, an
``AsyncCommandResult``). :func:`command` gives such a command a future like any
other operation's: ``sync_res`` is the acknowledgement, ``done()`` and ``status``
answer "result yet?" without blocking, the code that receives the outcome calls
:meth:`CommandFuture.notify_success` or :meth:`CommandFuture.notify_failure` from
any thread, and a deadline still holds when no outcome ever arrives.
"""

from __future__ import annotations

import math
from typing import Any, Final, TypeVar

from osfutures._checks import check_timeout, require_instance
from osfutures.errors import OperationTimeout
from osfutures.future import OperationFuture
from osfutures.monitor import Monitor, default_monitor

__all__ = ["ACKNOWLEDGED", "CommandFuture", "command"]

T = TypeVar("T")

#: A command's status from its acknowledgement until its outcome arrives.
ACKNOWLEDGED: Final = "Acknowledged"


class CommandFuture(OperationFuture[T]):
    """The future of an async command (see :func:`command`)."""

    def notify_success(self, result: T = None) -> bool:  # type: ignore[assignment]
        """The command succeeded: resolve the future with ``result``.

        Safe from any thread. Returns False (and changes nothing) if the future was
        already done: cancelled, timed out or notified before.
        """
        if not self._set_result_if_pending(result):
            return False
        self._observe("Succeeded", self.progress)
        return True

    def notify_failure(self, error: BaseException) -> bool:
        """The command failed: fail the future with ``error``.

        Safe from any thread. Returns False if the future was already done.

        Raises:
            TypeError: ``error`` is not an exception.
        """
        require_instance("notify_failure(error)", error, BaseException)
        if not self._set_exception_if_pending(error):
            return False
        self._observe("Failed", self.progress)
        return True


def command(
    ack: Any = None,
    *,
    name: str = "command",
    timeout: float | None = None,
    resource_id: str | None = None,
    monitor: Monitor | None = None,
) -> CommandFuture[Any]:
    """The future of a command that was acknowledged and whose outcome comes later.

    Send the command first; pass what acknowledged it. Hand the returned future (or
    its :meth:`~CommandFuture.notify_success` / :meth:`~CommandFuture.notify_failure`)
    to the code that receives the outcome::

        ack = send(cmd)                                     # returns at once
        future = osfutures.command(ack, name=f"resize {vm}", timeout=600)
        results[cmd.id] = future                            # the listener's lookup
        ...
        results[msg.command_id].notify_success(msg.body)    # on the listener's thread

    Args:
        ack: the acknowledgement (the future's ``sync_res``).
        name: what the command is, for messages and records.
        timeout: seconds until the future fails with
            :class:`~osfutures.OperationTimeout` if no outcome arrived; ``None`` for
            the monitor's ``default_timeout``; ``math.inf`` for none.
        resource_id: the id of the object the command acts on, if any.
        monitor: the monitor whose clock and timer keep the deadline (default: the
            process-wide one).

    Returns:
        A :class:`CommandFuture`, status ``"Acknowledged"`` until the outcome.

    Raises:
        TypeError, ValueError: ``timeout`` is not seconds > 0, ``name`` not a string.
        MonitorShutdown, MonitorCrashed: the monitor takes no more work.
    """
    require_instance("name", name, str)
    require_instance("resource_id", resource_id, str, optional=True)
    deadline = check_timeout("timeout", timeout)
    monitor = monitor or default_monitor()
    seconds = monitor.default_timeout if deadline is None else deadline
    future: CommandFuture[Any] = CommandFuture(
        name=name, sync_res=ack, resource_id=resource_id, runner=monitor._runner
    )
    future._observe(ACKNOWLEDGED, None)
    if math.isfinite(seconds):

        def expire() -> None:
            error = OperationTimeout(name, status=future.status, elapsed=seconds, timeout=seconds)
            future._set_exception_if_pending(error)

        monitor.call_later(seconds, expire, owner=future)
    return future
