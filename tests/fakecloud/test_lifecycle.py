"""A FakeCloud that nobody stops never keeps its process alive.

Each test runs a real Python process that starts a cloud, has it serve a request over a
kept-alive connection, and never stops it.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

#: Starts a cloud, serves one request on a connection left open, prints the URL.
START = """
import requests
from osfutures.testing import FakeCloud

cloud = FakeCloud().start()
session = requests.Session()
assert session.get(cloud.auth_url).status_code == 300
print(cloud.base_url, flush=True)
"""
#: Long enough to tell a hang from a slow start.
DEADLINE = 15


def test_a_script_that_never_stops_its_cloud_exits() -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", START], capture_output=True, text=True, timeout=DEADLINE
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the interpreter did not exit: the cloud's threads kept it alive")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("http://127.0.0.1:")


def test_ctrl_c_ends_a_process_with_a_running_cloud() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", START + "import time; time.sleep(60)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("http://")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("Ctrl-C did not end the process: the cloud's threads kept it alive")
    assert "KeyboardInterrupt" in stderr
    assert process.returncode == -signal.SIGINT
