"""The examples of the guide pages run as written, against FakeCloud.

Rules, per ``.. code-block:: python`` of the pages in :data:`PAGES`:

* The blocks of a page run in order, in one namespace, as a reader running the page
  top to bottom would (a page may set up a cloud in its first block).
* ``:class: no-run``: a fragment, or code for a real cloud that FakeCloud cannot
  stand in for; it is only compiled.
* ``:class: real-cloud``: code for a cloud named in clouds.yaml
  (``osfutures.connect(cloud="mycloud")``). It runs in a namespace of its own, against a
  FakeCloud written into a clouds.yaml as ``mycloud``, found the way openstacksdk finds
  any (``OS_CLIENT_CONFIG_FILE``).
* ``:caption: NAME.py``: a file of a pytest suite. The page's captioned blocks are
  written side by side into a directory and run with pytest, twice: on FakeCloud in
  process, and with ``OS_CLOUD`` naming a FakeCloud in clouds.yaml.
* A ``print(...)`` line ending in a one-word comment (``print(server.status)  #
  ACTIVE``) must print that word, as the README's tests check.
* A ``.. code-block:: text`` with ``:class: output`` right after a python block shows
  what that block prints: each of its lines must be one of the printed lines, in any
  order, ``...`` standing for any text (ids, times).
"""

from __future__ import annotations

import contextlib
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import osfutures
from osfutures.testing import FakeCloud, Scenario

pytest_plugins = ["pytester"]

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: The pages whose examples run here (the reference pages show fragments).
PAGES = ("index.rst", "errors.rst", "asyncio.rst", "suites.rst", "units.rst", "openstack.rst")
#: The clouds.yaml entry the real-cloud examples name.
CLOUD_NAME = "mycloud"

DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. code-block:: *(?P<language>\S+) *$")
OPTION = re.compile(r"^ +:(?P<name>[\w-]+):(?: +(?P<value>.*))? *$")
EXPECTED = re.compile(r"^\s*print\(.*#\s+(\S+)\s*$")


@dataclass
class Block:
    page: str
    line: int
    language: str
    source: str
    options: dict[str, str] = field(default_factory=dict)
    #: the lines of the ``output`` block that follows, if one does
    output: list[str] | None = None

    @property
    def classes(self) -> set[str]:
        return set(self.options.get("class", "").split())

    @property
    def label(self) -> str:
        return f"docs/{self.page}:{self.line}"


def blocks(page: str) -> list[Block]:
    """The code blocks of ``page``, each python block with the output shown after it."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = DIRECTIVE.match(lines[index])
        index += 1
        if match is None:
            continue
        start, indent = index, len(match["indent"])
        options = {}
        while index < len(lines) and (option := OPTION.match(lines[index])):
            options[option["name"]] = option["value"] or ""
            index += 1
        body = []
        while index < len(lines) and (
            not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > indent
        ):
            body.append(lines[index])
            index += 1
        source = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        found.append(Block(page, start, match["language"], source, options))
    python: list[Block] = []
    for before, block in zip([None, *found[:-1]], found, strict=True):
        if block.language == "python":
            python.append(block)
        elif "output" in block.classes and before is not None and before.language == "python":
            before.output = [line.strip() for line in block.source.splitlines() if line.strip()]
    return python


def check_output(block: Block, printed: str) -> None:
    lines = [line.strip() for line in printed.splitlines()]
    words = printed.split()
    for line in block.source.splitlines():
        if expected := EXPECTED.match(line):
            assert expected[1] in words, f"{block.label}: should print {expected[1]}: {line}"
    for expected_line in block.output or ():
        pattern = re.compile(".*".join(map(re.escape, expected_line.split("..."))))
        assert any(pattern.fullmatch(line) for line in lines), (
            f"{block.label}: should print {expected_line!r}; it printed:\n{printed}"
        )


def run(block: Block, namespace: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    exec(compile(block.source, block.label, "exec"), namespace)
    check_output(block, capsys.readouterr().out)


def tidy(namespace: dict[str, object]) -> None:
    """Stop what an example left running, even one that failed half-way."""
    for value in namespace.values():
        if isinstance(value, osfutures.Monitor):
            value.shutdown(cancel_futures=True)
    for value in namespace.values():
        if isinstance(value, FakeCloud):
            value.stop()


@contextlib.contextmanager
def cloud_in_clouds_yaml(
    directory: Path, monkeypatch: pytest.MonkeyPatch, *, name: str = CLOUD_NAME
) -> Iterator[FakeCloud]:
    """A FakeCloud that ``openstack.connect(cloud=name)`` finds through clouds.yaml.

    The entry also sets a short polling interval (clouds.yaml's ``osfutures:``
    section), as an operator of a fast cloud could: the examples stay as written.
    """
    with FakeCloud(scenario=Scenario.fast(duration=0.1)) as cloud:
        path = cloud.write_clouds_yaml(directory / "clouds.yaml", cloud_name=name)
        with path.open("a", encoding="utf-8") as entry:
            entry.write("    osfutures:\n      default: {interval: 0.05}\n")
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
        yield cloud


@pytest.fixture(autouse=True)
def no_cloud_of_yours(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Keep the examples off any cloud of the machine's: no OS_CLOUD, and a clouds.yaml
    with no cloud in it before the usual ones (openstack.connect(), which
    cloud.connect() calls, takes the only cloud of a clouds.yaml over its arguments)."""
    empty = tmp_path_factory.mktemp("no-clouds") / "clouds.yaml"
    empty.write_text("clouds: {}\n", encoding="utf-8")
    monkeypatch.delenv("OS_CLOUD", raising=False)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(empty))


def test_every_page_has_examples() -> None:
    for page in PAGES:
        assert blocks(page), page


def test_output_blocks_follow_python_blocks() -> None:
    for page in PAGES:
        text = (DOCS / page).read_text(encoding="utf-8")
        shown = sum(1 for block in blocks(page) if block.output)
        assert shown == text.count(":class: output"), page


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page: str, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.replace('.', '_')}"}
    try:
        for block in blocks(page):
            if block.classes & {"no-run", "real-cloud"} or "caption" in block.options:
                compile(block.source, block.label, "exec")
                continue
            run(block, namespace, capsys)
    finally:
        tidy(namespace)


def real_cloud_blocks(page: str) -> list[Block]:
    return [block for block in blocks(page) if "real-cloud" in block.classes]


def test_the_quickstart_has_a_real_cloud_version() -> None:
    assert real_cloud_blocks("index.rst")


@pytest.mark.parametrize("page", [page for page in PAGES if real_cloud_blocks(page)])
def test_real_cloud_examples_run_through_clouds_yaml(
    page: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    real = real_cloud_blocks(page)
    with cloud_in_clouds_yaml(tmp_path, monkeypatch):
        for block in real:
            assert f'cloud="{CLOUD_NAME}"' in block.source, block.label
            namespace: dict[str, object] = {"__name__": "docs_real_cloud"}
            try:
                run(block, namespace, capsys)
            finally:
                tidy(namespace)


def suite_files(page: str) -> dict[str, str]:
    files: dict[str, str] = {}
    for block in blocks(page):
        name = block.options.get("caption", "")
        if name.endswith(".py"):
            assert name not in files, f"{block.label}: a second {name}"
            files[name] = block.source
    return files


@pytest.mark.parametrize("where", ["fakecloud", "clouds.yaml"])
def test_suite_pages_run_with_pytest(
    where: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = suite_files("suites.rst")
    assert "conftest.py" in files and any(name.startswith("test_") for name in files)
    for name, source in files.items():
        pytester.path.joinpath(name).write_text(source, encoding="utf-8")
    # Both runs have a cloud in clouds.yaml. Without OS_CLOUD, it is a decoy: the suite
    # runs on its own FakeCloud and must not touch it (openstack.connect() would take
    # the only cloud of a clouds.yaml).
    with cloud_in_clouds_yaml(pytester.path, monkeypatch) as in_clouds_yaml:
        if where == "clouds.yaml":
            monkeypatch.setenv("OS_CLOUD", CLOUD_NAME)
        result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-p", "no:warnings")
        requests = in_clouds_yaml.stats()["total_requests"]
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1, result.stdout.str()
    assert set(outcomes) <= {"passed", "deselected", "warnings"}, result.stdout.str()
    if where == "fakecloud":
        assert requests == 0, "without OS_CLOUD, the suite reached the cloud of clouds.yaml"
    else:
        assert requests > 0, "with OS_CLOUD, the suite did not reach the cloud it names"
