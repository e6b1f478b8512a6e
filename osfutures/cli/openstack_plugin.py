"""The ``openstack`` client plugin: ``openstack server wait ID...`` and friends, and
``openstack operation list|show|wait|resume|prune``.

Registered with python-openstackclient through the ``openstack.cli.extension`` entry
point (API name ``osfutures``, version 1); its commands are in the
``openstack.osfutures.v1`` group.

* ``server wait`` and friends wait as ``osfutures wait`` does, on the connection the
  client already made (its ``--os-cloud``, its authentication), one listing per poll
  for all the ids, with the same options and exit codes.
* ``operation ...`` are ``osfutures ops ...`` (made of :mod:`osfutures.cli.ops`'s
  functions) inside the client: the journal is ``--journal`` or
  ``OSFUTURES_JOURNAL``; ``list`` shows the operations of the cloud the client is on
  (``--all-clouds``: every cloud's) with the client's formatters (``-f json``...);
  ``list``, ``show`` and ``prune`` read the journal only and do not authenticate;
  ``wait`` and ``resume`` watch on the client's connection.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from cliff.columns import FormattableColumn
from osc_lib.cli import format_columns
from osc_lib.command import command

import osfutures
from osfutures.cli import ops
from osfutures.cli.wait import add_wait_options, wait_for
from osfutures.journal import Journal

API_NAME = "osfutures"
API_VERSION_OPTION = "os_osfutures_api_version"
DEFAULT_API_VERSION = "1"
API_VERSIONS = ("1",)


def make_client(instance: Any) -> osfutures.AsyncConnection:
    """The client of ``client_manager.osfutures``: the client's own connection,
    with twins (and no journal: these commands start no operation)."""
    return osfutures.wrap(instance.sdk_connection, journal=False)


def build_option_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The client's global option for this plugin's API version (there is one)."""
    parser.add_argument(
        "--os-osfutures-api-version",
        metavar="<version>",
        default=None,
        help=f"osfutures plugin API version, default={DEFAULT_API_VERSION}",
    )
    return parser


class _Wait(command.Command):
    """Wait until objects reach a state, one listing per poll for all of them
    (exit 0 all reached it, 1 some failed, 3 a deadline passed, 130 interrupted)."""

    kind = ""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        add_wait_options(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        parsed_args.kind = self.kind
        return wait_for(_connection(self.app), parsed_args, f"openstack {self.kind} wait")


def _command(kind: str) -> type[_Wait]:
    doc = f"Wait until {kind}s reach a state (or are gone), batched by osfutures."
    return type(
        f"{kind.title()}Wait", (_Wait,), {"kind": kind, "__doc__": doc, "__module__": __name__}
    )


ServerWait = _command("server")
VolumeWait = _command("volume")
SnapshotWait = _command("snapshot")
BackupWait = _command("backup")
ImageWait = _command("image")
StackWait = _command("stack")
LoadbalancerWait = _command("loadbalancer")
ShareWait = _command("share")


# -- openstack operation list|show|wait|resume|prune ---------------------------------------


def _connection(app: Any) -> osfutures.AsyncConnection:
    """The client's connection, with twins (authenticating, if it has not yet)."""
    # The client manager gains its plugins' clients at run time (make_client).
    conn: osfutures.AsyncConnection = getattr(app.client_manager, API_NAME)
    return conn


def _cloud(app: Any) -> str | None:
    """The name of the cloud the client is on (``--os-cloud``; ``envvars`` when the
    ``OS_*`` variables describe it), as the journal's rows name clouds. No request."""
    name: str | None = app.cloud.name
    return name


class _Journaled(command.Command):
    """A command on a journal: ``--journal PATH_OR_URL``, else ``$OSFUTURES_JOURNAL``.

    A missing journal, one that cannot be opened or read, and an unknown operation
    are one line on stderr and exit status 2, as with ``osfutures ops``.
    """

    #: The journal, open while the command runs.
    journal: Journal

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        ops.add_journal_option(parser)
        return parser

    @property
    def prog(self) -> str:
        """The command's name in messages: ``openstack operation list``."""
        return f"openstack {self.cmd_name or 'operation'}"

    def run(self, parsed_args: argparse.Namespace) -> int:
        return ops.with_journal(parsed_args.journal, self.prog, lambda j: self._on(j, parsed_args))

    def _on(self, journal: Journal, parsed_args: argparse.Namespace) -> int:
        self.journal = journal
        code: int = super().run(parsed_args)
        return code


class _Time(FormattableColumn[float | None]):
    """A time of the journal: local ``YYYY-MM-DD HH:MM:SS`` in tables, seconds since
    the epoch in ``-f json``."""

    def human_readable(self) -> str:
        return ops.when(self._value)

    def machine_readable(self) -> float | None:
        return self._value


class _Maybe(FormattableColumn[Any]):
    """A value a row may not have yet (a status before the first look): ``-`` in
    tables, ``null`` in ``-f json``."""

    def human_readable(self) -> str:
        return "-" if self._value is None else str(self._value)

    def machine_readable(self) -> Any:
        return self._value


class _Error(FormattableColumn[dict[str, Any] | None]):
    """An operation's error: ``Type: message`` in tables, the dict in ``-f json``."""

    def human_readable(self) -> str:
        if not self._value:
            return ""
        return f"{self._value['type'].rpartition('.')[2]}: {self._value['message']}"

    def machine_readable(self) -> dict[str, Any] | None:
        return self._value


class _Statuses(format_columns.ListDictColumn):
    """The states an operation went through: one line each in tables (time, status,
    progress)."""

    def human_readable(self) -> str:
        return "\n".join(
            f"{ops.when(s['at'])}  {s['status'] or '-'}"
            + ("" if s.get("progress") is None else f"  {s['progress']}%")
            for s in self._value or ()
        )


class _Attempts(format_columns.ListDictColumn):
    """A retrying operation's attempts: one line each in tables (number, outcome,
    what it created, when, its error's type)."""

    def human_readable(self) -> str:
        lines = []
        for attempt in self._value or ():
            line = (
                f"{attempt['number']}: {attempt['outcome']}  {attempt.get('resource_id') or '-'}"
                f"  {ops.when(attempt.get('started_at'))} to {ops.when(attempt.get('ended_at'))}"
            )
            error = _Error(attempt.get("error")).human_readable().partition(":")[0]
            lines.append(f"{line}  {error}" if error else line)
        return "\n".join(lines)


def _field(key: str, value: Any) -> Any:
    """A record's value as ``operation show`` shows it (readable in tables, the
    record's own in ``-f json``)."""
    if key.endswith("_at"):
        return _Time(value)
    special: dict[str, Callable[[Any], Any]] = {
        "error": _Error,
        "statuses": _Statuses,
        "attempts": _Attempts,
    }
    if key in special:
        return special[key](value)
    if isinstance(value, dict):
        return format_columns.DictColumn(value)
    if isinstance(value, list):
        if all(isinstance(item, dict) for item in value):
            return format_columns.ListDictColumn(value)
        return format_columns.ListColumn(value)
    return value


#: ``operation list``'s columns: heading, and the value of a row.
_Column = tuple[str, Callable[[dict[str, Any]], Any]]
_ID: _Column = ("ID", lambda row: row["op_id"])
_CLOUD: _Column = ("Cloud", lambda row: row.get("cloud"))
_SHORT: tuple[_Column, ...] = (
    ("Name", lambda row: row.get("name")),
    ("Outcome", lambda row: row["outcome"]),
    ("Status", lambda row: _Maybe(row.get("status"))),
    ("Updated", lambda row: _Time(row.get("updated_at"))),
)
_LONG: tuple[_Column, ...] = (
    ("Region", lambda row: _Maybe(row.get("region"))),
    ("Resource ID", lambda row: _Maybe(row.get("resource_id"))),
    ("Attempts", lambda row: len(row.get("attempts") or ())),
    ("Created", lambda row: _Time(row.get("created_at"))),
    ("Error", lambda row: _Error(row.get("error"))),
)


class OperationList(_Journaled, command.Lister):
    """List the operations in the journal, newest first: those of the cloud the
    client is on, or every cloud's with --all-clouds."""

    auth_required = False

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        ops.add_list_options(parser)
        parser.add_argument(
            "--all-clouds",
            action="store_true",
            help="every cloud's operations (default: those of the client's cloud, --os-cloud)",
        )
        parser.add_argument(
            "--long",
            action="store_true",
            help="more columns: cloud, region, resource id, attempts, created, error",
        )
        return parser

    def take_action(
        self, parsed_args: argparse.Namespace
    ) -> tuple[Sequence[str], Sequence[tuple[Any, ...]]]:
        rows = ops.select(
            self.journal,
            state=parsed_args.state,
            since=parsed_args.since,
            limit=parsed_args.limit,
            cloud=None if parsed_args.all_clouds else _cloud(self.app),
        )
        cloud = (_CLOUD,) if parsed_args.all_clouds or parsed_args.long else ()
        columns = (_ID, *cloud, *_SHORT, *(_LONG if parsed_args.long else ()))
        return (
            [heading for heading, _ in columns],
            [tuple(value(row) for _, value in columns) for row in rows],
        )


class OperationShow(_Journaled, command.ShowOne):
    """Show an operation's record in the journal (any cloud's)."""

    auth_required = False

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("op_id", metavar="OP_ID", help="the operation's id (operation list)")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Sequence[Any]]:
        (row,) = ops.lookup(self.journal, [parsed_args.op_id])
        keys = sorted(row)
        return keys, [_field(key, row[key]) for key in keys]


class OperationWait(_Journaled):
    """Watch these operations again until they end, from their continuation tokens,
    on the client's connection (exit 0 all succeeded, 1 some failed, 2 usage error,
    3 a deadline passed, 130 interrupted)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("op_ids", nargs="+", metavar="OP_ID", help="the operations' ids")
        ops.add_watch_options(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        rows = ops.lookup(self.journal, parsed_args.op_ids)
        conn = _connection(self.app)
        return ops.watch_again(
            rows,
            lambda row: conn,
            timeout=parsed_args.timeout,
            as_json=parsed_args.json,
            prog=self.prog,
        )


class OperationResume(_Journaled):
    """Watch again, until they end, the unfinished operations of the client's cloud
    and region: what a process that stopped left in flight (exit codes as for
    operation wait)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        ops.add_watch_options(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        conn = _connection(self.app)
        cloud, region = conn.config.name, conn.config.region_name
        rows = [
            row
            for row in self.journal.unfinished(cloud=cloud)
            if not (region and row.get("region")) or row["region"] == region
        ]
        return ops.resume(
            self.journal,
            rows,
            lambda row: conn,
            where=f"of cloud {cloud}" + (f" in region {region}" if region else ""),
            timeout=parsed_args.timeout,
            as_json=parsed_args.json,
            prog=self.prog,
        )


class OperationPrune(_Journaled):
    """Delete the finished operations of the journal (every cloud's) that last
    changed longer ago than --older-than."""

    auth_required = False

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        ops.add_prune_options(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        return ops.prune(
            self.journal, parsed_args.older_than, unfinished_too=parsed_args.unfinished_too
        )
