"""The command line: ``osfutures fake-cloud serve`` until SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import openstack
import pytest

from osfutures.cli import main

SERVE = "import sys; from osfutures.cli import main; sys.exit(main(sys.argv[1:]))"


def test_serve_prints_auth_url_writes_clouds_yaml_and_stops_on_sigterm(tmp_path: Path) -> None:
    clouds = tmp_path / "clouds.yaml"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SERVE,
            "fake-cloud",
            "serve",
            "--seed",
            "2",
            "--clouds-yaml",
            str(clouds),
            "--cloud-name",
            "cli",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("auth_url: http://127.0.0.1:")
        process.stdout.readline()
        assert "clouds.yaml" in process.stdout.readline()
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds)
        conn = openstack.connect(cloud="cli")
        assert len(list(conn.compute.flavors())) == 5
        conn.close()
    finally:
        os.environ.pop("OS_CLIENT_CONFIG_FILE", None)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert "password" not in (process.stdout.read() if process.stdout else "")


def test_missing_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["fake-cloud"])
    assert caught.value.code == 2


def _serve(argv: list[str]) -> int | str | None:
    """Run ``fake-cloud serve`` with ``argv`` in a thread; return its exit status.

    A bad option must end it at once: if it is still running after a few seconds, it
    took the option and is serving, and the test fails.
    """
    status: list[int | str | None] = []

    def run() -> None:
        try:
            status.append(main(["fake-cloud", "serve", *argv]))
        except SystemExit as error:
            status.append(error.code)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), f"fake-cloud serve {' '.join(argv)} is serving"
    assert status, "fake-cloud serve ended with an exception"
    return status[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--duration", "-1"], "argument --duration: need seconds >= 0, got -1"),
        (["--duration", "3", "1"], "--duration: need LOW <= HIGH, got 3 1"),
        (["--duration", "1", "2", "3"], "--duration: need one or two values, got 3"),
        (["--error-rate", "2"], "argument --error-rate: need a probability 0 <= p <= 1, got 2"),
        (
            ["--error-rate", "0.7", "--stuck-rate", "0.5"],
            "--error-rate, --stuck-rate: need a sum <= 1, got 1.2",
        ),
        (["--token-ttl", "-5"], "argument --token-ttl: need seconds > 0, got -5"),
        (
            ["--port", "70000"],
            "argument --port: need a port 0-65535 (0 picks a free one), got 70000",
        ),
        (["--port", "http"], "argument --port: expected an integer, got 'http'"),
        (["--threads", "0"], "argument --threads: need an integer >= 1, got 0"),
        (
            ["--clouds-yaml", "/no/such/folder/clouds.yaml"],
            "--clouds-yaml: no folder /no/such/folder",
        ),
    ],
)
def test_bad_options_are_usage_errors_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _serve(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_port_in_use_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert _serve(["--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err == f"cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_help_warns_that_a_short_token_ttl_reauthenticates_every_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["fake-cloud", "serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "under 120 keystoneauth takes every token for expired" in help_text


def test_the_command_line_needs_no_testing_extra_to_parse_options() -> None:
    # Without cheroot and werkzeug (the "testing" extra), the parser still builds and
    # checks options, and pytest can still load the plugin of an installed osfutures.
    code = (
        "import sys; sys.modules['cheroot'] = sys.modules['werkzeug'] = None\n"
        "import osfutures.testing.pytest_plugin\n"
        "from osfutures.cli import main\n"
        "main(['fake-cloud', 'serve', '--error-rate', '2'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert "argument --error-rate: need a probability" in done.stderr
