"""The ``osfutures`` command line: a thin face over the library.

Each subcommand lives in its own module with a ``register(subparsers)`` function that
adds its parser and sets ``handler``; adding one is one line in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from . import demo, fake_cloud, ops, wait

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

#: One registration function per subcommand module.
COMMANDS: tuple[Register, ...] = (demo.register, fake_cloud.register, wait.register, ops.register)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="osfutures", description="OpenStack long-running operations as futures."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Args:
        argv: the arguments without the program name; ``sys.argv[1:]`` when None.
    """
    args = argparse.Namespace()
    args = build_parser().parse_args(argv, args)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)
