"""`osfutures demo` runs its job end to end and reports what it saved."""

from __future__ import annotations

import re

import pytest

from osfutures.cli import main


def test_demo_runs_and_summarises(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--servers", "3", "--failure-rate", "0", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "3 servers and 3 volumes" in out
    assert re.search(r"operations\s+21 \(0 failed", out)
    made = int(re.search(r"(\d+) GET", out).group(1))  # type: ignore[union-attr]
    estimate = int(re.search(r"about (\d+) GETs", out).group(1))  # type: ignore[union-attr]
    assert 0 < made < estimate


def test_demo_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--servers", "0"]) == 2
    assert "--servers" in capsys.readouterr().err
