"""The README's examples run as written."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.rst"
BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:(?:    .*)?\n)+)", re.MULTILINE)


def python_blocks() -> list[str]:
    return [textwrap.dedent(m.group(1)) for m in BLOCK.finditer(README.read_text())]


def test_readme_has_examples() -> None:
    assert python_blocks()


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_example_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    source = python_blocks()[index]
    exec(compile(source, f"README.rst example {index + 1}", "exec"), {})
    expected = re.findall(r"#\s+(\S+)\s*$", source, re.MULTILINE)
    out = capsys.readouterr().out.split()
    for value in expected:
        assert value in out, f"README example {index + 1} should print {value}"
