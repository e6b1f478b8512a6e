"""The ``openstack`` client plugin: ``openstack server wait ID...`` and friends.

Registered with python-openstackclient through the ``openstack.cli.extension`` entry
point (API name ``osfutures``, version 1); its commands are in the
``openstack.osfutures.v1`` group. They wait as ``osfutures wait`` does, on the
connection the client already made (its ``--os-cloud``, its authentication), one
listing per poll for all the ids, with the same options and exit codes.
"""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib.command import command

import osfutures
from osfutures.cli.wait import add_wait_options, wait_for

API_NAME = "osfutures"
API_VERSION_OPTION = "os_osfutures_api_version"
DEFAULT_API_VERSION = "1"
API_VERSIONS = ("1",)


def make_client(instance: Any) -> osfutures.AsyncConnection:
    """The client of ``client_manager.osfutures``: the client's own connection,
    with twins."""
    return osfutures.wrap(instance.sdk_connection)


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
        # The client manager gains its plugins' clients at run time (make_client).
        conn: osfutures.AsyncConnection = getattr(self.app.client_manager, API_NAME)
        return wait_for(conn, parsed_args, f"openstack {self.kind} wait")


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
