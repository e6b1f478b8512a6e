"""The command line: ``osfutures fake-cloud serve`` until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
