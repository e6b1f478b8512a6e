"""`osfutures demo` runs its job end to end and reports what it saved."""

from __future__ import annotations

import re

import pytest

from osfutures.cli import main
from osfutures.cli.demo import Tally


def test_demo_runs_and_summarises(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--servers", "3", "--failure-rate", "0", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "3 servers and 3 volumes" in out
    assert re.search(r"operations\s+21 \(0 failed", out)
    made = int(re.search(r"(\d+) GET", out).group(1))  # type: ignore[union-attr]
    estimate = int(re.search(r"about (\d+) GETs", out).group(1))  # type: ignore[union-attr]
    saved = int(re.search(r"requests saved\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    assert 0 < made < estimate and saved == estimate - made


def test_demo_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--servers", "0"]) == 2
    assert "--servers" in capsys.readouterr().err


def test_the_progress_line_fits_the_terminal() -> None:
    tally = Tally()
    tally.done.update(servers=12, volumes=12, attached=10, snapshots=8, deleted=30)
    wide = tally.line(20, 1234, width=200)
    assert wide.startswith("servers 12/20 | volumes 12/20") and wide.endswith("HTTP requests 1234")
    assert len(wide) > 80, "the words do not fit 80 columns: the test checks the fallbacks"
    narrow = tally.line(20, 1234, width=80)
    assert len(narrow) < 80 and narrow.startswith("srv 12/20 vol 12/20") and "req 1234" in narrow
    tiny = tally.line(20, 1234, width=30)
    assert len(tiny) < 30 and tiny.endswith("…")
    assert tally.line(20, 1234) == wide, "not a terminal: the whole line"
