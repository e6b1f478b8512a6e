"""``.. twin-table::``: the table of OpenStack twins, read from the spec table itself.

Generated at build time from :data:`osfutures.openstack.specs.SPECS`, so the docs can
never disagree with the code.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive

from osfutures.openstack.specs import SPECS, OperationSpec

HEADERS = ("service", "twins", "watches", "success", "failure", "retry cleans up")


def _row(spec: OperationSpec) -> tuple[str, ...]:
    if spec.deletes:
        success = "gone"
    elif spec.target_from is not None:
        success = "the state the provision action leads to"
    else:
        success = ", ".join(sorted(spec.target))
    return (
        spec.service,
        f"{spec.call}_async / _async_r",
        spec.kind,
        success,
        ", ".join(sorted(spec.failure)) or "-",
        "delete, wait until gone" if spec.cleanup else "-",
    )


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
        head += self._line(HEADERS)
        for spec in SPECS:
            body += self._line(_row(spec))
        return [table]

    @staticmethod
    def _line(cells: tuple[str, ...]) -> nodes.row:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=text)
            row += entry
        return row


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("twin-table", TwinTable)
    return {"parallel_read_safe": True}
