"""FakeCloud against real Nova 34: one scripted sequence of compute calls, compared.

The FakeCloud half runs everywhere: it records FakeCloud's transcript and compares it
with ``golden/nova-34.json``, recorded from real Nova; every difference must be one of
the deliberate differences of :mod:`osfutures.testing.fakecloud.compute.differences`,
and each of those the differential can meet must still explain one.

With ``OSFUTURES_REALNOVA=/path/to/url.json`` (a running ``serve.py``, see
docs/fakecloud.rst), the live half runs the script against that Nova too and compares
the two fresh transcripts. ``scripts/nova-differential`` does the same from the command
line, and records the golden file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osfutures.testing.fakecloud.compute import differences

from . import harness

DOCS = Path(__file__).resolve().parents[2] / "docs" / "fakecloud.rst"


@pytest.fixture(scope="module")
def fake_transcript() -> Iterator[dict[str, Any]]:
    target = harness.OnFakeCloud()
    try:
        yield harness.record(target)
    finally:
        target.close()


def test_fakecloud_answers_as_the_golden_transcript_of_real_nova(
    fake_transcript: dict[str, Any],
) -> None:
    verdict = harness.judge(harness.compare(harness.load(), fake_transcript))
    assert not verdict.unexplained, verdict.report()
    assert not verdict.unused, f"deliberate differences that explain nothing: {verdict.unused}"


def test_fakecloud_transcripts_repeat(fake_transcript: dict[str, Any]) -> None:
    target = harness.OnFakeCloud()
    try:
        again = harness.record(target)
    finally:
        target.close()
    assert harness.compare(fake_transcript, again) == []


def test_the_golden_transcript_runs_the_current_script(fake_transcript: dict[str, Any]) -> None:
    golden = harness.load()
    assert golden["target"] == "nova"
    assert [s["step"] for s in golden["steps"]] == [s["step"] for s in fake_transcript["steps"]]


def test_the_docs_list_the_deliberate_differences() -> None:
    text = DOCS.read_text()
    start = text.index(".. nova-differences-start")
    end = text.index(".. nova-differences-end")
    bullets = re.split(r"\n\* ", "\n" + text[start:end].split("\n", 1)[1].strip())
    documented = [" ".join(b.split()) for b in bullets if b.strip()]
    assert documented == [" ".join(d.doc.split()) for d in differences.DELIBERATE]


def test_each_deliberate_difference_has_a_reason_and_a_unique_key() -> None:
    keys = [d.key for d in differences.DELIBERATE]
    assert len(keys) == len(set(keys))
    assert all(d.reason and d.doc for d in differences.DELIBERATE)
    assert all(t.reason for t in differences.TRANSIENT)


def test_a_difference_no_entry_explains_is_reported() -> None:
    nova = {"steps": [{"step": "x", "request": "GET /x", "status": 200, "headers": {},
                       "body": {"a": 1, "b": [1]}, "wording": {"m": "one"}}]}  # fmt: skip
    fake = {"steps": [{"step": "x", "request": "GET /x", "status": 404, "headers": {},
                       "body": {"a": 2, "c": 3, "b": [1]}, "wording": {"m": "two"}}]}  # fmt: skip
    found = harness.compare(nova, fake)
    assert {(d.path, d.kind) for d in found} == {
        ("status", "status"),
        ("body.a", "value"),
        ("body.c", "keys"),
        ("wording.m", "wording"),
    }
    verdict = harness.judge(found)
    assert len(verdict.unexplained) == 4 and not verdict.deliberate


def test_polls_are_compared_without_the_states_timing_alone_shows() -> None:
    nova = [["BUILD", "scheduling", "building", 0], ["BUILD", None, "building", 0],
            ["BUILD", "spawning", "building", 0], ["ACTIVE", None, "active", 0]]  # fmt: skip
    fake = [["BUILD", "scheduling", "building", 0], ["BUILD", None, "building", 0],
            ["BUILD", "networking", "building", 0], ["BUILD", "spawning", "building", 0],
            ["ACTIVE", None, "active", 0]]  # fmt: skip
    polls = [{"step": "build", "request": "poll a", "states": s} for s in (nova, fake)]
    assert harness.compare({"steps": polls[:1]}, {"steps": polls[1:]}) == []
    skipped = [s for s in fake if s[1] is not None or s[0] == "ACTIVE"]
    (missing,) = harness.compare({"steps": polls[:1]}, {"steps": [{**polls[1], "states": skipped}]})
    assert (missing.kind, missing.path) == ("states", "states")


@pytest.mark.skipif(
    not os.environ.get("OSFUTURES_REALNOVA"),
    reason="set OSFUTURES_REALNOVA to a running real Nova's url.json (docs/fakecloud.rst)",
)
def test_fakecloud_answers_as_a_running_real_nova(fake_transcript: dict[str, Any]) -> None:
    nova = harness.RealNova(os.environ["OSFUTURES_REALNOVA"])
    try:
        transcript = harness.record(nova)
    finally:
        nova.close()
    verdict = harness.judge(harness.compare(transcript, fake_transcript))
    assert not verdict.unexplained, verdict.report()
