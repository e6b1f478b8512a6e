"""The twins' types: the stub osfutures/openstack/twins.pyi is what its generator makes
now, and mypy --strict, reading it as a user's project would, types the twins and
refuses the mistakes a newcomer makes."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from osfutures.openstack import AsyncConnection, AsyncProxy
from osfutures.openstack.connection import _SERVICES

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "generate-twin-types"
STUB = ROOT / "osfutures" / "openstack" / "twins.pyi"
SERVER = "openstack.compute.v2.server.Server"
VOLUME = "openstack.block_storage.v3.volume.Volume"
IMAGE = "openstack.image.v2.image.Image"


def _future(resource: str) -> str:
    return f"osfutures.future.OperationFuture[{resource}]"


def _class_name(service: str) -> str:
    return "Async" + "".join(word.capitalize() for word in service.split("_"))


#: A user's script, line by line, each with what mypy must say about it: a revealed
#: type ("reveal", exactly) or an error ("error", a part of the message); lines with
#: no expectation must draw no error.
SCRIPT: list[tuple[str, tuple[str, str] | None]] = [
    ("import tenacity", None),
    ("from openstack.compute.v2.server import Server", None),
    ("import osfutures", None),
    ('conn = osfutures.connect(cloud="mycloud")', None),
    (
        'future = conn.compute.create_server_async(name="x", image_id="i", flavor_id="f",'
        ' networks="none")',
        None,
    ),
    ("reveal_type(future)", ("reveal", _future(SERVER))),
    ("reveal_type(future.result())", ("reveal", SERVER)),
    (
        'reveal_type(conn.block_storage.create_volume_async(size=1, name="d").result())',
        ("reveal", VOLUME),
    ),
    (
        'retried = conn.compute.create_server_async_r(name="x", image_id="i", flavor_id="f",'
        " try_count=5, tout=600, timeout=1800, wait=tenacity.wait_fixed(30),"
        " retry=tenacity.retry_if_exception_type(OSError), before_sleep=lambda state: None,"
        " interval=2)",
        None,
    ),
    ("reveal_type(retried)", ("reveal", _future(SERVER))),
    ("server: Server = retried.result()", None),
    (
        "reveal_type(conn.compute.stop_server_async(server, timeout=60))",
        ("reveal", _future(SERVER)),
    ),
    (
        "reveal_type(conn.compute.delete_server_async(server.id).result())",
        ("reveal", f"{SERVER} | None"),
    ),
    (
        'reveal_type(conn.compute.create_volume_attachment_async(server, volume="v").result())',
        ("reveal", VOLUME),
    ),
    (
        'reveal_type(conn.compute.create_server_image_async(server, "snap", wait=True))',
        ("reveal", _future(IMAGE)),
    ),
    ('reveal_type(conn.compute.get_server("id"))', ("reveal", SERVER)),
    *(
        (
            f"reveal_type(conn.{service})",
            ("reveal", f"osfutures.openstack.twins.{_class_name(service)}"),
        )
        for service in sorted(_SERVICES)
    ),
    (
        'conn.compute.create_sever_async(name="x")',
        ("error", '"AsyncCompute" has no attribute "create_sever_async"'),
    ),
    (
        'conn.compute.create_server_async(timeout="soon")',
        ("error", 'Argument "timeout" to "create_server_async" of "AsyncCompute" has incompatible'),
    ),
    (
        "conn.compute.create_server_async_r(wait=2)",
        ("error", 'Argument "wait" to "create_server_async_r" of "AsyncCompute" has incompatible'),
    ),
    (
        'conn.compute.create_server_image_async_r(server, "snap", wait=True)',
        ("error", 'Argument "wait" to "create_server_image_async_r"'),
    ),
    ("conn.compute.stop_server_async()", ("error", 'Missing positional argument "server"')),
    (
        'conn.block_storage.extend_volume_async("v", size="big")',
        ("error", 'Argument "size" to "extend_volume_async" of "AsyncBlockStorage"'),
    ),
]
OUTPUT = re.compile(r"^user\.py:(\d+): (error|note): (.*)$")
REVEALED = re.compile(r'^Revealed type is "(.*)"$')


def _generator() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("generate_twin_types", str(GENERATOR))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # its dataclass looks itself up there
    try:
        loader.exec_module(module)
    finally:
        del sys.modules[loader.name]
    return module


def test_the_stub_is_what_the_generator_makes_now() -> None:
    pytest.importorskip("ruff", reason="the generator formats with ruff (the lint extra)")
    made = _generator().generate()
    assert STUB.read_text() == made, (
        "osfutures/openstack/twins.pyi is stale (the spec table, the twins or openstacksdk"
        " changed): run .venv/bin/python scripts/generate-twin-types"
    )


def test_the_types_exist_for_type_checkers_only() -> None:
    assert importlib.util.find_spec("osfutures.openstack.twins") is None
    conn = AsyncConnection(SimpleNamespace(compute=object(), config=None))
    assert type(conn.compute) is AsyncProxy
    assert "create_server_async" in dir(conn.compute)
    assert "compute" not in vars(AsyncConnection).get("__annotations__", {})


@pytest.fixture(scope="module")
def mypy_says(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[int, list[tuple[str, str]]]]:
    """What one mypy --strict run says about SCRIPT, by line: (severity, message)."""
    pytest.importorskip("mypy", reason="mypy comes with the lint extra")
    where = tmp_path_factory.mktemp("typing")
    (where / "user.py").write_text("\n".join(code for code, _ in SCRIPT) + "\n")
    (where / "mypy.ini").write_text(f"[mypy]\ncache_dir = {where / 'cache'}\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "mypy.ini",
            "--strict",
            # osfutures is this checkout (its editable install hides it from mypy);
            # its own errors, if another change brings some, are not this test's.
            "--follow-imports=silent",
            "--no-error-summary",
            "--no-pretty",
            "--hide-error-context",
            "user.py",
        ],
        cwd=where,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said: dict[int, list[tuple[str, str]]] = {}
    for line in done.stdout.splitlines():
        match = OUTPUT.match(line)
        assert match, f"unexpected mypy output: {line!r}\n{done.stdout}{done.stderr}"
        said.setdefault(int(match[1]), []).append((match[2], match[3]))
    assert said, f"mypy said nothing:\n{done.stdout}{done.stderr}"
    yield said


def test_mypy_reveals_the_twins_types(mypy_says: dict[int, list[tuple[str, str]]]) -> None:
    for number, (code, expected) in enumerate(SCRIPT, start=1):
        if expected is None or expected[0] != "reveal":
            continue
        revealed = [
            m[1] for severity, text in mypy_says.get(number, []) if (m := REVEALED.match(text))
        ]
        assert revealed == [expected[1]], f"line {number}: {code}\n{mypy_says.get(number)}"


def test_mypy_refuses_wrong_twin_calls(mypy_says: dict[int, list[tuple[str, str]]]) -> None:
    for number, (code, expected) in enumerate(SCRIPT, start=1):
        errors = [text for severity, text in mypy_says.get(number, []) if severity == "error"]
        if expected is not None and expected[0] == "error":
            assert len(errors) == 1, f"line {number}: {code}\n{errors}"
            assert expected[1] in errors[0], f"line {number}: {code}\n{errors}"
        else:
            assert not errors, f"line {number}: {code}\n{errors}"
