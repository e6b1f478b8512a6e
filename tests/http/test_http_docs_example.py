"""The example of docs/http.rst runs as written against a loopback service that
answers as the page says (only ``BASE`` changes), and prints what its comments say."""

from __future__ import annotations

import calendar
import contextlib
import io
import json
import re
import textwrap
import threading
from pathlib import Path

from loopback import Service, answer
from werkzeug.wrappers import Request, Response

PAGE = Path(__file__).resolve().parents[2] / "docs" / "http.rst"
CAPTION = "http_example.py"
BASE_LINE = 'BASE = "https://api.example.com"'


def example() -> str:
    """The page's python block captioned ``http_example.py``."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f":caption: {CAPTION}")
    body = []
    for line in lines[start + 1 :]:
        if line.strip() and not line.startswith("    "):
            break
        body.append(line)
    return textwrap.dedent("\n".join(body)).strip() + "\n"


def reports_service(service: Service) -> list[str | None]:
    """Serve POST /v1/reports: a 202 with an Operation-Location; the operation
    succeeds at its first poll, its resourceLocation the report: one row a day of
    the month. Returns the Authorization each status poll carried."""
    lock = threading.Lock()
    made: list[int] = []
    authorizations: list[str | None] = []

    def create(request: Request) -> Response:
        month = json.loads(request.get_data())["month"]
        with lock:
            made.append(1)
            number = len(made)
        year, mm = (int(part) for part in month.split("-"))
        rows = calendar.monthrange(year, mm)[1]

        def poll(request: Request) -> Response:
            authorizations.append(request.headers.get("Authorization"))
            body = {"status": "Succeeded", "resourceLocation": f"/v1/reports/{number}"}
            return answer(200, body)(request)

        service.on("GET", f"/v1/operations/{number}", poll)
        service.on("GET", f"/v1/reports/{number}", answer(200, {"month": month, "rows": rows}))
        headers = {"Operation-Location": f"/v1/operations/{number}"}
        return answer(202, {"status": "NotStarted"}, headers=headers)(request)

    service.on("POST", "/v1/reports", create)
    return authorizations


def test_the_example_runs_and_prints_what_it_says(service: Service) -> None:
    source = example()
    assert BASE_LINE in source
    authorizations = reports_service(service)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source.replace(BASE_LINE, f'BASE = "{service.base}"'), CAPTION, "exec"), {})
    expected = re.findall(r"^print\(.*#\s+(\S+)\s*$", source, re.MULTILINE)
    assert printed.getvalue().split() == expected == ["202", "31", "91"]
    # The first request's credentials went to its status URL; the others had none.
    assert authorizations.count("Bearer my-token") == 1
    assert len(authorizations) == 4
