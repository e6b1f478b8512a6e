"""docs/journal.rst's and docs/resume.rst's examples run as written: each page's python
blocks in order, in one namespace, each ``print(...)  # word`` printing that word and
each ``output`` block's lines printed (in any order)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import osfutures
from osfutures.testing import FakeCloud

DOCS = Path(__file__).resolve().parents[2] / "docs"
DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. code-block:: *(?P<language>\S+) *$")
EXPECTED = re.compile(r"^\s*print\(.*#\s+(\S+)\s*$")


def blocks(text: str) -> list[tuple[str, str, str]]:
    """(language, options, source) of each code block, in order."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        match = DIRECTIVE.match(lines[i])
        i += 1
        if not match:
            continue
        indent = len(match["indent"])
        options = ""
        while i < len(lines) and lines[i].strip().startswith(":"):
            options += lines[i].strip()
            i += 1
        body: list[str] = []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
        ):
            body.append(lines[i])
            i += 1
        strip = min(len(x) - len(x.lstrip()) for x in body if x.strip())
        found.append((match["language"], options, "\n".join(x[strip:] for x in body).strip()))
    return found


@pytest.mark.parametrize(("page", "examples"), [("journal.rst", 3), ("resume.rst", 1)])
def test_the_page_runs_as_written(
    page: str, examples: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = DOCS / page
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OSFUTURES_JOURNAL", raising=False)
    namespace: dict[str, object] = {"__name__": "journal_page"}
    printed: list[str] = []
    expected_words: list[str] = []
    ran = 0
    try:
        for language, options, source in blocks(path.read_text(encoding="utf-8")):
            if language == "python" and "no-run" not in options:
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    exec(compile(source, str(path), "exec"), namespace)
                printed += out.getvalue().splitlines()
                expected_words += [
                    m[1] for line in source.splitlines() if (m := EXPECTED.match(line))
                ]
                ran += 1
            elif language == "text" and "output" in options:
                for line in source.splitlines():
                    assert line in printed, f"{line!r} not printed; printed: {printed}"
    finally:  # the page's last block does this; a failure before it must too
        monitor, cloud = namespace.get("monitor"), namespace.get("cloud")
        if isinstance(monitor, osfutures.Monitor):
            monitor.shutdown(cancel_futures=True)
        if isinstance(cloud, FakeCloud):
            cloud.stop()
    assert ran >= examples
    for word in expected_words:
        assert word in printed, f"{word!r} not printed; printed: {printed}"
