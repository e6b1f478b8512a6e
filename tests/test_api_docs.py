"""The API reference documents the public surface, no more and no less."""

from __future__ import annotations

import re
from importlib import import_module
from pathlib import Path

import osfutures
import osfutures.openstack

DOCS = Path(__file__).resolve().parent.parent / "docs"
DIRECTIVE = re.compile(r"^\.\. auto(?:class|function|data|exception):: ([\w.]+)", re.MULTILINE)


def documented(page: str) -> set[str]:
    return set(DIRECTIVE.findall((DOCS / page).read_text()))


def test_every_public_engine_name_is_in_the_api_reference() -> None:
    engine = set(osfutures.__all__) - {"__version__", *osfutures._OPENSTACK}
    # Constants are documented where they are defined (osfutures.monitor.X), where
    # autodoc finds their #: comments; each must be the object exported.
    names = set()
    for path in documented("api.rst"):
        module, _, name = path.rpartition(".")
        if module != "osfutures":
            assert getattr(import_module(module), name) is getattr(osfutures, name, None), path
        names.add(name)
    # The errors page section is `automodule:: osfutures.errors` with :members:.
    assert ".. automodule:: osfutures.errors" in (DOCS / "api.rst").read_text()
    names |= set(osfutures.errors.__all__)
    # osfutures.resume is documented on its own page.
    names |= {"resume"} & {p.rpartition(".")[2] for p in documented("resume.rst")}
    missing = engine - names
    assert not missing, f"exported but not in docs/api.rst: {sorted(missing)}"
    unknown = names - engine
    assert not unknown, f"in docs/api.rst but not exported: {sorted(unknown)}"


def test_the_openstack_entry_points_are_in_the_openstack_page() -> None:
    names = documented("openstack.rst")
    for name in osfutures._OPENSTACK:
        assert f"osfutures.openstack.{name}" in names
        assert getattr(osfutures, name) is getattr(osfutures.openstack, name)


def test_every_error_is_exported_from_the_top() -> None:
    errors = osfutures.errors
    classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, BaseException)
        if value.__module__ == errors.__name__
    }
    assert classes == set(errors.__all__)
    assert classes <= set(osfutures.__all__), sorted(classes - set(osfutures.__all__))
