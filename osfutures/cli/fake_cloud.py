"""``osfutures fake-cloud serve``: run a FakeCloud until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from types import FrameType

# Only the checks: FakeCloud itself needs the "testing" extra (cheroot, werkzeug), which
# building the parser must not.
from ..testing.fakecloud import checks


def _number(need: checks.Need) -> Callable[[str], float]:
    """Return an argparse ``type`` for a number that ``need`` accepts.

    Its errors say what is needed; argparse adds the option's name and exits with 2.
    """

    def parse(text: str) -> float:
        try:
            value = int(text) if need.integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {need.kind}, got {text!r}") from None
        if not need.accepts(value):
            raise argparse.ArgumentTypeError(f"need {need.text}, got {text}")
        return value

    return parse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``fake-cloud`` and its ``serve`` subcommand."""
    parser = subparsers.add_parser("fake-cloud", help="a loopback fake OpenStack cloud")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="serve until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument(
        "--port", type=_number(checks.PORT), default=0, help="port; 0 picks a free one"
    )
    serve.add_argument(
        "--seed", type=_number(checks.ANY_INTEGER), default=0, help="seed of ids and draws (0)"
    )
    serve.add_argument(
        "--clouds-yaml", metavar="PATH", help="write a clouds.yaml entry here (folder must exist)"
    )
    serve.add_argument("--cloud-name", default="fake", help="its cloud name (fake)")
    serve.add_argument("--username", default="admin")
    serve.add_argument("--password", default=None, help="default: $OS_PASSWORD or 'password'")
    serve.add_argument("--project", default="admin")
    serve.add_argument(
        "--token-ttl",
        type=_number(checks.POSITIVE_SECONDS),
        default=3600.0,
        metavar="SECONDS",
        help=f"token lifetime (3600); under {checks.KEYSTONEAUTH_MIN_TOKEN_LIFE} keystoneauth"
        " takes every token for expired and re-authenticates before each request",
    )
    serve.add_argument(
        "--duration",
        type=_number(checks.SECONDS),
        nargs="+",
        default=[1.0],
        metavar="SECONDS",
        help="every operation's duration: one value, or LOW HIGH for a uniform draw",
    )
    serve.add_argument(
        "--error-rate", type=_number(checks.PROBABILITY), default=0.0, help="chance of ERROR"
    )
    serve.add_argument(
        "--stuck-rate",
        type=_number(checks.PROBABILITY),
        default=0.0,
        help="chance of never ending",
    )
    serve.add_argument(
        "--threads", type=_number(checks.AT_LEAST_ONE), default=32, help="HTTP worker threads (32)"
    )
    serve.set_defaults(handler=serve_command)


def _usage_error(args: argparse.Namespace) -> str | None:
    """Return what is wrong with options that are each valid but not together, or with
    the clouds.yaml path, as ``--option: what is needed``; None if nothing is."""
    if len(args.duration) > 2:
        return f"--duration: need one or two values, got {len(args.duration)}"
    if len(args.duration) == 2 and args.duration[0] > args.duration[1]:
        low, high = args.duration
        return f"--duration: need LOW <= HIGH, got {low:g} {high:g}"
    if checks.exceeds_one(args.error_rate, args.stuck_rate):
        total = args.error_rate + args.stuck_rate
        return f"--error-rate, --stuck-rate: need a sum <= 1, got {total:g}"
    if args.clouds_yaml:
        path = Path(args.clouds_yaml)
        if path.is_dir():
            return f"--clouds-yaml: need a file path, got the folder {path}"
        if not path.parent.is_dir():
            return f"--clouds-yaml: no folder {path.parent}"
    return None


def serve_command(args: argparse.Namespace) -> int:
    """Run the cloud, print its auth URL, wait for SIGINT or SIGTERM.

    Returns:
        0 after a signal; 2 for bad options (printed as
        ``--option: what is needed``); 1 if the address cannot be bound or clouds.yaml
        cannot be written.
    """
    from ..testing import Credentials, FakeCloud, Scenario, Timing

    problem = _usage_error(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    duration = args.duration[0] if len(args.duration) == 1 else tuple(args.duration)
    timing = Timing(duration=duration, error_rate=args.error_rate, stuck_rate=args.stuck_rate)
    password = args.password or os.environ.get("OS_PASSWORD", "password")
    if args.token_ttl < checks.KEYSTONEAUTH_MIN_TOKEN_LIFE:
        print(
            f"warning: --token-ttl {args.token_ttl:g}: keystoneauth takes a token with less"
            f" than {checks.KEYSTONEAUTH_MIN_TOKEN_LIFE} s left for expired, so clients will"
            " re-authenticate before every request",
            file=sys.stderr,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warning FakeCloud gives is printed above
        cloud = FakeCloud(
            args.seed,
            scenario=Scenario(seed=args.seed, default=timing),
            host=args.host,
            port=args.port,
            token_ttl=args.token_ttl,
            users=[Credentials(args.username, password, args.project)],
            threads=args.threads,
        )
    try:
        cloud.start()
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        # The password is not printed: it is the one the caller chose or the default.
        print(f"auth_url: {cloud.auth_url}", flush=True)
        print(f"username: {args.username}  project: {args.project}", flush=True)
        if args.clouds_yaml:
            try:
                path = cloud.write_clouds_yaml(args.clouds_yaml, args.cloud_name)
            except OSError as error:
                reason = error.strerror or str(error)
                print(f"--clouds-yaml: cannot write {args.clouds_yaml}: {reason}", file=sys.stderr)
                return 1
            print(f"clouds.yaml: {path} (cloud {args.cloud_name!r})", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        cloud.stop()
    return 0
