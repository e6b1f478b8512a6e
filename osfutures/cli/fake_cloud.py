"""``osfutures fake-cloud serve``: run a FakeCloud until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``fake-cloud`` and its ``serve`` subcommand."""
    parser = subparsers.add_parser("fake-cloud", help="a loopback fake OpenStack cloud")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="serve until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    serve.add_argument("--seed", type=int, default=0, help="seed of ids and draws (0)")
    serve.add_argument("--clouds-yaml", metavar="PATH", help="write a clouds.yaml entry here")
    serve.add_argument("--cloud-name", default="fake", help="its cloud name (fake)")
    serve.add_argument("--username", default="admin")
    serve.add_argument("--password", default=None, help="default: $OS_PASSWORD or 'password'")
    serve.add_argument("--project", default="admin")
    serve.add_argument("--token-ttl", type=float, default=3600.0, help="seconds (3600)")
    serve.add_argument(
        "--duration",
        type=float,
        nargs="+",
        default=[1.0],
        metavar="SECONDS",
        help="every operation's duration: one value, or LOW HIGH for a uniform draw",
    )
    serve.add_argument("--error-rate", type=float, default=0.0, help="chance of ERROR")
    serve.add_argument("--stuck-rate", type=float, default=0.0, help="chance of never ending")
    serve.add_argument("--threads", type=int, default=32, help="HTTP worker threads (32)")
    serve.set_defaults(handler=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    """Run the cloud, print its auth URL, wait for SIGINT or SIGTERM; return 0."""
    # Imported here: FakeCloud needs the "testing" extra (cheroot, werkzeug), which the
    # other subcommands do not.
    from ..testing import Credentials, FakeCloud, Scenario, Timing

    if len(args.duration) not in (1, 2):
        print("--duration takes one or two values", file=sys.stderr)
        return 2
    duration = args.duration[0] if len(args.duration) == 1 else tuple(args.duration)
    timing = Timing(duration=duration, error_rate=args.error_rate, stuck_rate=args.stuck_rate)
    password = args.password or os.environ.get("OS_PASSWORD", "password")
    cloud = FakeCloud(
        args.seed,
        scenario=Scenario(seed=args.seed, default=timing),
        host=args.host,
        port=args.port,
        token_ttl=args.token_ttl,
        users=[Credentials(args.username, password, args.project)],
        threads=args.threads,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    with cloud:
        # The password is not printed: it is the one the caller chose or the default.
        print(f"auth_url: {cloud.auth_url}", flush=True)
        print(f"username: {args.username}  project: {args.project}", flush=True)
        if args.clouds_yaml:
            path = cloud.write_clouds_yaml(args.clouds_yaml, args.cloud_name)
            print(f"clouds.yaml: {path} (cloud {args.cloud_name!r})", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    return 0
