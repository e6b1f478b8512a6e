"""``.. twin-table::``: the table of OpenStack twins, read from the spec table itself.

Generated at build time from :data:`osfutures.openstack.specs.SPECS`, so the docs can
never disagree with the code. :func:`rows` computes the cells without Sphinx (the
tests compare them with the table); only :func:`setup` needs docutils.
"""

from __future__ import annotations

from typing import Any

from osfutures.openstack.specs import SPECS, OperationSpec

HEADERS = ("service", "twins", "resolves with", "success", "failure", "retry cleans up")
#: What a retry does first when a failed attempt leaves an object behind.
CLEANUP = "delete, wait until gone"


def success(spec: OperationSpec) -> str:
    """The "success" cell: the target states, "gone", or where the target comes from."""
    if spec.deletes:
        return "gone"
    if spec.target_from is not None:
        return "the state the provision action leads to"
    return ", ".join(sorted(spec.target))


def resolves_with(spec: OperationSpec) -> str:
    """The "resolves with" cell: the watched object, which the future's result is (an
    attachment's future resolves with the volume, a server image's with the image)."""
    return f"the {spec.kind.replace('_', ' ')}" + (", as last seen" if spec.deletes else "")


def cleanup(spec: OperationSpec) -> str:
    """The "retry cleans up" cell: what ``_async_r`` deletes after a failed attempt."""
    if spec.new_unless is not None:
        return (
            f"{CLEANUP} (the new {spec.kind}; nothing when {spec.new_unless} names an existing one)"
        )
    return CLEANUP if spec.creates else "-"


def row(spec: OperationSpec) -> tuple[str, ...]:
    """The cells of one spec's line, in the order of :data:`HEADERS`."""
    return (
        spec.service,
        f"{spec.call}_async / _async_r",
        resolves_with(spec),
        success(spec),
        ", ".join(sorted(spec.failure)) or "-",
        cleanup(spec),
    )


def rows() -> list[tuple[str, ...]]:
    """The table's lines, one per row of the spec table, in its order."""
    return [row(spec) for spec in SPECS]


def setup(app: Any) -> dict[str, Any]:
    from docutils import nodes
    from docutils.parsers.rst import Directive

    def line(cells: tuple[str, ...]) -> nodes.row:
        tr = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=text)
            tr += entry
        return tr

    class TwinTable(Directive):
        def run(self) -> list[nodes.Node]:
            table = nodes.table()
            group = nodes.tgroup(cols=len(HEADERS))
            table += group
            group.extend(nodes.colspec(colwidth=1) for _ in HEADERS)
            head = nodes.thead()
            body = nodes.tbody()
            group += head
            group += body
            head += line(HEADERS)
            for cells in rows():
                body += line(cells)
            return [table]

    app.add_directive("twin-table", TwinTable)
    return {"parallel_read_safe": True}
