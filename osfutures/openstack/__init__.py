"""The OpenStack layer: openstacksdk connections whose proxies gain future twins.

``osfutures.connect(...)`` / ``osfutures.wrap(conn)`` give an
:class:`~osfutures.openstack.connection.AsyncConnection`; on it,
``conn.compute.create_server_async(...)`` returns an
:class:`~osfutures.OperationFuture` and ``create_server_async_r(try_count=3, tout=600,
...)`` retries with cleanup. Every twin comes from one row of
:data:`~osfutures.openstack.specs.SPECS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import openstack

from osfutures.journal.twins import JournalArgument
from osfutures.monitor import Monitor
from osfutures.openstack.connection import AsyncConnection, AsyncProxy
from osfutures.openstack.resuming import Resumed, resume
from osfutures.openstack.specs import SPECS, OperationSpec
from osfutures.openstack.waiting import Waiting

__all__ = [
    "SPECS",
    "AsyncConnection",
    "AsyncProxy",
    "OperationSpec",
    "Resumed",
    "Waiting",
    "connect",
    "resume",
    "wrap",
]


def connect(
    cloud: str | None = None,
    *,
    monitor: Monitor | None = None,
    waiting: Mapping[str, Waiting] | None = None,
    journal: JournalArgument = None,
    **kwargs: Any,
) -> AsyncConnection:
    """Like :func:`openstack.connect`, with the ``_async`` twins on the proxies.

    Args:
        cloud: the clouds.yaml entry to use (or ``None`` for environment variables
            and ``kwargs``).
        monitor: the monitor watching this connection's operations (default: the
            process-wide one).
        waiting: per kind, how long and how often twins wait when a call does not
            say (see :class:`Waiting`); over the cloud's ``osfutures:`` section.
        journal: keep every operation of this connection's twins in a journal
            (:doc:`/journal`): a SQLite file's path (or ``sqlite:///path``), a
            ``postgresql://`` URL or a :class:`~osfutures.journal.Journal`.
            ``None`` (the default) takes the ``OSFUTURES_JOURNAL`` environment
            variable if it is set; ``False`` keeps none even then.
        **kwargs: passed to :func:`openstack.connect` unchanged (``auth_url``,
            ``username``, ``password``, ``project_name``, ...).

    Raises:
        ValueError, TypeError: ``waiting`` or the ``osfutures:`` section is wrong,
            or ``journal`` (or ``OSFUTURES_JOURNAL``) names no journal (and whatever
            :func:`openstack.connect` raises for a bad configuration).
        FileNotFoundError: the journal file's directory does not exist.
        osfutures.journal.SchemaTooNew: the journal was written by a newer osfutures.
    """
    conn = openstack.connect(cloud=cloud, **kwargs)
    return AsyncConnection(conn, monitor=monitor, waiting=waiting, journal=journal)


def wrap(
    conn: Any,
    *,
    monitor: Monitor | None = None,
    waiting: Mapping[str, Waiting] | None = None,
    journal: JournalArgument = None,
) -> AsyncConnection:
    """Give an existing openstacksdk Connection the ``_async`` twins.

    The Connection itself is not changed; the returned object passes every
    attribute through to it. Wrapping an AsyncConnection again re-wraps its
    Connection.

    Args:
        conn: the openstacksdk Connection.
        monitor: as for :func:`connect`.
        waiting: as for :func:`connect`.
        journal: as for :func:`connect` (not taken from a wrapped AsyncConnection).

    Raises:
        TypeError: ``conn`` is not an openstacksdk Connection.
        ValueError, TypeError: ``waiting`` or the ``osfutures:`` section is wrong,
            or ``journal`` names no journal.
        FileNotFoundError: the journal file's directory does not exist.
        osfutures.journal.SchemaTooNew: the journal was written by a newer osfutures.
    """
    from openstack.connection import Connection

    plain = conn.unwrap() if isinstance(conn, AsyncConnection) else conn
    if not isinstance(plain, Connection):
        raise TypeError(
            f"conn: expected an openstack.connection.Connection (from openstack.connect()),"
            f" got {type(conn).__name__}"
        )
    return AsyncConnection(plain, monitor=monitor, waiting=waiting, journal=journal)
